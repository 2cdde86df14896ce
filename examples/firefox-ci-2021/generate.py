#!/usr/bin/env python3
"""Writes fleet.json: a healthy day of Firefox CI's AWS account in 2021-05, as
`aws ec2 describe-instances` prints it (plus checker's UserData extension), from the real
pools in pools/ and nothing invented but instance ids, addresses and times.

    python3 examples/firefox-ci-2021/generate.py

- Worker instances: two per pool, from its first and its last launch configuration, launched
  as worker-manager's aws.js provision() launched them at taskcluster 31887eba (2021-05-18):
  the launchConfig as it is, its five tags appended to the pool's TagSpecifications, user-data
  {...additionalUserData, rootUrl, workerPoolId, providerId, workerGroup, workerConfig}.
  EC2's answers for what the pool leaves out: a public IPv4 (the subnets map one on launch,
  see contracts/providers/worker-manager.json launchDefaults), IMDS defaults
  (optional, enabled, 1), spot lifecycle from InstanceMarketOptions.
- Golden (AMI-build) instances of OpenCloudConfig's image build (OpenCloudConfig 82eb83da
  ci/update-workertype.sh): key pair mozilla-taskcluster-worker-<workerType>, tag
  WorkerType=golden-<workerType>, a base Windows AMI, PowerShell user-data (not JSON; it holds
  a root password, which checker never keeps).

Ids and addresses come from hashes of fixed strings, so the file never churns.
"""
import base64
import glob
import hashlib
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT_URL = "https://firefox-ci-tc.services.mozilla.com"


def h(*parts, n=17):
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:n]


def ip(*parts):
    d = hashlib.sha256("/".join(parts).encode()).digest()
    return f"3.{d[0] % 250 + 1}.{d[1]}.{d[2] % 250 + 1}"


def b64(text):
    return base64.b64encode(text.encode()).decode()


def worker(pool, lc, n):
    launch = lc["launchConfig"]
    region = lc["region"]
    tags = []
    for spec in launch.get("TagSpecifications", []):
        if spec.get("ResourceType") == "instance":
            tags += spec.get("Tags", [])
    tags += [
        {"Key": "CreatedBy", "Value": f"taskcluster-wm-{pool['providerId']}"},
        {"Key": "Owner", "Value": pool["owner"]},
        {"Key": "ManagedBy", "Value": "taskcluster"},
        {"Key": "Name", "Value": pool["workerPoolId"]},
        {"Key": "WorkerPoolId", "Value": pool["workerPoolId"]},
    ]
    user_data = dict(lc.get("additionalUserData", {}))
    user_data.update({
        "rootUrl": ROOT_URL,
        "workerPoolId": pool["workerPoolId"],
        "providerId": pool["providerId"],
        "workerGroup": region,
        "workerConfig": lc.get("workerConfig", {}),
    })
    iid = "i-0" + h(pool["workerPoolId"], str(n))
    inst = {
        "InstanceId": iid,
        "ImageId": launch["ImageId"],
        "InstanceType": launch["InstanceType"],
        "LaunchTime": f"2021-05-18T0{n % 10}:1{n % 6}:00+00:00",
        "Placement": {"AvailabilityZone": launch["Placement"]["AvailabilityZone"], "GroupName": "", "Tenancy": "default"},
        "State": {"Code": 16, "Name": "running"},
        "SubnetId": launch["SubnetId"],
        "VpcId": "vpc-" + h(region, n=8),
        "PublicIpAddress": ip(iid),
        "SecurityGroups": [{"GroupId": g, "GroupName": g} for g in launch.get("SecurityGroupIds", [])],
        "MetadataOptions": {"State": "applied", "HttpTokens": "optional", "HttpPutResponseHopLimit": 1, "HttpEndpoint": "enabled"},
        "Tags": tags,
        "UserData": {"Value": b64(json.dumps(user_data, separators=(",", ":")))},
    }
    if launch.get("InstanceMarketOptions", {}).get("MarketType") == "spot":
        inst["InstanceLifecycle"] = "spot"
    if "KeyName" in launch:
        inst["KeyName"] = launch["KeyName"]
    return inst


def golden(worker_type, region, az):
    iid = "i-0" + h("golden", worker_type)
    return {
        "InstanceId": iid,
        "ImageId": "ami-0" + h("base-windows", worker_type),
        "InstanceType": "c5.4xlarge",
        "KeyName": f"mozilla-taskcluster-worker-{worker_type}",
        "LaunchTime": "2021-05-18T06:00:00+00:00",
        "Placement": {"AvailabilityZone": az, "GroupName": "", "Tenancy": "default"},
        "State": {"Code": 16, "Name": "running"},
        "SubnetId": "subnet-f94cb29f",
        "PublicIpAddress": ip(iid),
        "SecurityGroups": [{"GroupId": "sg-3bd7bf41", "GroupName": "rdp-only"}],
        "MetadataOptions": {"State": "applied", "HttpTokens": "optional", "HttpPutResponseHopLimit": 1, "HttpEndpoint": "enabled"},
        "Tags": [{"Key": "WorkerType", "Value": f"golden-{worker_type}"},
                 {"Key": "source", "Value": "https://github.com/mozilla-releng/OpenCloudConfig/commit/82eb83d"}],
        "UserData": {"Value": b64("<powershell>\n# OpenCloudConfig rundsc\n</powershell>\n<rootPassword>not-a-real-password</rootPassword>")},
    }


def main():
    reservations = []
    for f in sorted(glob.glob(os.path.join(HERE, "pools", "*.json"))):
        pool = json.load(open(f))
        lcs = pool["config"]["launchConfigs"]
        for n, lc in enumerate([lcs[0], lcs[-1]]):
            reservations.append({"Instances": [worker(pool, lc, n)]})
    for wt, region, az in [("gecko-t-win10-64", "us-west-2", "us-west-2a"), ("gecko-1-b-win2012", "us-west-2", "us-west-2b")]:
        reservations.append({"Instances": [golden(wt, region, az)]})
    with open(os.path.join(HERE, "fleet.json"), "w") as out:
        json.dump({"Reservations": reservations}, out, indent=2)
        out.write("\n")


if __name__ == "__main__":
    main()

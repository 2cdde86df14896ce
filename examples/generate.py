#!/usr/bin/env python3
"""Writes the example fleets, deterministically, from the facts in
shared/reference/taskcluster-fleet-history.md (key formats, tags, user-data fields,
worker types, regions). Re-run after changing it; the output is committed.

    python3 examples/generate.py

Everything is derived from hashes of fixed strings, so the files never churn.
"""
import base64
import hashlib
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
PREFIX = "aws-provisioner-v1-managed"
REGIONS = ["us-east-1", "us-east-2", "us-west-1", "us-west-2", "eu-central-1"]
WORKER_TYPES = {
    # worker type: (instance type, regions it runs in, instances per region)
    "gecko-t-win10-64": ("c4.2xlarge", REGIONS, 2),
    "gecko-t-win10-64-gpu": ("g3.4xlarge", ["us-east-1", "us-west-2", "eu-central-1"], 1),
    "gecko-t-win7-32": ("c4.2xlarge", REGIONS, 2),
    "gecko-t-win7-32-gpu": ("g3.4xlarge", ["us-east-1", "us-west-2"], 1),
    "gecko-1-b-win2012": ("c4.4xlarge", ["us-east-1", "us-west-1", "us-west-2"], 1),
    "gecko-2-b-win2012": ("c4.4xlarge", ["us-east-1", "us-west-2"], 1),
    "gecko-3-b-win2012": ("c4.4xlarge", ["us-east-1", "us-west-2", "eu-central-1"], 1),
}
# Golden (AMI-build) instances, as OpenCloudConfig's ci/update-workertype.sh launched them in
# February 2018 (mozilla-releng/OpenCloudConfig @ 96cf74baffb4861a0313ca24f8ef69199b6ca9a2,
# 2018-01-20): `aws ec2 run-instances` in us-west-2 (aws_region's default) with
# --key-name mozilla-taskcluster-worker-<workerType>, subnet-f94cb29f, sg-3bd7bf41, on demand, the
# instance type of the worker type's case (c4.2xlarge testers, c4.4xlarge builders), user-data
# that is a PowerShell script carrying <secrets> (not JSON) and
# --instance-initiated-shutdown-behavior stop (the build stops the instance when done); then
# `create-tags` WorkerType=golden-<workerType>, and nothing else: no Name, no Owner (lines
# 163-168). Older golden instances of the worker type are terminated, the newest kept (line 233).
# So a healthy account holds, per worker type built, the last build's instance (stopped) and,
# while a build runs, the running one.
GOLDEN = {
    # worker type: (instance type, a build running on the day)
    "gecko-t-win10-64": ("c4.2xlarge", True),
    "gecko-t-win7-32": ("c4.2xlarge", False),
    "gecko-1-b-win2012": ("c4.4xlarge", True),
}


def key_hash(public_key):
    """keyHash: first 7 hex chars of SHA-256 over "<algorithm> <base64-body>"."""
    return hashlib.sha256(public_key.encode()).hexdigest()[:7]


# The 2015-2018 provisioner key, and the universal key of 2018-02-13 (whose hash is the
# check value from ec2-manager's tests).
OLD_HASH = key_hash("ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDaws-provisioner-v1-2015")
UNIVERSAL_HASH = key_hash("ssh-rsa pubkeydata")
assert UNIVERSAL_HASH == "ffe27db"


def h(*parts, n=17):
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:n]


def b64(obj):
    return base64.b64encode(json.dumps(obj, separators=(",", ":")).encode()).decode()


def instance(iid, region, az_letter, itype, key, tags, user_data, launch, image, spot=True):
    inst = {
        "InstanceId": iid,
        "ImageId": image,
        "InstanceType": itype,
        "LaunchTime": launch,
        "Placement": {"AvailabilityZone": region + az_letter, "GroupName": "", "Tenancy": "default"},
        "State": {"Code": 16, "Name": "running"},
        "Architecture": "x86_64",
        "Platform": "windows",
        "Tags": [{"Key": k, "Value": v} for k, v in tags.items()],
        "UserData": {"Value": b64(user_data)} if user_data is not None else {},
    }
    if key is not None:
        inst["KeyName"] = key
    if spot:
        inst["InstanceLifecycle"] = "spot"
    return inst


def provisioner_fleet(day, key_for, owner):
    reservations = []
    for wt, (itype, regions, per_region) in WORKER_TYPES.items():
        for region in regions:
            image = "ami-" + h("ami", wt, region, n=8)
            for n in range(per_region):
                az = "abc"[n % 3]
                iid = "i-0" + h(day, wt, region, str(n), n=16)
                launch = f"{day}T0{n + 1}:{10 + len(wt)}:00.000Z"
                user_data = {
                    "data": {},
                    "capacity": 1,
                    "workerType": wt,
                    "provisionerId": "aws-provisioner-v1",
                    "region": region,
                    "availabilityZone": region + az,
                    "instanceType": itype,
                    "spotBid": 0.6,
                    "price": 0.6,
                    "launchSpecGenerated": launch.replace(".000Z", ".000Z"),
                    "lastModified": "2018-01-30T16:44:18.413Z",
                    "provisionerBaseUrl": "https://aws-provisioner.taskcluster.net/v1",
                    # A one-time secret: checker must never store or print it.
                    "securityToken": "tok-" + h("secret", day, iid, n=32),
                }
                tags = {"Name": wt, "Owner": owner, "WorkerType": f"{owner}/{wt}"}
                reservations.append({"Instances": [instance(iid, region, az, itype, key_for(wt), tags, user_data, launch, image)]})
    # Golden (AMI-build) instances: launched by OCC's AMI builds, not the provisioner (GOLDEN).
    for wt, (itype, building) in GOLDEN.items():
        tags = {"WorkerType": f"golden-{wt}"}
        builds = [("last", "2018-02-09T03:00:00.000Z", "stopped")]
        if building:
            builds.append(("now", f"{day}T03:00:00.000Z", "running"))
        for which, launch, state in builds:
            iid = "i-0" + h(day if which == "now" else "2018-02-09", "golden", wt, n=16)
            inst = instance(iid, "us-west-2", "b", itype, f"mozilla-taskcluster-worker-{wt}", tags, None, launch, "ami-" + h("base", wt, n=8), spot=False)
            # The PowerShell user-data with its <secrets> (made-up values): not JSON, so checker
            # keeps only that it is not, never its text.
            script = (
                "<powershell>\nInvoke-Expression (New-Object Net.WebClient).DownloadString("
                "'https://raw.githubusercontent.com/MozRelOps/OpenCloudConfig/master/userdata/rundsc.ps1')\n"
                "</powershell>\n<persist>true</persist>\n<secrets>\n"
                f"  <rootPassword>root-{h('root', iid, n=12)}</rootPassword>\n"
                f"  <workerPassword>worker-{h('worker', iid, n=12)}</workerPassword>\n</secrets>\n"
            )
            inst["UserData"] = {"Value": base64.b64encode(script.encode()).decode()}
            inst["SubnetId"] = "subnet-f94cb29f"
            inst["SecurityGroups"] = [{"GroupId": "sg-3bd7bf41", "GroupName": "sg-3bd7bf41"}]
            if state == "stopped":
                inst["State"] = {"Code": 80, "Name": "stopped"}
            reservations.append({"Instances": [inst]})
    return {"Reservations": reservations}


WM_POOLS = {
    # workerPoolId: (instance type, regions, key name or None)
    "gecko-t/win10-64": ("c5.2xlarge", ["us-east-1", "us-west-2"], None),
    "gecko-t/win10-64-gpu": ("g4dn.2xlarge", ["us-east-1"], None),
    "gecko-t/win7-32": ("c5.2xlarge", ["us-east-1", "us-west-2"], None),
    "gecko-1/b-win2012": ("c5.4xlarge", ["us-west-2"], None),
    "gecko-3/b-win2012": ("c5.4xlarge", ["us-east-1", "us-west-2"], None),
}


def statuses(fleet, now="2018-02-14T12:00:00Z"):
    """describe-instance-status output for a fleet: a few impaired instances, the rest ok.
    Two gecko-t-win10-64 workers impaired for hours, one gecko-t-win7-32 for 5 minutes (under
    the threshold), one golden instance (outside any cull contract)."""
    out = []
    impaired = {}
    by_name = {}
    running = {r["Instances"][0]["InstanceId"] for r in fleet["Reservations"] if r["Instances"][0]["State"]["Name"] == "running"}
    for r in fleet["Reservations"]:
        i = r["Instances"][0]
        name = next((t["Value"] for t in i.get("Tags", []) if t["Key"] in ("Name", "WorkerType")), "")
        by_name.setdefault(name, []).append(i["InstanceId"])
    for k, iid in enumerate(sorted(by_name["gecko-t-win10-64"])[:2]):
        impaired[iid] = ("instance", f"2018-02-14T0{8 + k}:00:00.000Z")
    impaired[sorted(by_name["gecko-t-win7-32"])[0]] = ("system", "2018-02-14T11:55:00.000Z")
    running_golden = [i for i in by_name["golden-gecko-t-win10-64"] if i in running]
    impaired[running_golden[0]] = ("instance", "2018-02-14T09:00:00.000Z")
    for r in fleet["Reservations"]:
        i = r["Instances"][0]
        # DescribeInstanceStatus reports running instances only (without IncludeAllInstances).
        if i["State"]["Name"] != "running":
            continue
        kind, since = impaired.get(i["InstanceId"], (None, None))
        def check(which):
            if kind == which:
                return {"Status": "impaired", "Details": [{"Name": "reachability", "Status": "failed", "ImpairedSince": since}]}
            return {"Status": "ok", "Details": [{"Name": "reachability", "Status": "passed"}]}
        out.append({"InstanceId": i["InstanceId"], "AvailabilityZone": i["Placement"]["AvailabilityZone"],
                    "InstanceState": {"Code": 16, "Name": "running"}, "InstanceStatus": check("instance"), "SystemStatus": check("system")})
    return {"InstanceStatuses": out}


def write(path, obj):
    with open(os.path.join(HERE, path), "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    write("taskcluster-2018/fleet-2018-02-12.json", provisioner_fleet("2018-02-12", lambda wt: f"{PREFIX}:{wt}:{OLD_HASH}", "aws-provisioner-v1-managed"))
    fleet14 = provisioner_fleet("2018-02-14", lambda wt: f"{PREFIX}:{UNIVERSAL_HASH}", "ec2-manager-production")
    write("taskcluster-2018/fleet-2018-02-14.json", fleet14)
    write("taskcluster-2018/status-2018-02-14.json", statuses(fleet14))
    write("taskcluster-2018/worker-types.json", list(WORKER_TYPES))

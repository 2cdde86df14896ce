"""Seeds moto's EC2 server with the equivalent of a recorded fleet (describe-instances JSON with
inline user-data), and writes that recorded fleet, restricted to the seeded regions, for the
offline check to compare against.

    python tests/moto/seed.py ENDPOINT FLEET.json OUT.json REGION [REGION...]

Key pairs are created first (moto refuses RunInstances with an unknown key), then one
RunInstances per instance with its key name, tags, user-data, type and zone.
"""
import base64
import json
import sys

import boto3


def run_instance(ec2, image, keys, inst):
    """Runs one recorded instance: its key pair (created once), type, zone, tags, user-data."""
    key = inst.get("KeyName")
    if key and key not in keys:
        ec2.create_key_pair(KeyName=key)
        keys.add(key)
    args = {
        "ImageId": image,
        "MinCount": 1,
        "MaxCount": 1,
        "InstanceType": inst["InstanceType"],
        "Placement": {"AvailabilityZone": inst["Placement"]["AvailabilityZone"]},
        "TagSpecifications": [{"ResourceType": "instance", "Tags": inst.get("Tags", [])}],
    }
    if key:
        args["KeyName"] = key
    user_data = inst.get("UserData", {}).get("Value")
    if user_data:
        args["UserData"] = base64.b64decode(user_data).decode()
    ec2.run_instances(**args)


def main():
    endpoint, fleet_path, out_path, *regions = sys.argv[1:]
    fleet = json.load(open(fleet_path))
    kept = []
    clients = {}
    for reservation in fleet["Reservations"]:
        for inst in reservation["Instances"]:
            az = inst["Placement"]["AvailabilityZone"]
            region = az[:-1]
            if region not in regions:
                continue
            kept.append(inst)
            if region not in clients:
                ec2 = boto3.client("ec2", region_name=region, endpoint_url=endpoint,
                                   aws_access_key_id="test", aws_secret_access_key="test")
                image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
                clients[region] = (ec2, image, set())
            ec2, image, keys = clients[region]
            run_instance(ec2, image, keys, inst)
    with open(out_path, "w") as f:
        # moto's default account owns what it runs, as OwnerId says in describe-instances.
        json.dump({"Reservations": [{"Instances": [i], "OwnerId": "123456789012"} for i in kept]}, f, indent=1)
    print(f"seeded {len(kept)} instances in {', '.join(sorted(clients))}")


if __name__ == "__main__":
    main()

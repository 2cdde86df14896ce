"""Seeds moto with a worker pool for the culling end-to-end test and prints the instance ids as
JSON: {"pool": [...], "impaired": {id: since}, "outside": id}.

    python tests/moto/seed_impaired.py ENDPOINT [SIZE IMPAIRED]

SIZE (10) instances of pool gecko-t/win10-64 in us-east-1 (tags ManagedBy=taskcluster,
Name=pool), IMPAIRED (3) of them impaired (instance status) since 2018-02-14T09:00, 10:00,
11:00... (every 5 minutes past the third); one more impaired instance outside the cull
contract's selector (Name=unrelated).
"""
import json
import sys

import boto3

endpoint = sys.argv[1]
ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=endpoint, aws_access_key_id="test", aws_secret_access_key="test")
image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]


def run(tags):
    r = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="c5.2xlarge",
                          Placement={"AvailabilityZone": "us-east-1a"},
                          TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}])
    return r["Instances"][0]["InstanceId"]


size = int(sys.argv[2]) if len(sys.argv) > 2 else 10
n_impaired = int(sys.argv[3]) if len(sys.argv) > 3 else 3
pool = []
impaired = {}
for k in range(size):
    tags = {"ManagedBy": "taskcluster", "Name": "gecko-t/win10-64"}
    if k < n_impaired:
        since = f"2018-02-14T{9 + k:02d}:00:00+00:00" if k < 3 else f"2018-02-14T08:{(k * 5) % 60:02d}:00+00:00"
        tags.update({"moto:impaired": "instance", "moto:impaired-since": since})
    iid = run(tags)
    pool.append(iid)
    if k < n_impaired:
        impaired[iid] = since
outside = run({"ManagedBy": "taskcluster", "Name": "unrelated", "moto:impaired": "both", "moto:impaired-since": "2018-02-14T08:00:00+00:00"})
print(json.dumps({"pool": pool, "impaired": impaired, "outside": outside}))

"""Seeds moto with two member accounts behind a hub account, for checker's many-account tests.

    python tests/moto/seed_accounts.py ENDPOINT FLEET.json OUT_PREFIX iam|org

moto maps the credentials sts:AssumeRole returns to the role's account, so each account has its
own EC2 (moto 5.2 `sts/models.py` `_create_access_key`).

`iam` mode: accounts 111111111111 and 222222222222 both run the fleet's us-east-1 instances.
The hub (123456789012) gets an IAM user `checker` allowed to assume only
`arn:aws:iam::111111111111:role/checker-audit`; that role exists in 111111111111 with
`ec2:Describe*`. Then IAM authorization is switched on (`/moto-api/reset-auth`), so assuming
222222222222's role is AccessDenied, as a missing trust or permission is on AWS. Prints the hub
user's key as JSON, and writes OUT_PREFIX-111111111111.json: the fleet as that account holds it.

`org` mode (authorization stays off): an organization with OU /Workers holding one account and
one account at the root, both running the fleet; prints {"workers": ID, "root": ID}, and writes
OUT_PREFIX-<ID>.json for each.
"""
import json
import os
import sys
import urllib.request

import boto3

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from seed import run_instance  # noqa: E402  (the same seeding as the single-account tests)

KEY = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}


def session_in(endpoint, account, role="checker-audit"):
    sts = boto3.client("sts", region_name="us-east-1", endpoint_url=endpoint, **KEY)
    c = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/{role}", RoleSessionName="seed")["Credentials"]
    return {
        "aws_access_key_id": c["AccessKeyId"],
        "aws_secret_access_key": c["SecretAccessKey"],
        "aws_session_token": c["SessionToken"],
    }


def run_fleet(endpoint, creds, fleet, account, out_prefix):
    """Runs the fleet's us-east-1 instances in the account; writes them as it holds them."""
    ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=endpoint, **creds)
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    keys, kept = set(), []
    for reservation in fleet["Reservations"]:
        for inst in reservation["Instances"]:
            az = inst["Placement"]["AvailabilityZone"]
            if not az.startswith("us-east-1"):
                continue
            kept.append(inst)
            run_instance(ec2, image, keys, inst)
    with open(f"{out_prefix}-{account}.json", "w") as f:
        json.dump({"Reservations": [{"Instances": [i], "OwnerId": account} for i in kept]}, f, indent=1)


def audit_role(endpoint, creds):
    iam = boto3.client("iam", region_name="us-east-1", endpoint_url=endpoint, **creds)
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
             "Principal": {"AWS": "arn:aws:iam::123456789012:root"}}]}
    iam.create_role(RoleName="checker-audit", AssumeRolePolicyDocument=json.dumps(trust))
    read = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["ec2:Describe*"], "Resource": "*"}]}
    iam.put_role_policy(RoleName="checker-audit", PolicyName="checker-read", PolicyDocument=json.dumps(read))


def iam_mode(endpoint, fleet, out_prefix):
    for account in ("111111111111", "222222222222"):
        creds = session_in(endpoint, account)
        run_fleet(endpoint, creds, fleet, account, out_prefix)
    audit_role(endpoint, session_in(endpoint, "111111111111"))
    iam = boto3.client("iam", region_name="us-east-1", endpoint_url=endpoint, **KEY)
    iam.create_user(UserName="checker")
    hub = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
           "Resource": "arn:aws:iam::111111111111:role/checker-audit"}]}
    iam.put_user_policy(UserName="checker", PolicyName="assume-audit", PolicyDocument=json.dumps(hub))
    key = iam.create_access_key(UserName="checker")["AccessKey"]
    urllib.request.urlopen(urllib.request.Request(
        f"{endpoint}/moto-api/reset-auth", data=b"0", method="POST",
        headers={"Content-Type": "application/octet-stream"}))
    print(json.dumps({"key": key["AccessKeyId"], "secret": key["SecretAccessKey"]}))


def org_mode(endpoint, fleet, out_prefix):
    org = boto3.client("organizations", region_name="us-east-1", endpoint_url=endpoint, **KEY)
    org.create_organization(FeatureSet="ALL")
    root = org.list_roots()["Roots"][0]["Id"]
    ou = org.create_organizational_unit(ParentId=root, Name="Workers")["OrganizationalUnit"]["Id"]
    ids = {}
    for name in ("workers", "root"):
        status = org.create_account(AccountName=name, Email=f"{name}@example.com")["CreateAccountStatus"]
        ids[name] = status["AccountId"]
    org.move_account(AccountId=ids["workers"], SourceParentId=root, DestinationParentId=ou)
    for account in ids.values():
        run_fleet(endpoint, session_in(endpoint, account), fleet, account, out_prefix)
    print(json.dumps(ids))


if __name__ == "__main__":
    endpoint, fleet_path, out_prefix, mode = sys.argv[1:]
    fleet = json.load(open(fleet_path))
    (iam_mode if mode == "iam" else org_mode)(endpoint, fleet, out_prefix)

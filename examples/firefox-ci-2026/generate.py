#!/usr/bin/env python3
"""Writes fleet-gce.json and fleet-azure.json: the instances worker-manager would have launched
from the real pools in pools/ (mozilla-releng/fxci-config a1b78fc6, unchanged), each in its
cloud's own CLI shape:

- fleet-gce.json: `gcloud compute instances list --format=json` (a JSON array of Compute Engine
  v1 Instance resources, https://cloud.google.com/compute/docs/reference/rest/v1/instances);
- fleet-azure.json: `az vm list --show-details -o json` (a JSON array of VirtualMachine models
  with their properties flattened, plus the --show-details fields powerState, publicIps,
  privateIps, fqdns, macAddresses; https://learn.microsoft.com/en-us/cli/azure/vm#az-vm-list).

What worker-manager puts on each instance follows taskcluster 9d59eb59 (docs/firefox-ci-2026.md):
services/worker-manager/src/providers/google.js provision() and
services/worker-manager/src/providers/azure/index.js (#deploymentTags, #buildCustomData, the ARM
template parameters). The parts no public source gives (GCP project ids, the worker service
account, instance and VM ids, IP addresses, times) are synthetic and marked so in README.md; IP
addresses are in the documentation ranges (RFC 5737), never someone's real address.

Deterministic: every varying value is a hash of fixed strings. Standard library only.

    python3 examples/firefox-ci-2026/generate.py
"""
import base64
import glob
import hashlib
import json
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT_URL = "https://firefox-ci-tc.services.mozilla.com"  # fxci-config a1b78fc6 environments.yml:18
INSTANCES_PER_POOL = 3
COMPUTE = "https://www.googleapis.com/compute/v1"
# Synthetic: Firefox CI's GCP project ids and worker service accounts are deployment config
# (the provider's `project` and `workerServiceAccountId`, google.js:17-26), not public.
GCP_PROJECTS = {"fxci-level1-gcp": "example-fxci-level1", "fxci-level3-gcp": "example-fxci-level3"}
CREATED = "2026-07-01T10:%02d:%02d.000-07:00"
AZURE_CREATED = "2026-07-01T17:%02d:%02d.0000000+00:00"


def digest(*parts):
    return hashlib.sha256("\x00".join(parts).encode()).digest()


def slug(*parts):
    """A lower-cased slugid.nice() as google.js:253 makes it: 22 characters [a-z0-9-]."""
    raw = base64.urlsafe_b64encode(digest("slug", *parts)).decode()[:22]
    s = raw.replace("_", "-").lower()
    # slugid.nice() starts with [A-Za-f] and ends with [AQgw] (taskcluster constants.yml:11)
    return "abcdef"[digest("first", *parts)[0] % 6] + s[1:21] + "aqgw"[digest("last", *parts)[0] % 4]


def nicer_id(*parts):
    """utils.js:24-26: three slugids, lower-cased, non-alphanumerics removed."""
    raw = base64.b32encode(digest("nicer", *parts) + digest("nicer2", *parts)).decode()
    return re.sub(r"[^a-z0-9]", "", raw.lower())


def big_id(*parts):
    return str(int.from_bytes(digest("id", *parts)[:8], "big") % 10**19).rjust(19, "1")


def uuid(*parts):
    h = digest("uuid", *parts).hex()
    return "%s-%s-4%s-a%s-%s" % (h[:8], h[8:12], h[13:16], h[17:20], h[20:32])


def doc_ip(*parts):
    d = digest("ip", *parts)
    net = ["192.0.2", "198.51.100", "203.0.113"][d[0] % 3]
    return "%s.%d" % (net, 1 + d[1] % 254)


def private_ip(prefix, *parts):
    d = digest("pip", *parts)
    return "%s.%d.%d" % (prefix, d[0], 2 + d[1] % 250)


def wm_label(value, lower=True):
    """google.js:260-263: /[^a-zA-Z0-9-]/g -> '-', lower-cased except created-by."""
    v = re.sub(r"[^a-zA-Z0-9-]", "-", value)
    return v.lower() if lower else v


def last(url):
    return url.rsplit("/", 1)[-1]


def gce_instance(pool, lc, n):
    pool_id, provider = pool["workerPoolId"], pool["providerId"]
    project = GCP_PROJECTS.get(provider, "example-" + provider)
    zone, machine = lc["zone"], last(lc["machineType"])
    zone_url = "%s/projects/%s/zones/%s" % (COMPUTE, project, zone)
    pool_name = re.sub(r"[/_]", "-", pool_id)[:38]  # google.js:252 (not lower-cased)
    name = "%s-%s" % (pool_name, slug(pool_id, zone, str(n)))
    labels = dict(lc.get("labels", {}))
    labels.update({  # google.js:259-265, merged over the pool's (295-298)
        "created-by": wm_label("taskcluster-wm-" + provider, lower=False),
        "managed-by": "taskcluster",
        "worker-pool-id": wm_label(pool_id),
        "owner": wm_label(pool["owner"]),
        "launch-config-id": lc["workerManager"]["launchConfigId"],
    })
    arm = machine.startswith(("t2a", "c4a"))
    nvme_boot = machine.startswith(("t2a", "c4a", "c4d", "c3", "c4-"))
    disks = []
    for i, d in enumerate(lc["disks"]):
        a = {"kind": "compute#attachedDisk", "type": d["type"], "mode": "READ_WRITE",
             "index": i, "boot": bool(d.get("boot", False)),
             "autoDelete": bool(d.get("autoDelete", False))}
        if d["type"] == "PERSISTENT":
            a["deviceName"] = "persistent-disk-%d" % i
            a["source"] = "%s/disks/%s" % (zone_url, name if a["boot"] else "%s-%d" % (name, i))
            a["interface"] = d.get("interface", "NVME" if nvme_boot else "SCSI")
            a["diskSizeGb"] = str(d["initializeParams"].get("diskSizeGb", 10))
            a["architecture"] = "ARM64" if arm else "X86_64"
        else:
            a["deviceName"] = "local-ssd-%d" % (i - 1)
            a["interface"] = d.get("interface", "SCSI")
            a["diskSizeGb"] = "375"
        disks.append(a)
    nat = {"kind": "compute#accessConfig", "type": "ONE_TO_ONE_NAT", "name": "External NAT",
           "natIP": doc_ip(pool_id, zone, str(n)), "networkTier": "PREMIUM"}
    nics = []
    for i, nic in enumerate(lc["networkInterfaces"]):
        configs = [dict(nat) for c in nic.get("accessConfigs", []) if c.get("type") == "ONE_TO_ONE_NAT"]
        nics.append({
            "kind": "compute#networkInterface", "name": "nic%d" % i,
            "network": "%s/projects/%s/global/networks/default" % (COMPUTE, project),
            "subnetwork": "%s/projects/%s/regions/%s/subnetworks/default" % (COMPUTE, project, lc["region"]),
            "networkIP": private_ip("10.128", pool_id, zone, str(n), str(i)),
            "accessConfigs": configs, "stackType": "IPV4_ONLY",
            "fingerprint": base64.b64encode(digest("nicfp", name)[:8]).decode(),
        })
    sched = lc.get("scheduling", {})
    scheduling = {"automaticRestart": False,  # google.js:319-322
                  "onHostMaintenance": sched.get("onHostMaintenance", "MIGRATE").upper(),
                  "preemptible": sched.get("provisioningModel") == "SPOT" or bool(sched.get("preemptible")),
                  "provisioningModel": sched.get("provisioningModel", "STANDARD")}
    if "instanceTerminationAction" in sched:
        scheduling["instanceTerminationAction"] = sched["instanceTerminationAction"]
    meta = list(lc.get("metadata", {}).get("items", []))
    meta.append({"key": "taskcluster", "value": json.dumps({  # google.js:323-338
        "workerPoolId": pool_id, "providerId": provider, "workerGroup": zone,
        "rootUrl": ROOT_URL, "workerConfig": lc.get("workerConfig", {})}, separators=(",", ":"))})
    minute = digest("t", name)[0] % 60
    inst = {
        "kind": "compute#instance",
        "id": big_id(name),
        "creationTimestamp": CREATED % (minute, n),
        "name": name,
        "description": lc.get("description") or pool.get("description", ""),
        "tags": {"fingerprint": "42WmSpB8rSM="},
        "machineType": "%s/machineTypes/%s" % (zone_url, machine),
        "status": "RUNNING",
        "zone": zone_url,
        "canIpForward": False,
        "networkInterfaces": nics,
        "disks": disks,
        "metadata": {"kind": "compute#metadata",
                     "fingerprint": base64.b64encode(digest("metafp", name)[:8]).decode(),
                     "items": meta},
        "serviceAccounts": [{  # google.js:301-318 (the account is synthetic)
            "email": "taskcluster-worker@%s.iam.gserviceaccount.com" % project,
            "scopes": ["https://www.googleapis.com/auth/cloud-platform"]}],
        "selfLink": "%s/instances/%s" % (zone_url, name),
        "scheduling": scheduling,
        "cpuPlatform": lc.get("minCpuPlatform") or ("Ampere Altra" if arm else "AMD Genoa"),
        "labels": labels,
        "labelFingerprint": base64.b64encode(digest("labelfp", name)[:8]).decode(),
        "startRestricted": False,
        "deletionProtection": False,
        "lastStartTimestamp": CREATED % (minute, n + 20),
        "satisfiesPzi": True,
    }
    if "minCpuPlatform" in lc:
        inst["minCpuPlatform"] = lc["minCpuPlatform"]
    if "guestAccelerators" in lc:
        inst["guestAccelerators"] = [
            {"acceleratorType": "%s/acceleratorTypes/%s" % (zone_url, last(g["acceleratorType"])),
             "acceleratorCount": g["acceleratorCount"]} for g in lc["guestAccelerators"]]
    if "advancedMachineFeatures" in lc:
        inst["advancedMachineFeatures"] = lc["advancedMachineFeatures"]
    return inst


def azure_vm(pool, lc, n):
    pool_id, provider = pool["workerPoolId"], pool["providerId"]
    params = {k: v.get("value") for k, v in lc["armDeployment"]["parameters"].items()}
    location = params["location"]  # index.js:644-647
    rg = lc.get("armDeploymentResourceGroup") or "rg-taskcluster-workers"
    sub = params["subnetId"].split("/")[2]
    vm_name = "vm-" + (nicer_id(pool_id, location, str(n)) + nicer_id("2", pool_id, location, str(n)))[:35]
    tags = dict(lc.get("tags", {}))
    tags.update({  # index.js:374-386
        "created-by": "taskcluster-wm-" + provider,
        "managed-by": "taskcluster",
        "provider-id": provider,
        "worker-group": location,
        "worker-pool-id": pool_id,
        "root-url": ROOT_URL,
        "owner": pool["owner"],
        "launch-config-id": lc["workerManager"]["launchConfigId"],
    })
    vm_id = "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/virtualMachines/%s" % (sub, rg, vm_name)
    image = params["imageId"]
    minute = digest("t", vm_name)[0] % 60
    return {
        "additionalCapabilities": None,
        "availabilitySet": None,
        "billingProfile": {"maxPrice": -1.0} if params.get("priority") == "Spot" else None,
        "diagnosticsProfile": None,
        "evictionPolicy": "Delete" if params.get("priority") == "Spot" else None,
        "extendedLocation": None,
        "hardwareProfile": {"vmSize": params["vmSize"]},
        "id": vm_id,
        "identity": None,
        "instanceView": None,
        "licenseType": None,
        "location": location,
        "name": vm_name,
        "networkProfile": {"networkInterfaces": [{
            "deleteOption": "Delete",
            "id": "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network/networkInterfaces/nic-%s" % (sub, rg, vm_name[3:27]),
            "primary": None, "resourceGroup": rg}]},
        "osProfile": {
            "adminPassword": None,  # never returned
            "adminUsername": nicer_id("admin", vm_name)[:20],  # utils.js:47-56
            "allowExtensionOperations": True,
            "computerName": nicer_id("computer", vm_name)[:15],  # index.js:419-422
            "customData": None,  # provisioning-only; not returned by the API
            "linuxConfiguration": None,
            "requireGuestProvisionSignal": True,
            "secrets": [],
            "windowsConfiguration": {"enableAutomaticUpdates": True, "provisionVmAgent": True, "timeZone": "UTC"},
        },
        "plan": None,
        "priority": params.get("priority"),
        "provisioningState": "Succeeded",
        "resourceGroup": rg,
        "storageProfile": {
            "dataDisks": [],
            "imageReference": {"communityGalleryImageId": None, "exactVersion": last(image) if "/versions/" in image else None,
                               "id": image, "offer": None, "publisher": None,
                               "sharedGalleryImageId": None, "sku": None, "version": None},
            "osDisk": {"caching": "ReadOnly", "createOption": "FromImage", "deleteOption": "Delete",
                       "managedDisk": None, "name": "%s_OsDisk_1_%s" % (vm_name, digest("disk", vm_name).hex()[:32]),
                       "osType": "Windows"},
        },
        "tags": tags,
        "timeCreated": AZURE_CREATED % (minute, n),
        "type": "Microsoft.Compute/virtualMachines",
        "userData": None,
        "virtualMachineScaleSet": None,
        "vmId": uuid(vm_name),
        "zones": None,
        # --show-details (-d) fields
        "powerState": "VM running",
        "publicIps": "",
        "privateIps": private_ip("10.0", vm_name),
        "fqdns": "",
        "macAddresses": "-".join("%02X" % b for b in digest("mac", vm_name)[:6]),
    }


def mutated(base, name, edit):
    inst = json.loads(json.dumps(base))
    edit(inst)
    return inst


def set_tc(field, value):
    def edit(inst):
        for item in inst["metadata"]["items"]:
            if item["key"] == "taskcluster":
                data = json.loads(item["value"])
                data[field] = value
                item["value"] = json.dumps(data, separators=(",", ":"))
    return edit


def scratch(interface, count):
    def edit(inst):
        keep = [d for d in inst["disks"] if d["type"] != "SCRATCH"]
        inst["disks"] = keep + [{
            "kind": "compute#attachedDisk", "type": "SCRATCH", "mode": "READ_WRITE",
            "index": len(keep) + i, "boot": False, "autoDelete": True,
            "deviceName": "local-ssd-%d" % i, "interface": interface, "diskSizeGb": "375"}
            for i in range(count)]
    return edit


def drop_tag(key):
    return lambda vm: vm["tags"].pop(key)


def set_tag(key, value):
    return lambda vm: vm["tags"].__setitem__(key, value)


def small(inst):
    """The test cases' instances, with the pool's workerConfig left out of the metadata (worker-runner
    ignores it, google/metadata.go:22-24) so that the cases stay readable."""
    set_tc("workerConfig", {})(inst)
    return inst


def test_cases(gce, azure):
    g = small(json.loads(json.dumps(gce[0])))  # comm-1/b-linux, 2 NVMe local SSDs
    a = azure[0]  # comm-1/b-win2022, a ronin_puppet image
    fuzz = [vm for vm in azure if vm["tags"]["worker-pool-id"].startswith("proj-fuzzing/")][0]
    no_nat = lambda i: i["networkInterfaces"][0].__setitem__("accessConfigs", [])
    no_meta = lambda i: i["metadata"].__setitem__("items", [])
    no_sa = lambda i: i.__setitem__("serviceAccounts", [])
    return [
        {"name": "the example GCE fleet is what worker-runner and the local-SSD set-up need",
         "fleet": "../../examples/firefox-ci-2026/fleet-gce.json",
         "expect": {"worker-runner-google": "pass", "gcp-local-ssd": "pass"}},
        {"name": "the example Azure fleet is what worker-runner and ronin_puppet need",
         "fleet": "../../examples/firefox-ci-2026/fleet-azure.json",
         "expect": {"worker-runner-azure": "pass", "ronin-puppet-azure": "pass"}},
        {"name": "without the taskcluster metadata item worker-runner cannot configure itself",
         "instances": [mutated(g, "no-meta", no_meta)],
         "expect": {"worker-runner-google": "fail", "gce-runner-reads-rooturl": "fail",
                    "gce-runner-reads-workerpoolid": "fail", "gce-runner-external-ip": "pass"}},
        {"name": "without an access config on NIC 0 there is no external IP and worker-runner stops",
         "instances": [mutated(g, "no-nat", no_nat)],
         "expect": {"worker-runner-google": "fail", "gce-runner-external-ip": "fail",
                    "gce-runner-reads-rooturl": "pass"}},
        {"name": "a worker group other than the instance's zone registers nothing",
         "instances": [mutated(g, "region", set_tc("workerGroup", "us-central1"))],
         "expect": {"gce-runner-worker-group-is-zone": "fail", "gce-runner-reads-workergroup": "pass"}},
        {"name": "a root URL ending with / is refused by worker-runner",
         "instances": [mutated(g, "slash", set_tc("rootUrl", ROOT_URL + "/"))],
         "expect": {"gce-runner-rooturl-no-trailing-slash": "fail", "gce-runner-reads-rooturl": "pass"}},
        {"name": "without a service account there is no identity token",
         "instances": [mutated(g, "no-sa", no_sa)],
         "expect": {"gce-runner-service-account": "fail"}},
        {"name": "SCSI local SSDs are not found by the set-up, which falls back to the boot disk",
         "instances": [mutated(g, "scsi", scratch("SCSI", 2))],
         "expect": {"local-ssd-nvme": "fail", "local-ssd-at-most-ten": "pass",
                    "worker-runner-google": "pass"}},
        {"name": "no local SSD is a design choice, not a finding",
         "instances": [mutated(g, "none", scratch("NVME", 0))],
         "expect": {"local-ssd-nvme": "not-applicable", "local-ssd-at-most-ten": "pass"}},
        {"name": "an eleventh local SSD is never used",
         "instances": [mutated(g, "eleven", scratch("NVME", 11))],
         "expect": {"local-ssd-nvme": "pass", "local-ssd-at-most-ten": "fail"}},
        {"name": "an Azure VM without worker-pool-id: worker-runner stops, ronin_puppet skips its drive mapping",
         "instances": [mutated(a, "no-pool", drop_tag("worker-pool-id"))],
         "expect": {"worker-runner-azure": "fail", "azure-runner-tag-worker-pool-id": "fail",
                    "azure-runner-tag-root-url": "pass", "ronin-worker-pool-id": "fail",
                    "ronin-managed-by-taskcluster": "pass"}},
        {"name": "an Azure VM the template left untagged is still worker-manager's (by its name): worker-runner cannot register, ronin_puppet waits forever",
         "instances": [mutated(a, "untagged", lambda vm: vm.__setitem__("tags", {}))],
         "expect": {"worker-runner-azure": "fail", "azure-runner-tag-root-url": "fail",
                    "azure-runner-tag-provider-id": "fail", "azure-runner-tag-worker-group": "fail",
                    "ronin-puppet-azure": "fail", "ronin-managed-by-taskcluster": "fail"}},
        {"name": "managed-by other than taskcluster: ronin_puppet never starts worker-runner",
         "instances": [mutated(a, "managed", set_tag("managed-by", "terraform"))],
         "expect": {"ronin-managed-by-taskcluster": "fail", "worker-runner-azure": "pass"}},
        {"name": "a worker-group tag other than the location registers nothing",
         "instances": [mutated(a, "group", set_tag("worker-group", "eastus"))],
         "expect": {"azure-runner-worker-group-is-location": "fail", "azure-runner-tag-worker-group": "pass"}},
        {"name": "a VM not named by worker-manager registers as a worker that does not exist",
         "instances": [mutated(a, "name", lambda vm: vm.__setitem__("name", "win2022-builder-01"))],
         "expect": {"azure-runner-vm-name-is-worker-id": "fail", "azure-runner-tag-root-url": "pass"}},
        {"name": "a Windows image that is not ronin_puppet's is not ronin_puppet's concern",
         "instances": [fuzz],
         "expect": {"ronin-puppet-azure": "not-selected", "worker-runner-azure": "pass"}},
    ]


def one_lc(path):
    pool = json.load(open(os.path.join(HERE, "pools", path)))
    pool["config"]["launchConfigs"] = pool["config"]["launchConfigs"][:1]
    return pool


def mutation(base, edit):
    pool = one_lc(base)
    lc = pool["config"]["launchConfigs"][0]
    edit(pool, lc)
    return pool


GCP_BASE, AZURE_BASE = "comm-1--b-linux.json", "comm-1--b-win2022.json"
TEMPLATE_LINK = "/subscriptions/108d46d5-fe9b-4850-9a7d-8c914aa6c1f0/resourceGroups/template-spec/providers/Microsoft.Resources/templateSpecs/%s/versions/%s"


def mutations():
    """One real launch configuration each, with one thing changed: the pools the gate's rules are
    about (issue 24, "Done when"). name -> (pool, what worker-manager and the consumers make of it)."""
    def scratch_labels(p, lc):
        [d for d in lc["disks"] if d["type"] == "SCRATCH"][0]["initializeParams"]["labels"] = {"team": "relops"}
    def many_tags(p, lc):
        lc["tags"].update({"extra-%02d" % i: "x" for i in range(50 - 8 - len(lc["tags"]) + 1)})
    def no_location(p, lc):
        # An empty value: azure-arm-templates.json requires the `location` parameter to exist
        # (a pool without it fails the schema before any rule), not to be non-empty.
        lc["armDeployment"]["parameters"]["location"] = {"value": ""}
    return {
        "gcp-no-external-ip": (
            mutation(GCP_BASE, lambda p, lc: lc.__setitem__("networkInterfaces", [{}])),
            "launches; worker-runner-google fails gce-runner-external-ip (verdict no)"),
        "gcp-own-taskcluster-metadata": (
            mutation(GCP_BASE, lambda p, lc: lc.__setitem__("metadata", {"items": [{"key": "taskcluster", "value": "{}"}]})),
            "launch refused: two metadata items named taskcluster (google.js:324-337; GCE: duplicate keys)"),
        "gcp-label-over-63": (
            mutation(GCP_BASE, lambda p, lc: p.__setitem__("workerPoolId", "translations-1-experimental-gpu-pools/b-linux-v100-gpu-d2g-4-300gb")),
            "launch refused: worker-pool-id label of 66 characters (google.js:262 does not cut; GCE caps label values at 63)"),
        "gcp-upper-case-pool-id": (
            mutation(GCP_BASE, lambda p, lc: p.__setitem__("workerPoolId", "Comm-1/b-linux")),
            "launch refused: instance name Comm-1-b-linux-... (google.js:252 does not lower-case; GCE names are [a-z]([-a-z0-9]*[a-z0-9])?); the label is lower-cased and fine"),
        "gcp-launch-config-id-upper-case": (
            mutation(GCP_BASE, lambda p, lc: lc["workerManager"].__setitem__("launchConfigId", "LC-comm-1-b-linux-1")),
            "launch refused: launch-config-id label with upper case (google.js:264 as it is)"),
        "gcp-labels-on-local-ssd": (
            mutation(GCP_BASE, scratch_labels),
            "launch refused: labels on a SCRATCH disk (google.js:270-272 keeps the pool's initializeParams.labels; taskcluster#6958)"),
        "gcp-scsi-local-ssd": (
            mutation(GCP_BASE, lambda p, lc: [d.__setitem__("interface", "SCSI") for d in lc["disks"] if d["type"] == "SCRATCH"]),
            "launches; gcp-local-ssd warns local-ssd-nvme (the set-up falls back to the boot disk)"),
        "gcp-pool-label-collides": (
            mutation(GCP_BASE, lambda p, lc: lc.__setitem__("labels", {"managed-by": "relops", "team": "releng"})),
            "launches, harmless: worker-manager's managed-by wins (google.js:295-298); verdict yes"),
        "azure-51-tags": (
            mutation(AZURE_BASE, many_tags),
            "launch refused: 51 tags after worker-manager's 8 (Azure: 50 per resource)"),
        "azure-tag-collides": (
            mutation(AZURE_BASE, lambda p, lc: lc["tags"].__setitem__("worker-pool-id", "someone/else")),
            "launches, harmless: worker-manager's worker-pool-id wins (index.js:375-384); verdict yes"),
        "azure-tag-collides-but-for-case": (
            mutation(AZURE_BASE, lambda p, lc: lc["tags"].__setitem__("Worker-Pool-Id", "someone/else")),
            "unknown: two tag names equal but for case; what Azure keeps is not documented and worker-runner compares case-sensitively"),
        "azure-tag-value-over-256": (
            mutation(AZURE_BASE, lambda p, lc: lc["tags"].__setitem__("sourceScript", "provisioners/windows/azure/" + "x" * 250 + ".ps1")),
            "launch refused: a tag value over 256 characters"),
        "azure-no-arm-location": (
            mutation(AZURE_BASE, no_location),
            "launch refused: armDeployment.parameters.location.value is empty (index.js:644-646 asserts it); without the parameter at all the config schema refuses the pool first"),
        "azure-unknown-template-spec": (
            mutation(AZURE_BASE, lambda p, lc: lc["armDeployment"]["templateLink"].__setitem__("id", TEMPLATE_LINK % ("someone-elses-template", "2.0"))),
            "unknown (exit 3): a template spec no provider manifest's armTemplates describes; worker-runner-azure's tags are unknown"),
    }


def main():
    gce, azure = [], []
    for path in sorted(glob.glob(os.path.join(HERE, "pools", "*.json"))):
        pool = json.load(open(path))
        lcs = pool["config"]["launchConfigs"][:INSTANCES_PER_POOL]
        for n in range(INSTANCES_PER_POOL):
            lc = lcs[n % len(lcs)]
            if "zone" in lc and "machineType" in lc:
                gce.append(gce_instance(pool, lc, n))
            elif "armDeployment" in lc:
                azure.append(azure_vm(pool, lc, n))
    for name, rows in (("fleet-gce.json", gce), ("fleet-azure.json", azure)):
        with open(os.path.join(HERE, name), "w") as f:
            json.dump(rows, f, indent=2, sort_keys=True)
            f.write("\n")
        print("%s: %d instances" % (name, len(rows)))
    tests = {
        "$schema": "../schema/test.schema.json",
        "kind": "test",
        "description": "Contract tests of the 2026 GCP and Azure contracts (contracts/providers/worker-manager-google.json, worker-manager-azure.json; contracts/consumers/worker-runner-google.json, worker-runner-azure.json, ronin-puppet-azure.json, gcp-local-ssd.json): the example fleets are clean, and each real dependency, broken on one instance, is found by the clause that names it. Instances are in the clouds' own shapes (gcloud Instance, az vm list -d); written by examples/firefox-ci-2026/generate.py. Run: checker test --contracts contracts",
        "cases": test_cases(gce, azure),
    }
    os.makedirs(os.path.join(HERE, "mutations"), exist_ok=True)
    index = []
    for name, (pool, expect) in sorted(mutations().items()):
        with open(os.path.join(HERE, "mutations", name + ".json"), "w") as f:
            json.dump(pool, f, indent=1)
            f.write("\n")
        index.append({"file": name + ".json", "workerPoolId": pool["workerPoolId"], "expect": expect})
    with open(os.path.join(HERE, "mutations", "index.json"), "w") as f:
        json.dump(index, f, indent=2)
        f.write("\n")
    print("mutations/: %d pools" % len(index))
    # Beside the contracts it tests, so `checker test --contracts contracts` runs it.
    with open(os.path.join(HERE, "..", "..", "contracts", "tests", "firefox-ci-2026.test.json"), "w") as f:
        json.dump(tests, f, indent=2)
        f.write("\n")
    print("contracts/tests/firefox-ci-2026.test.json: %d cases" % len(tests["cases"]))


if __name__ == "__main__":
    main()

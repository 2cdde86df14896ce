#!/usr/bin/env python3
"""Writes checker's built-in copies of the Taskcluster JSON Schemas the gate validates pools and
worker types against: their structure only (every `description` text removed), each naming its
source. Run from this folder with a folder of Taskcluster's rendered schemas (laid out as
<service>/v1/<name>.json, e.g. the `generated/references.json` of taskcluster/taskcluster
unpacked, or a deployment's /schemas/ mirrored):

    python3 refresh.py DIR COMMIT

Standard library only (YAML sources are read with PyYAML when present)."""
import json
import os
import sys

FILES = [
    "worker-manager/v1/create-worker-pool-request.json",
    "worker-manager/v1/worker-pool-full.json",
    "worker-manager/v1/worker-lifecycle.json",
    "worker-manager/v1/config-aws.json",
    "worker-manager/v1/config-google.json",
    "worker-manager/v1/config-azure.json",
    "worker-manager/v1/azure-arm-templates.json",
    "worker-manager/v1/azure-deployment-resources.json",
]


def strip(v):
    if isinstance(v, dict):
        return {k: strip(x) for k, x in v.items() if not (k == "description" and isinstance(x, str))}
    if isinstance(v, list):
        return [strip(x) for x in v]
    return v


def main():
    src, commit = sys.argv[1], sys.argv[2]
    here = os.path.dirname(os.path.abspath(__file__))
    for rel in FILES:
        with open(os.path.join(src, rel)) as f:
            v = json.load(f)
        v = strip(v)
        v["$comment"] = (
            f"Structure of taskcluster/taskcluster {commit} generated/references.json, "
            f"/schemas/{rel}; descriptions removed (checker/taskcluster-schemas/refresh.py)"
        )
        out = os.path.join(here, rel)
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with open(out, "w") as f:
            json.dump(v, f, indent=1, sort_keys=False)
            f.write("\n")


if __name__ == "__main__":
    main()

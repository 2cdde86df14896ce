"""Starts moto's EC2 server for checker's end-to-end tests (127.0.0.1 only).

    python tests/moto/server.py PORT

moto always reports running instances' status checks as `ok`. This launcher patches the server
process (and nothing else) so that an instance tagged `moto:impaired` = `instance`, `system` or
`both` reports that check as `impaired`, with ImpairedSince taken from the tag
`moto:impaired-since` (ISO 8601; default: the launch time).
"""
import datetime
import sys

from moto.ec2.models import instances as _instances
from moto.server import main


def _tag(instance, key):
    for tag in instance.get_tags():
        k = tag.get("key", tag.get("Key"))
        if k == key:
            return tag.get("value", tag.get("Value"))
    return None


def _since(instance):
    raw = _tag(instance, "moto:impaired-since")
    if raw:
        return datetime.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    return getattr(instance, "launch_time", None) or datetime.datetime.now(datetime.timezone.utc)


def _patch(which, original):
    def prop(self):
        mode = _tag(self, "moto:impaired")
        if self.state_code == 16 and mode in (which, "both"):
            return {
                "Status": "impaired",
                "Details": [{"Name": "reachability", "Status": "failed", "ImpairedSince": _since(self)}],
            }
        return original.fget(self)

    return property(prop)


_instances.Instance.instance_status = _patch("instance", _instances.Instance.instance_status)
_instances.Instance.system_status = _patch("system", _instances.Instance.system_status)

if __name__ == "__main__":
    port = sys.argv[1] if len(sys.argv) > 1 else "5000"
    main(["-H", "127.0.0.1", "-p", port])

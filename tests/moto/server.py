"""Starts moto's EC2 server for checker's end-to-end tests (127.0.0.1 only).

    python tests/moto/server.py PORT

moto always reports running instances as `ok`. For the culling tests this launcher patches the
server process so that an instance tagged `moto:impaired` = `instance`, `system` or `both`
reports that status check as `impaired` (ImpairedSince = the tag `moto:impaired-since`, or the
launch time). It changes nothing else.
"""
import sys

from moto.ec2.models import instances as _instances
from moto.server import main


def _tag(instance, key):
    for tag in instance.get_tags() if hasattr(instance, "get_tags") else []:
        if tag.get("key") == key:
            return tag.get("value")
    backend_tags = getattr(instance.ec2_backend, "tags", {}).get(instance.id, {})
    return backend_tags.get(key)


def _status(which):
    original = getattr(_instances.Instance, which, None)

    def prop(self):
        mode = _tag(self, "moto:impaired")
        if mode in (which.split("_")[0], "both"):
            return "impaired"
        if isinstance(original, property):
            return original.fget(self)
        return "ok"

    return property(prop)


_instances.Instance.moto_impaired_since = property(lambda self: _tag(self, "moto:impaired-since"))

if __name__ == "__main__":
    port = sys.argv[1] if len(sys.argv) > 1 else "5000"
    main(["-H", "127.0.0.1", "-p", port])

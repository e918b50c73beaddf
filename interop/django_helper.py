"""Drive a real Django for sessionkit's interop tests.

Reads a JSON list of commands on stdin, runs each against Django's own code
and prints a JSON list of results (one per command) on stdout. Run it with
Debian's /usr/bin/python3 (which sees python3-django), optionally with
PYTHONPATH pointing at another Django version.

Every command is an object with an "op" and its arguments; a result is an
object, with "error" holding the exception class name when Django raised.
"""
import json
import sys

import django
from django.conf import settings

settings.configure(
    SECRET_KEY="django_tests_secret_key",
    INSTALLED_APPS=[
        "django.contrib.contenttypes",
        "django.contrib.auth",
        "django.contrib.sessions",
    ],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    USE_TZ=True,
    TIME_ZONE="UTC",
)
django.setup()

from django.core import signing  # noqa: E402

HAS_FALLBACKS = django.VERSION >= (4, 1)


def data_of(cmd):
    """The session dict of a command: "data", or "data_json" (a JSON text,
    which keeps the key order the Go side chose)."""
    if "data_json" in cmd:
        return json.loads(cmd["data_json"])
    return cmd["data"]


def set_keys(cmd):
    settings.SECRET_KEY = cmd.get("secret", "django_tests_secret_key")
    if HAS_FALLBACKS:
        settings.SECRET_KEY_FALLBACKS = cmd.get("fallbacks", [])
    elif cmd.get("fallbacks"):
        raise RuntimeError("SECRET_KEY_FALLBACKS needs Django 4.1+")


def op_version(cmd):
    return {"version": django.get_version()}


def op_encode_session(cmd):
    """SessionStore.encode, as the db, file and cached_db engines store data."""
    set_keys(cmd)
    from django.contrib.sessions.backends.db import SessionStore

    return {"value": SessionStore().encode(data_of(cmd))}


def op_decode_session(cmd):
    """SessionStore.decode: {} on any failure, as Django does. Also reports
    whether signing.loads itself accepted the value."""
    set_keys(cmd)
    from django.contrib.sessions.backends.db import SessionStore

    store = SessionStore()
    result = {"data": store.decode(cmd["value"])}
    try:
        signing.loads(cmd["value"], salt=store.key_salt)
        result["valid"] = True
    except Exception as e:  # noqa: BLE001
        result["valid"] = False
        result["error"] = type(e).__name__
    return result


def op_dumps(cmd):
    set_keys(cmd)
    return {"value": signing.dumps(data_of(cmd), salt=cmd["salt"], compress=cmd.get("compress", False))}


def op_loads(cmd):
    set_keys(cmd)
    try:
        kwargs = {"salt": cmd["salt"]}
        if cmd.get("max_age") is not None:
            kwargs["max_age"] = cmd["max_age"]
        return {"data": signing.loads(cmd["value"], **kwargs)}
    except Exception as e:  # noqa: BLE001
        return {"error": type(e).__name__}


def op_cookie_session_load(cmd):
    """The signed_cookies engine loading a cookie value."""
    set_keys(cmd)
    from django.contrib.sessions.backends.signed_cookies import SessionStore

    s = SessionStore(session_key=cmd["value"])
    return {"data": dict(s.items()), "modified": s.modified}


def op_cookie_session_save(cmd):
    """The signed_cookies engine saving a session: the cookie value."""
    set_keys(cmd)
    from django.contrib.sessions.backends.signed_cookies import SessionStore

    s = SessionStore()
    s.update(data_of(cmd))
    s.save()
    return {"value": s.session_key}


OPS = {name[3:]: fn for name, fn in globals().items() if name.startswith("op_")}


def main():
    cmds = json.load(sys.stdin)
    out = []
    for cmd in cmds:
        fn = OPS.get(cmd.get("op"))
        if fn is None:
            out.append({"error": "UnknownOp"})
            continue
        try:
            out.append(fn(cmd))
        except Exception as e:  # noqa: BLE001
            out.append({"error": type(e).__name__, "message": str(e)})
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()

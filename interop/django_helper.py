"""Drive a real Django for sessionkit's interop tests.

Reads a JSON list of commands on stdin, runs each against Django's own code
and prints a JSON list of results (one per command) on stdout. With
--serve it stays up instead: one such list a line in, one list of results
a line out, until stdin closes. Run it with
Debian's /usr/bin/python3 (which sees python3-django), optionally with
PYTHONPATH pointing at another Django version.

The first command may be {"op": "configure", "settings": {...}}: those
settings are passed to settings.configure() over the defaults below (for
example DATABASES, CACHES, SESSION_ENGINE, SESSION_FILE_PATH). Every other
command is an object with an "op" and its arguments; a result is an object,
with "error" holding the exception class name when Django raised.
"""
import datetime
import json
import sys

import django
from django.conf import settings

from django_messages import *  # noqa: E402,F401,F403 (the messages_* commands)

DEFAULTS = dict(
    SECRET_KEY="django_tests_secret_key",
    INSTALLED_APPS=[
        "django.contrib.contenttypes",
        "django.contrib.auth",
        "django.contrib.sessions",
    ],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    USE_TZ=True,
    TIME_ZONE="UTC",
    PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
)


def data_of(cmd):
    """The session dict of a command: "data", or "data_json" (a JSON text,
    which keeps the key order the Go side chose)."""
    if "data_json" in cmd:
        return json.loads(cmd["data_json"])
    return cmd.get("data", {})


BASE_KEYS = {}


def set_keys(cmd):
    """Per-command SECRET_KEY / SECRET_KEY_FALLBACKS, else the configured ones."""
    if not BASE_KEYS:
        BASE_KEYS["secret"] = settings.SECRET_KEY
        BASE_KEYS["fallbacks"] = list(getattr(settings, "SECRET_KEY_FALLBACKS", []))
    settings.SECRET_KEY = cmd.get("secret", BASE_KEYS["secret"])
    fallbacks = cmd.get("fallbacks", BASE_KEYS["fallbacks"] if "secret" not in cmd else [])
    if django.VERSION >= (4, 1):
        settings.SECRET_KEY_FALLBACKS = fallbacks
    elif fallbacks:
        raise RuntimeError("SECRET_KEY_FALLBACKS needs Django 4.1+")


def store_class():
    from importlib import import_module

    return import_module(settings.SESSION_ENGINE).SessionStore


def jsonable(v):
    if isinstance(v, (datetime.datetime, datetime.date)):
        return v.isoformat()
    return v


def op_version(cmd):
    return {"version": django.get_version()}


def op_migrate(cmd):
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    return {"ok": True}


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
    from django.core import signing

    store = SessionStore()
    result = {"data": store.decode(cmd["value"])}
    try:
        signing.loads(cmd["value"], salt=store.key_salt)
        result["valid"] = True
    except Exception as e:  # noqa: BLE001
        result["valid"] = False
        result["error"] = type(e).__name__
    return result


def op_decode_session_json(cmd):
    """SessionStore.decode, then what Django read as its JSON serializer
    writes it (key order and escapes, lone surrogates included), to compare
    byte for byte."""
    set_keys(cmd)
    from django.contrib.sessions.backends.db import SessionStore
    from django.core import signing

    data = SessionStore().decode(cmd["value"])
    return {"json": signing.JSONSerializer().dumps(data).decode("latin-1")}


def op_dumps(cmd):
    set_keys(cmd)
    from django.core import signing

    return {"value": signing.dumps(data_of(cmd), salt=cmd["salt"], compress=cmd.get("compress", False))}


def op_loads(cmd):
    set_keys(cmd)
    from django.core import signing

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


def apply_expiry(s, cmd):
    if "expiry" in cmd:
        s.set_expiry(cmd["expiry"])
    if "expiry_at" in cmd:
        s.set_expiry(datetime.datetime.fromisoformat(cmd["expiry_at"]))


def describe(s, key):
    data = {k: jsonable(v) for k, v in s.items()}
    return {
        "data": data,
        "key": s.session_key,
        "exists": bool(key) and s.exists(key),
        "expiry_age": s.get_expiry_age(),
        "expire_at_browser_close": s.get_expire_at_browser_close(),
    }


def op_session_create(cmd):
    """The configured SESSION_ENGINE saves a new session: its key."""
    set_keys(cmd)
    s = store_class()()
    s.update(data_of(cmd))
    apply_expiry(s, cmd)
    s.save()
    return {"key": s.session_key}


def op_session_load(cmd):
    """The configured engine loads a session, as a request would."""
    set_keys(cmd)
    s = store_class()(session_key=cmd["key"])
    return describe(s, cmd["key"])


def op_session_update(cmd):
    """Load, change and save, as a request would (UpdateError if gone)."""
    set_keys(cmd)
    s = store_class()(session_key=cmd["key"])
    s.items()  # load, as a view reading the session would
    for k, v in cmd.get("set", {}).items():
        s[k] = v
    for k in cmd.get("delete", []):
        s.pop(k, None)
    apply_expiry(s, cmd)
    s.save()
    return {"key": s.session_key}


def op_session_delete(cmd):
    set_keys(cmd)
    store_class()().delete(cmd["key"])
    return {"ok": True}


def op_clear_expired(cmd):
    store_class().clear_expired()
    return {"ok": True}


def op_create_user(cmd):
    from django.contrib.auth import get_user_model

    User = get_user_model()
    u = User.objects.create_user(cmd["username"], password=cmd["password"])
    return {"id": str(u.pk), "password": u.password}


def op_set_password(cmd):
    from django.contrib.auth import get_user_model

    u = get_user_model().objects.get(pk=cmd["id"])
    u.set_password(cmd["password"])
    u.save()
    return {"password": u.password}


def request_with_session(key):
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    request.session = store_class()(session_key=key)
    return request


def op_login(cmd):
    """django.contrib.auth.login for a user, in a request carrying the
    session cookie value "key" (or none): the saved session's key."""
    set_keys(cmd)
    from django.contrib.auth import get_user_model, login

    request = request_with_session(cmd.get("key"))
    user = get_user_model().objects.get(pk=cmd["id"])
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    request.session.save()
    return {"key": request.session.session_key}


def op_get_user(cmd):
    """django.contrib.auth.get_user for a request carrying the session: who
    Django thinks is logged in."""
    set_keys(cmd)
    from django.contrib.auth import get_user

    request = request_with_session(cmd["key"])
    user = get_user(request)
    # get_user may cycle the key (fallback hash) or flush (stale hash);
    # save as the middleware would.
    if request.session.modified and not request.session.is_empty():
        request.session.save()
    return {
        "authenticated": bool(user.is_authenticated),
        "id": str(user.pk) if user.is_authenticated else None,
        "key": request.session.session_key,
    }


def op_logout(cmd):
    set_keys(cmd)
    from django.contrib.auth import logout

    request = request_with_session(cmd["key"])
    from django.contrib.auth.models import AnonymousUser

    request.user = AnonymousUser()
    logout(request)
    return {"ok": True}


OPS = {name[3:]: fn for name, fn in list(globals().items()) if name.startswith("op_")}


def configure(cmds):
    """settings.configure() with the defaults and a leading configure
    command's settings, then django.setup()."""
    conf = dict(DEFAULTS)
    if cmds and cmds[0].get("op") == "configure":
        conf.update(cmds[0].get("settings", {}))
    settings.configure(**conf)
    django.setup()


def run_all(cmds):
    """Run a batch of commands: one result each."""
    out = []
    for cmd in cmds:
        if cmd.get("op") == "configure":
            out.append({"ok": True})
            continue
        fn = OPS.get(cmd.get("op"))
        if fn is None:
            out.append({"error": "UnknownOp"})
            continue
        try:
            out.append(fn(cmd))
        except Exception as e:  # noqa: BLE001
            out.append({"error": type(e).__name__, "message": str(e)})
    return out


def main():
    if sys.argv[1:] == ["--serve"]:
        # One JSON batch a line in, one JSON list of results a line out,
        # until stdin closes; the first batch configures Django.
        first = True
        for line in sys.stdin:
            cmds = json.loads(line)
            if first:
                configure(cmds)
                first = False
            sys.stdout.write(json.dumps(run_all(cmds), default=str) + "\n")
            sys.stdout.flush()
        return
    cmds = json.load(sys.stdin)
    configure(cmds)
    json.dump(run_all(cmds), sys.stdout, default=str)


if __name__ == "__main__":
    main()

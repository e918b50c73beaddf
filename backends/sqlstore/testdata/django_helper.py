"""Runs Django's own db session engine against a database, for the interop
tests in django_test.go. Needs Debian's python3-django (and
python3-psycopg2 / python3-mysqldb for PostgreSQL / MariaDB).

usage: python3 django_helper.py '<DATABASES["default"] as JSON>' COMMAND [ARG]

  migrate            run the sessions app's migrations (creates django_session)
  write '<json>'     save a new session holding the JSON object; print its key
  read KEY           print the session's data as JSON ({} when Django finds none)
  clearsessions      run the clearsessions management command
"""
import json
import sys

import django
from django.conf import settings

settings.configure(
    SECRET_KEY="django_tests_secret_key",
    USE_TZ=True,
    INSTALLED_APPS=["django.contrib.sessions"],
    DATABASES={"default": json.loads(sys.argv[1])},
    SESSION_ENGINE="django.contrib.sessions.backends.db",
)
django.setup()

from django.contrib.sessions.backends.db import SessionStore  # noqa: E402
from django.core.management import call_command  # noqa: E402

command = sys.argv[2]
if command == "migrate":
    call_command("migrate", "sessions", verbosity=0)
elif command == "write":
    s = SessionStore()
    s.update(json.loads(sys.argv[3]))
    s.save()
    print(s.session_key)
elif command == "read":
    s = SessionStore(session_key=sys.argv[3])
    print(json.dumps(dict(s.items()), sort_keys=True))
elif command == "clearsessions":
    call_command("clearsessions")
else:
    sys.exit("unknown command " + command)

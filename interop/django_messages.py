"""django.contrib.messages commands for django_helper.py (imported by it;
every op_* here becomes a command). Django is imported inside the
functions: settings are configured only once the commands are read.

Messages use Django's SessionStorage, as a Go service sharing sessions
needs (Django's default FallbackStorage keeps short messages in a cookie).
A message is described as a JSON object: level, message, extra_tags (null
for None), safe (the text is SafeData), tags and level_tag.
"""


def _message_settings():
    from django.conf import settings

    settings.MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"


def _describe(m):
    from django.utils.safestring import SafeData

    return {
        "level": m.level,
        "message": str(m.message),
        "extra_tags": m.extra_tags,
        "safe": isinstance(m.message, SafeData),
        "tags": m.tags,
        "level_tag": m.level_tag,
    }


def _message(spec):
    """A Message from {"level", "message", "extra_tags"?, "safe"?};
    extra_tags absent means add_message's default ""."""
    from django.contrib.messages.storage.base import Message
    from django.utils.safestring import mark_safe

    text = mark_safe(spec["message"]) if spec.get("safe") else spec["message"]
    return Message(spec["level"], text, extra_tags=spec.get("extra_tags", ""))


def op_messages_view(cmd):
    """One request through Django's SessionMiddleware and MessageMiddleware,
    carrying the session cookie "key" (or none), whose view runs "steps" in
    order: {"add": message} (messages.add_message), {"get": true}
    (iterates get_messages(request): consumes), {"len": true} (len of the
    storage: does not consume), {"set_level": n} (messages.set_level).
    Returns the key after the response, what each get/len step saw, and
    the "_messages" value then stored (null if none)."""
    _message_settings()
    from importlib import import_module

    from django.conf import settings
    from django.contrib import messages
    from django.contrib.messages.middleware import MessageMiddleware
    from django.contrib.sessions.middleware import SessionMiddleware
    from django.http import HttpResponse
    from django.test import RequestFactory

    seen = []

    def view(request):
        for step in cmd.get("steps", []):
            if "add" in step:
                spec = step["add"]
                m = _message(spec)
                kwargs = {} if "extra_tags" not in spec else {"extra_tags": spec["extra_tags"]}
                messages.add_message(request, m.level, m.message, **kwargs)
            elif step.get("get"):
                seen.append([_describe(m) for m in messages.get_messages(request)])
            elif step.get("len"):
                seen.append(len(messages.get_messages(request)))
            elif "set_level" in step:
                messages.set_level(request, step["set_level"])
        return HttpResponse("ok")

    factory = RequestFactory()
    if cmd.get("key"):
        factory.cookies[settings.SESSION_COOKIE_NAME] = cmd["key"]
    request = factory.get("/")
    response = SessionMiddleware(MessageMiddleware(view))(request)
    key = cmd.get("key")
    cookie = response.cookies.get(settings.SESSION_COOKIE_NAME)
    if cookie is not None:
        key = cookie.value or None
    stored = None
    if key:
        store = import_module(settings.SESSION_ENGINE).SessionStore(session_key=key)
        stored = store.get("_messages")
    return {"key": key, "seen": seen, "stored": stored}


def op_messages_serialize(cmd):
    """SessionStorage.serialize_messages of "messages": the stored text."""
    _message_settings()
    from django.contrib.messages.storage.session import SessionStorage
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    request.session = {}
    storage = SessionStorage(request)
    return {"value": storage.serialize_messages([_message(m) for m in cmd["messages"]])}


def op_messages_deserialize(cmd):
    """SessionStorage.deserialize_messages of "value"."""
    _message_settings()
    from django.contrib.messages.storage.session import SessionStorage
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    request.session = {}
    storage = SessionStorage(request)
    return {"messages": [_describe(m) for m in storage.deserialize_messages(cmd["value"])]}

"""Whether a request to `/slack/events` is one Slack sent, judged on its raw bytes before anything
parses them; then its body as the JSON object Bolt is allowed to see.

The signature is checked here rather than by Bolt or slack_sdk's SignatureVerifier: both raise on
a non-numeric timestamp, a body that is not UTF-8 or a non-ASCII signature (an exception that then
reached the error handler, which answered whoever the unsigned body named), and Bolt logs the body
of a request that fails. Every way a request can fail here is a `Refusal` with a short, fixed
reason that never quotes the request.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

# Slack's biggest payloads (a view submission echoing a 100-block modal, a click on a long
# message) stay far below this; anything larger is refused while it is still being read.
MAX_BODY_BYTES = 256 * 1024
# Slack's own rule: a request signed more than five minutes ago (or ahead) may be a replay.
MAX_AGE_SECONDS = 5 * 60
# Slack's payloads nest about ten levels deep (rich text in a clicked message); far deeper
# nesting is an attack on whatever walks the structure later.
MAX_DEPTH = 64

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"

_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")
_ESCAPED_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE_PAIR = re.compile(r"\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}")


@dataclass(frozen=True)
class Refusal(Exception):
    """The request is not processed: answered with `status`, logged with `reason` only."""

    status: int
    reason: str


def fresh_signature(timestamp: str | None, signature: str | None, *, now: float) -> tuple[str, str]:
    """The request's timestamp and signature headers, refused before the body is read when they
    cannot be Slack's: missing, malformed, or a timestamp outside the five-minute window."""
    if not timestamp or not signature:
        raise Refusal(401, "unsigned")
    if not _TIMESTAMP.fullmatch(timestamp):
        raise Refusal(401, "malformed timestamp")
    if abs(now - int(timestamp)) > MAX_AGE_SECONDS:
        raise Refusal(401, "stale timestamp")
    if not _SIGNATURE.fullmatch(signature):
        raise Refusal(401, "malformed signature")
    return timestamp, signature


def check_signature(body: bytes, timestamp: str, signature: str, *, secret: str) -> None:
    """Slack's v0 signature: HMAC-SHA256 of `v0:{timestamp}:{body}`, compared in constant time.

    `timestamp` and `signature` come from `fresh_signature`, which guarantees they are ASCII.
    """
    base = b"v0:" + timestamp.encode() + b":" + body
    expected = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        raise Refusal(401, "bad signature")


@dataclass(frozen=True)
class Payload:
    """A verified body's JSON object, and a JSON text that reads back as exactly that object:
    what Bolt is given to read (the body's own text when it was JSON, so nothing is encoded
    again)."""

    value: dict[str, Any]
    json_text: str


def parse_body(body: bytes, content_type: str | None) -> Payload:
    """The JSON object a verified body carries: an Events API body, an interaction's `payload`
    field, or a slash command's form. Anything else is a 400 (415 for another media type)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refusal(400, "body is not UTF-8") from None
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type == JSON:
        json_text: str | None = text
        parsed = _json(text)
    elif media_type == FORM:
        form = _form(body, text)
        json_text = form.get("payload")
        parsed = form if json_text is None else _json(json_text)
    else:
        raise Refusal(415, "unsupported content type")
    if not isinstance(parsed, dict):
        raise Refusal(400, "payload is not a JSON object")
    if _too_deep(parsed):
        raise Refusal(400, "payload nested too deeply")
    if json_text is None:  # a slash command's form: decoded strictly, it holds no surrogate
        return Payload(parsed, json.dumps(parsed))
    if _lone_surrogate(json_text):
        raise Refusal(400, "payload holds a lone surrogate")
    return Payload(parsed, json_text)


def _form(body: bytes, text: str) -> dict[str, str]:
    try:
        fields = _plain_form(body)
        if fields is None:
            fields = parse_qsl(text, keep_blank_values=True, strict_parsing=True, errors="strict")
    except (ValueError, UnicodeDecodeError):
        raise Refusal(400, "malformed form") from None
    form = dict(fields)
    if len(form) != len(fields):
        raise Refusal(400, "repeated form field")
    return form


_BAD_ESCAPE = re.compile(rb"%(?![0-9A-Fa-f]{2})")
_AS_QUOTED_PRINTABLE = bytes.maketrans(b"%+", b"= ")


def _plain_form(body: bytes) -> list[tuple[str, str]] | None:
    """The form's fields as `parse_qsl` (strict, blank values kept) gives them, decoded in C:
    urllib unquotes in Python, escape by escape, which cost a click's payload (a JSON text of
    thousands of escapes) a twentieth of its CPU. None when a field is not plain (then urllib
    decides); UnicodeDecodeError as urllib raises it."""
    fields = []
    for field in body.split(b"&"):
        name, equals, value = field.partition(b"=")
        if not equals or not (_plain(name) and _plain(value)):
            return None
        fields.append((_decode(name), _decode(value)))
    return fields


def _plain(field: bytes) -> bool:
    """A field urllib decodes as `_decode` does: every % starts an escape (in quoted-printable
    a broken one may be a soft line break), and no = of its own starts one."""
    return b"=" not in field and _BAD_ESCAPE.search(field) is None


def _decode(field: bytes) -> str:
    """A plain field unquoted: quoted-printable's =XX is a form's %XX, and + is a space."""
    return binascii.a2b_qp(field.translate(_AS_QUOTED_PRINTABLE)).decode("utf-8")


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # also numbers past Python's 4,300-digit limit
        raise Refusal(400, "malformed JSON") from None


def _too_deep(payload: dict[str, Any]) -> bool:
    """Whether a value lies deeper than MAX_DEPTH (the payload itself at depth 1), looked for
    a level at a time without recursion: the containers' values are gathered in C, and only
    the containers among them are looked into."""
    level: list[Any] = [payload]
    for _ in range(MAX_DEPTH - 1):
        values: list[Any] = []
        for container in level:
            values.extend(container.values() if isinstance(container, dict) else container)
        level = [value for value in values if isinstance(value, (dict, list))]
        if not level:
            return False
    return any(level)  # a value in a container at MAX_DEPTH lies one level deeper


def _lone_surrogate(json_text: str) -> bool:
    """Whether valid JSON text escapes a lone surrogate (valid JSON, but not text that can be
    stored or sent on), judged on the text in C rather than on every string parsed from it.

    Text decoded strictly as UTF-8 holds no surrogate: only an escape can make one. Once each
    escaped backslash is blotted out (by a character that keeps the escapes on either side
    apart), every backslash left starts an escape; the decoder joins a high surrogate's escape
    to a low one's right after it, as the pattern finds them from the left; any surrogate
    escape left over decodes alone."""
    if _ESCAPED_SURROGATE.search(json_text) is None:
        return False
    unpaired = _SURROGATE_PAIR.sub("", json_text.replace("\\\\", "_"))
    return _ESCAPED_SURROGATE.search(unpaired) is not None

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
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_ESCAPED_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")


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


def parse_body(body: bytes, content_type: str | None) -> dict[str, Any]:
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
    # Text decoded strictly as UTF-8 holds no surrogate: only a JSON escape can make one.
    escaped = json_text is not None and _ESCAPED_SURROGATE.search(json_text) is not None
    _check_values(parsed, surrogates=escaped)
    return parsed


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


def _check_values(payload: dict[str, Any], *, surrogates: bool) -> None:
    """Refuse nesting deeper than MAX_DEPTH and, when the text may hold them, lone surrogates
    (valid JSON, but not text that can be stored or sent on), walking without recursion."""
    pending: list[tuple[Any, int]] = [(payload, 1)]
    while pending:
        value, depth = pending.pop()
        if depth > MAX_DEPTH:
            raise Refusal(400, "payload nested too deeply")
        if isinstance(value, dict):
            if surrogates:
                pending.extend((key, depth) for key in value)
            pending.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list):
            pending.extend((item, depth + 1) for item in value)
        elif surrogates and isinstance(value, str) and _SURROGATE.search(value):
            raise Refusal(400, "payload holds a lone surrogate")

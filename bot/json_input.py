"""Untrusted JSON text into Python values: what the parser cannot take becomes a field error.

Python's json module recurses once per nesting level (20,000 levels raise RecursionError) and
refuses integers past 4,300 digits with a bare ValueError. Nothing Baton accepts comes close;
when the parser gives up on one of those, a scan of the text names the field that holds it.
What is left for the parser to refuse is broken syntax.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

from bot.errors import BatonError, InvalidInput

# A lead is an object holding a list of objects: three levels. A value nested deeper than this
# is what the scan names.
MAX_DEPTH = 32

# A whole string literal, one structural character, a number, or the quote that opens a string
# never closed.
_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[{}\[\],]|-?[0-9][0-9.eE+-]*|"', re.DOTALL)


class BrokenJson(BatonError):
    """The text is not JSON at all (bad syntax or not UTF-8); the message says where."""


def parse(body: bytes | str) -> Any:
    """The JSON value in `body`; InvalidInput names the field past a limit, BrokenJson the rest."""
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
    except UnicodeDecodeError as error:
        raise BrokenJson(f"the body is not UTF-8 (byte {error.start})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise BrokenJson(
            f"the body is not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})"
        ) from None
    except (RecursionError, ValueError):  # too deep, or an integer past Python's digit limit
        raise InvalidInput(_locate_excess(text)) from None


def field_name(path: list[str | int]) -> str:
    """A path into the value as the API names fields (`activities.0.detail`), safe to echo."""
    if not path:
        return "body"
    name = ".".join(str(part) for part in path)
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: shown as its escape, which any encoder takes
        return name.encode("ascii", "backslashreplace").decode("ascii")
    return name


def _locate_excess(text: str) -> dict[str, str]:
    """Walk the tokens once, tracking the path to each value, to name the field holding what
    the parser could not take (without building anything, so the walk cannot overflow)."""
    digits = sys.get_int_max_str_digits()
    path: list[str | int] = []  # per open container: the current key, or the current index
    in_object: list[bool] = []
    expecting_key = False
    for match in _TOKEN.finditer(text):
        token = match.group()
        first = token[0]
        if first in "{[":
            if len(in_object) == MAX_DEPTH:  # named by its top-level field, if it has one
                top = path[:1] if in_object[0] else []
                return {field_name(top): f"nests deeper than {MAX_DEPTH} levels"}
            in_object.append(first == "{")
            path.append("" if first == "{" else 0)
            expecting_key = first == "{"
        elif first in "}]":
            if in_object:
                in_object.pop()
                path.pop()
            expecting_key = False
        elif first == ",":
            if in_object and not in_object[-1]:
                path[-1] = int(path[-1]) + 1
            expecting_key = bool(in_object) and in_object[-1]
        elif first == '"':
            if len(token) == 1:
                break  # a string never closed: nothing more to read reliably
            if expecting_key:
                path[-1] = _key(token)
                expecting_key = False
        elif token.lstrip("-").isdigit() and len(token.lstrip("-")) > digits:
            return {field_name(path): f"is a number longer than {digits} digits"}
    return {"body": "nests too deeply or holds too long a number"}


def _key(literal: str) -> str:
    try:
        return str(json.loads(literal))
    except json.JSONDecodeError:
        return literal[1:-1]  # a bad escape: the parser refuses the body anyway

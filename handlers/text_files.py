"""Text files users hand Baton (CSV imports, baton.toml, .env): UTF-8 or a one-line refusal.

The whole file is decoded before anything acts on it, so a stray byte deep in a file stops the
work before it starts, with the line to fix, instead of halfway through with a traceback.
"""

from __future__ import annotations

import codecs

from bot.errors import BatonError

_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)  # UTF-32's marks begin the same way
_ADVICE = "save the file as UTF-8"


class UnreadableFile(BatonError):
    """The file as a whole cannot be used; `line` (1-based) is where the problem is."""

    def __init__(self, line: int, problem: str) -> None:
        super().__init__(f"line {line}: {problem}")
        self.line = line
        self.problem = problem


def decode_utf8(data: bytes) -> str:
    """The file's text; a UTF-8 byte order mark (as Excel writes) is dropped.

    NUL is refused too: UTF-16 text without a byte order mark decodes as UTF-8 with a NUL
    beside every ASCII character, and no setting or lead field may hold one.
    """
    if data.startswith(_UTF16_BOMS):
        raise UnreadableFile(1, f"the file is UTF-16, not UTF-8; {_ADVICE}")
    data = data.removeprefix(codecs.BOM_UTF8)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        before = data[: error.start].decode("utf-8")
        problem = f"byte 0x{data[error.start]:02X} is not UTF-8; {_ADVICE}"
        raise UnreadableFile(_line_at(before), problem) from None
    nul = text.find("\0")
    if nul >= 0:
        problem = f"a NUL character: is the file UTF-16 or binary? {_ADVICE}"
        raise UnreadableFile(_line_at(text[:nul]), problem)
    return text


def printable(text: str) -> str:
    """`text` fit for one line of a terminal: line breaks, tabs, escape sequences and other
    characters that do not print are shown as Python escapes (a name typed in a file can hold
    any of them)."""
    return "".join(char if char.isprintable() else ascii(char)[1:-1] for char in text)


def _line_at(before: str) -> int:
    """The line number of the character that follows `before`: \\n, \\r\\n and a lone \\r end a
    line, as for Python's csv module and text files opened with universal newlines."""
    return before.count("\n") + before.count("\r") - before.count("\r\n") + 1

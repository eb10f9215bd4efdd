"""What Slack's client does to a typed slash command before the app sees it: with the command's
`should_escape` on (Baton's manifest sets it), `@name` and `#channel` become `<@U…|name>` and
`<#C…|channel>`, so the app gets ids, not names people may change."""

import re
from collections.abc import Mapping

# A name after `@` or `#` at the start or after a space, as Slack's autocomplete would take it.
_REFERENCE = re.compile(r"(?<!\S)([@#])([a-z0-9](?:[a-z0-9._-]*[a-z0-9])?)", re.IGNORECASE)


def escape_references(text: str, users: Mapping[str, str], channels: Mapping[str, str]) -> str:
    """`text` with each `@name` of `users` and `#name` of `channels` (name → id) escaped;
    an unknown name stays as typed, as in Slack."""

    def escaped(match: re.Match[str]) -> str:
        sigil, name = match.groups()
        known = users if sigil == "@" else channels
        found = known.get(name.lower())
        return match.group(0) if found is None else f"<{sigil}{found}|{name.lower()}>"

    return _REFERENCE.sub(escaped, text)

"""How a validation error reads to people: the rules file, the settings and the intake API word
pydantic's complaints one way, each led by where the problem is."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import ValidationError


@dataclass(frozen=True)
class Problem:
    """One complaint: where (the keys and list positions leading to it) and what is wrong."""

    location: tuple[int | str, ...]
    message: str

    @property
    def key_path(self) -> str:
        """The place as a TOML reader writes it, e.g. `sla[0].claim` (the first [[sla]]'s)."""
        return "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}" for part in self.location
        ).lstrip(".")


def problems(error: ValidationError, *, wording: Mapping[str, str]) -> list[Problem]:
    """Every complaint, without pydantic's "Value error, " prefix (our validators' messages are
    whole sentences); `wording` replaces pydantic's message for an error type, e.g. the
    "extra_forbidden" of a key the model does not know."""
    return [
        Problem(
            tuple(problem["loc"]),
            wording.get(problem["type"], problem["msg"].removeprefix("Value error, ")),
        )
        for problem in error.errors()
    ]


def one_line(error: ValidationError) -> str:
    """All the complaints about settings on one line, each led by its key path."""
    return "; ".join(
        f"{problem.key_path}: {problem.message}" if problem.location else problem.message
        for problem in problems(error, wording={"extra_forbidden": "unknown setting"})
    )

"""`baton demo`: each person is welcomed with three things to try in their role, and its options
refuse what would make no sense."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.rules import Roles, Rules
from handlers.demo_welcome import cast, welcome_text
from slack_emulator import MANAGER, MARKETER, REP_1, Workspace
from tests.handlers.test_cli import baton

PEOPLE = {person.id: person for person in Workspace().users}
RULES = Rules(roles=Roles(managers=[MANAGER], marketers=[MARKETER]))


@pytest.mark.parametrize(
    ("who", "role", "tried"),
    [
        (REP_1, "a sales rep", "Press *Accept*"),
        (MANAGER, "the sales manager", "`/leads assign 3 @bob`"),
        (MARKETER, "the marketer", "*Send the digest now*"),
    ],
)
def test_each_role_is_welcomed_with_three_things_to_try(who: str, role: str, tried: str) -> None:
    text = welcome_text(PEOPLE[who], RULES, speed=1, cast_line=cast(list(PEOPLE.values()), RULES))

    first = PEOPLE[who].real_name.split()[0]
    assert text.startswith(f"*Welcome to the Baton demo, {first}!* You are {role} here.")
    assert re.findall(r"^(\d)\. ", text, re.MULTILINE) == ["1", "2", "3"]
    assert tried in text
    assert "alice and bob are reps, maria the manager, mark the marketer" in text
    assert "faster" not in text  # the clock runs at real time


def test_a_fast_clock_is_explained_with_the_first_policys_window() -> None:
    text = welcome_text(PEOPLE[REP_1], RULES, speed=60, cast_line="")
    assert text.endswith(
        "The demo clock (left) runs 60× faster than real time: "
        "a hot lead's 15m claim window ends in 15 s."
    )


@pytest.mark.parametrize(
    ("option", "said"),
    [
        (["--speed", "0"], "argument --speed: 0 must be more than 0"),
        (["--speed", "fast"], "argument --speed: 'fast' is not a number"),
        (["--speed", "inf"], "argument --speed: 'inf' is not a number"),
        (["--lead-interval", "-5"], "argument --lead-interval: -5 must be at least 0"),
    ],
)
def test_a_senseless_option_stops_the_demo_before_it_starts(
    tmp_path: Path, option: list[str], said: str
) -> None:
    result = baton("demo", "--no-browser", *option, cwd=tmp_path, env={})
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == f"baton demo: error: {said}"
    assert result.stdout == "" and not list(tmp_path.iterdir())

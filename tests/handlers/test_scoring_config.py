"""The `[scoring]` model in baton.toml: read at start-up, or one line naming the key at fault."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.rules import ConfigError
from bot.scoring import ScoringModel
from handlers.config import load_config

RULE = '[[scoring.fit]]\nfield = "title"\ncontains = "VP"\npoints = 20\n'


def load(tmp_path: Path, text: str) -> object:
    path = tmp_path / "baton.toml"
    path.write_text(text, encoding="utf-8")
    return load_config({"BATON_CONFIG": str(path)}).rules.scoring


def test_without_a_scoring_section_there_is_no_model(tmp_path: Path) -> None:
    assert load(tmp_path, '[channels]\nsales = "C0SALES0001"\n') is None


def test_the_example_configurations_model_is_valid_once_uncommented(tmp_path: Path) -> None:
    example = (Path(__file__).parents[2] / "baton.example.toml").read_text(encoding="utf-8")
    section = example[example.index("# [scoring]") :].split("\n\n")[0]  # to its blank line
    uncommented = "\n".join(
        line.removeprefix("#").removeprefix(" ") for line in section.splitlines()
    )

    model = load(tmp_path, uncommented)

    assert isinstance(model, ScoringModel)
    assert (len(model.fit), len(model.engagement), len(model.fast_lanes)) == (5, 3, 2)


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[scoring]\nsql = 70\n" + RULE, "scoring.mql: Field required"),
        ("[scoring]\nmql = 80\nsql = 70\n" + RULE, "scoring: mql (80) must not be above sql (70)"),
        ("[scoring]\nmql = 10\nsql = 101\n" + RULE, "scoring.sql: Input should be less than or"),
        ("[scoring]\nmql = 10\nsql = 70\n", "scoring: needs at least one fit or engagement rule"),
        (
            "[scoring]\nmql = 10\nsql = 70\n" + RULE.replace('"title"', '"titel"'),
            "scoring.fit[0].field: unknown lead field 'titel' (one of name, email",
        ),
        (
            "[scoring]\nmql = 10\nsql = 70\n" + RULE + 'equals = "Director"\n',
            "scoring.fit[0]: give exactly one test: equals, contains, at_least/below or known",
        ),
        (
            "[scoring]\nmql = 10\nsql = 70\n" + RULE.replace('"VP"', "[]"),
            "scoring.fit[0].contains: needs at least one non-blank value",
        ),
        (
            "[scoring]\nmql = 10\nsql = 70\n"
            + '[[scoring.fit]]\nfield = "company_size"\nat_least = 500\nbelow = 50\npoints = 5\n',
            "scoring.fit[0]: below must be more than at_least",
        ),
        (
            "[scoring]\nmql = 10\nsql = 70\n"
            + '[[scoring.engagement]]\nactivity = "Webinar"\npoints = 5\n'
            + '[[scoring.engagement]]\nactivity = ["ebook", "webinar"]\npoints = 5\n',
            "scoring: activity 'webinar' is in two engagement rules",
        ),
        (
            "[scoring]\nmql = 10\nsql = 70\n"
            + '[[scoring.engagement]]\nactivity = "webinar"\npoints = 5\ncap = 0\n',
            "scoring.engagement[0].cap: Input should be greater than or equal to 1",
        ),
        (
            "[scoring]\nmql = 10\nsql = 70\nhalf_life_days = 0\n" + RULE,
            "scoring.half_life_days: Input should be greater than 0",
        ),
        (
            "[scoring]\nmql = 10\nsql = 70\n" + RULE + '[[scoring.fast_lanes]]\nname = "x"\n',
            "scoring.fast_lanes[0]: give either activity or when",
        ),
        (
            "[scoring]\nmql = 10\nsql = 70\nrequired = ['need', 'budjet']\n" + RULE,
            "scoring.required[1]: unknown lead field 'budjet'",
        ),
        (
            "[scoring]\nmql = 10\nsql = 70\nthreshold = 5\n" + RULE,
            "scoring.threshold: unknown setting",
        ),
    ],
)
def test_a_wrong_model_is_one_line_naming_the_key(tmp_path: Path, toml: str, message: str) -> None:
    with pytest.raises(ConfigError) as stopped:
        load(tmp_path, toml)

    text = str(stopped.value)
    assert text.startswith(f"{tmp_path / 'baton.toml'}: {message}")
    assert "\n" not in text

"""The charts are PNGs of the agreed size that draw the data they are given: bars as long as
their counts, a rising rate as a line that rises; nothing to draw still gives a picture."""

from __future__ import annotations

import io
import itertools
import subprocess
import sys
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path

import pytest
from PIL import Image

from bot import charts
from bot.charts import (
    CHART_HEIGHT,
    CHART_WIDTH,
    COLOURS,
    ChartError,
    render_acceptance_trend_chart,
    render_funnel_chart,
)

STAGES = ("MQL", "SQL", "accepted", "won")
WEEKS = [date(2026, 10, 5) + timedelta(weeks=week) for week in range(6)]
# The legend's rows run along the bottom, under the axis's labels; its swatches share the
# colours of what they name.
LEGEND_TOP = CHART_HEIGHT - 40


def decoded(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    assert image.size == (CHART_WIDTH, CHART_HEIGHT)
    return image.convert("RGB")


def rgb(colour: str) -> tuple[int, int, int]:
    red, green, blue = (int(colour[index : index + 2], 16) for index in (1, 3, 5))
    return red, green, blue


def pixels_of(image: Image.Image, colour: str) -> list[tuple[int, int]]:
    """Every (x, y) above the legend painted exactly `colour`, row by row: a bar's or a line's
    inside, not its edges."""
    plot = image.crop((0, 0, image.width, LEGEND_TOP))
    wanted, data, width = bytes(rgb(colour)), plot.tobytes(), plot.width
    return [
        (start // 3 % width, start // 3 // width)
        for start in range(0, len(data), 3)
        if data[start : start + 3] == wanted
    ]


def bar_lengths(image: Image.Image, colour: str) -> list[int]:
    """The length in pixels of each horizontal bar of `colour`, top to bottom: the longest
    run of it across the bar's middle row."""
    rows: dict[int, list[int]] = {}
    for x, y in pixels_of(image, colour):
        rows.setdefault(y, []).append(x)
    bars: list[list[int]] = []
    for y in sorted(rows):
        if bars and y == bars[-1][-1] + 1:
            bars[-1].append(y)
        else:
            bars.append([y])
    return [longest_run(rows[bar[len(bar) // 2]]) for bar in bars]


def longest_run(xs: list[int]) -> int:
    longest = run = 1
    for before, x in itertools.pairwise(xs):
        run = run + 1 if x == before + 1 else 1
        longest = max(longest, run)
    return longest


def test_funnel_bars_are_as_long_as_their_counts() -> None:
    image = decoded(render_funnel_chart(STAGES, {"webinar": [100, 50, 25, 10]}, "Funnel"))

    lengths = bar_lengths(image, COLOURS[0])

    assert len(lengths) == len(STAGES)
    for length, count in zip(lengths, [100, 50, 25, 10], strict=True):
        assert length == pytest.approx(lengths[0] * count / 100, abs=4)


def test_funnel_splits_each_stage_by_group() -> None:
    counts = {"webinar": [60, 30, 20, 5], "ads": [20, 10, 10, 5]}
    image = decoded(render_funnel_chart(STAGES, counts, "Funnel by source"))

    webinar, ads = bar_lengths(image, COLOURS[0]), bar_lengths(image, COLOURS[1])

    assert len(webinar) == len(ads) == len(STAGES)
    assert webinar[0] == pytest.approx(3 * ads[0], abs=6)
    assert webinar[3] == pytest.approx(ads[3], abs=4)


def test_funnel_changes_with_its_data() -> None:
    before = render_funnel_chart(STAGES, {"webinar": [100, 50, 25, 10]}, "Funnel")
    after = render_funnel_chart(STAGES, {"webinar": [100, 80, 25, 10]}, "Funnel")

    assert bar_lengths(decoded(before), COLOURS[0])[1] < bar_lengths(decoded(after), COLOURS[0])[1]


@pytest.mark.parametrize("counts", [{}, {"webinar": [0, 0, 0, 0]}])
def test_a_funnel_with_no_leads_is_a_picture_saying_so(counts: dict[str, list[int]]) -> None:
    image = decoded(render_funnel_chart(STAGES, counts, "Funnel"))

    assert pixels_of(image, COLOURS[0]) == []


@pytest.mark.parametrize(
    ("counts", "problem"),
    [({"webinar": [1, 2]}, "2 counts for 4 stages"), ({"ads": [3, -1, 0, 0]}, "negative")],
)
def test_a_funnel_refuses_counts_that_do_not_fit(
    counts: dict[str, list[int]], problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        render_funnel_chart(STAGES, counts, "Funnel")


def mean_height(points: Sequence[tuple[int, int]]) -> float:
    """How high the points stand, in pixels from the bottom of the image."""
    return CHART_HEIGHT - sum(y for _, y in points) / len(points)


def line_heights(png: bytes) -> tuple[float, float]:
    """How high the first source's line stands at its left and at its right end."""
    points = pixels_of(decoded(png), COLOURS[0])
    xs = sorted(x for x, _ in points)
    left, right = xs[0], xs[-1]
    third = (right - left) // 3
    return (
        mean_height([(x, y) for x, y in points if x < left + third]),
        mean_height([(x, y) for x, y in points if x > right - third]),
    )


def test_a_rising_acceptance_rate_is_drawn_rising_and_a_falling_one_falling() -> None:
    rising = [0.2, 0.3, 0.4, None, 0.6, 0.7]

    up = line_heights(render_acceptance_trend_chart(WEEKS, {"webinar": rising}, "Acceptance"))
    down = line_heights(
        render_acceptance_trend_chart(WEEKS, {"webinar": rising[::-1]}, "Acceptance")
    )

    assert up[0] < up[1]
    assert down[0] > down[1]


def test_each_source_gets_its_own_line() -> None:
    rates: dict[str, list[float | None]] = {"webinar": [0.5] * 6, "ads": [None] * 5 + [0.9]}

    image = decoded(render_acceptance_trend_chart(WEEKS, rates, "Acceptance"))

    assert pixels_of(image, COLOURS[0]) and pixels_of(image, COLOURS[1])


def test_no_rate_yet_is_a_picture_saying_so() -> None:
    image = decoded(render_acceptance_trend_chart(WEEKS, {"webinar": [None] * 6}, "Acceptance"))

    assert pixels_of(image, COLOURS[0]) == []


def test_an_acceptance_rate_is_a_fraction() -> None:
    with pytest.raises(ValueError, match="outside 0 to 1"):
        render_acceptance_trend_chart(WEEKS, {"webinar": [0.5] * 5 + [50.0]}, "Acceptance")


def test_the_title_and_labels_are_written() -> None:
    """Text needs a font from the machine: without one the chart would still draw, wordless."""
    image = decoded(render_funnel_chart(STAGES, {"webinar": [100, 50, 25, 10]}, "Funnel"))

    title_band = image.crop((0, 0, CHART_WIDTH, 40))
    labels_band = image.crop((0, 40, 150, CHART_HEIGHT))
    for band in (title_band, labels_band):
        assert min(band.convert("L").tobytes()) < 128


def test_drawing_never_loads_the_drawing_libraries_into_baton() -> None:
    """A chart is drawn in a process of its own, so neither starting Baton nor drawing loads
    pygal or resvg into the server."""
    check = (
        "import sys, bot.charts, handlers.cli, handlers.serve, handlers.slack_delivery; "
        "bot.charts.render_funnel_chart(['MQL', 'SQL'], {'ads': [3, 1]}, 'Funnel'); "
        "sys.exit(bool({'pygal', 'resvg_py'} & set(sys.modules)))"
    )
    assert subprocess.run([sys.executable, "-c", check], check=False).returncode == 0


def test_a_chart_process_does_not_load_the_server_again(tmp_path: Path) -> None:
    """The drawing process loads what drawing needs, not the program that asked for the chart
    (a multiprocessing "spawn" child imports the parent's `__main__`: all of Baton, twice the
    memory)."""
    server = tmp_path / "server.py"
    server.write_text(
        "import sys\n"
        "if __name__ != '__main__':\n"
        "    sys.exit('the chart process loaded the server again')\n"
        "from bot.charts import render_funnel_chart\n"
        "render_funnel_chart(['MQL', 'SQL'], {'ads': [3, 1]}, 'Funnel')\n"
    )
    ran = subprocess.run([sys.executable, str(server)], capture_output=True, check=False)
    assert ran.returncode == 0, ran.stderr.decode()


def test_a_drawing_that_fails_says_why() -> None:
    with pytest.raises(ChartError, match=r"failed .*: ValueError: non-hexadecimal number"):
        charts._drawn_apart(bytes.fromhex, "not hex")


def test_a_drawing_out_of_time_is_ended_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(charts, "DRAWING_TIMEOUT", 0.01)  # under Python's start alone

    with pytest.raises(ChartError, match=r"took over 0\.01 s; its process was ended"):
        render_funnel_chart(STAGES, {"webinar": [100, 50, 25, 10]}, "Funnel")

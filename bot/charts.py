"""Charts as PNG bytes, drawn from plain data: the funnel by group (`render_funnel_chart`) and
the weekly acceptance rate per source with its trend (`render_acceptance_trend_chart`).

Slack shows them as uploaded files (Block Kit images need a public URL, which a self-hosted
Baton may not have). Every chart is CHART_WIDTH × CHART_HEIGHT pixels; one with nothing to
draw says so ("No leads yet") rather than failing, so a caller may always send what it gets.

Each chart is drawn in a process of its own, started for it and gone after it: charts are rare
(a digest a week, a funnel when asked), so the server never carries what draws them. That
process is a bare interpreter that imports this module and the drawing libraries alone, its
data in on stdin and the PNG out on stdout; a multiprocessing "spawn" child would also import
the parent's `__main__` (the whole server, 145 MB where 15 suffice). pygal builds each chart as
SVG, and resvg (a Rust library, no Cairo or browser) draws the SVG to PNG with the machine's
fonts. matplotlib drew them until 2026-12: its process took 61 MB, a third of the memory the
whole of `baton serve` is allowed at its peak; this one takes about 15.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pygal import Config
    from pygal.graph.graph import Graph

CHART_WIDTH = 800  # pixels
CHART_HEIGHT = 450
MAX_GROUPS = 6  # groups drawn apiece; the rest are summed into OTHERS (funnel) or left out
OTHERS = "others"
NOTHING_YET = "No leads yet"
# Tableau's ten colours: told apart by most colour-blind readers.
COLOURS = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1")
GREY = "#9d9d9d"
# The first of these the machine has draws the text (Debian: fonts-dejavu-core).
FONTS = "'DejaVu Sans', 'Liberation Sans', Arial, Helvetica, sans-serif"
# A loaded 2-core machine may take many seconds to start Python and draw; a drawing
# still under way after this is ended, and fails, rather than hold up the delivery behind it.
DRAWING_TIMEOUT = 300.0  # seconds
# The drawing process's program: (draw, data) in, pickled; draw(*data), a PNG, out. argv[1] is
# the directory holding the `bot` package, for a Baton run from a checkout it is not installed from.
_DRAWER = (
    "import pickle, sys; sys.path.insert(0, sys.argv[1]); "
    "draw, data = pickle.load(sys.stdin.buffer); sys.stdout.buffer.write(draw(*data))"
)


class ChartError(RuntimeError):
    """A chart's drawing process failed or ran out of time; the message says which."""


@dataclass(frozen=True)
class ChartFile:
    """A drawn chart as Slack is sent it: the PNG, its file name and title, and the message
    that goes with it."""

    png: bytes
    name: str
    title: str
    comment: str


def render_funnel_chart(
    stages: Sequence[str], counts_by_group: Mapping[str, Sequence[int]], title: str
) -> bytes:
    """The funnel as a PNG: one horizontal bar per stage (the first on top), as long as the
    stage's count and split by group (e.g. by source), each labelled with its total and its
    share of the stage before it.

    `counts_by_group` maps a group's label to its count at each stage, in the order of
    `stages`. Groups are drawn largest first (by their first stage); beyond MAX_GROUPS the
    smallest are summed into one "others" segment. No groups, or only zeros, draw a chart
    that says "No leads yet". Raises ValueError when a group's counts do not match the
    stages or a count is negative.
    """
    for group, counts in counts_by_group.items():
        if len(counts) != len(stages):
            raise ValueError(f"group {group!r} has {len(counts)} counts for {len(stages)} stages")
        if any(count < 0 for count in counts):
            raise ValueError(f"group {group!r} has a negative count")
    return _drawn_apart(_draw_funnel, list(stages), _largest_groups(stages, counts_by_group), title)


def _draw_funnel(stages: list[str], groups: dict[str, Sequence[int]], title: str) -> bytes:
    from pygal import HorizontalStackedBar  # here, not at the top: see the module docstring

    totals = [sum(counts[index] for counts in groups.values()) for index in range(len(stages))]
    if not any(totals):
        return _nothing_yet(title)
    chart = HorizontalStackedBar(_options(title, _colours(groups), legend=len(groups) > 1))
    labels = [
        f"{stage}: {total}{_share(total, totals[index - 1]) if index else ''}"
        for index, (stage, total) in enumerate(zip(stages, totals, strict=True))
    ]
    chart.x_labels = labels[::-1]  # the first stage on top
    for group, counts in groups.items():
        chart.add(group, list(counts)[::-1])
    return _png(chart)


def render_acceptance_trend_chart(
    weeks: Sequence[date], rates_by_source: Mapping[str, Sequence[float | None]], title: str
) -> bytes:
    """The weekly acceptance rate per source as a PNG: a solid line per source through the
    weeks it has a rate (a fraction, 0 to 1; None for a week with no decided lead), and a
    dashed least-squares line of the same colour, its trend, where it has two rates or more.

    `weeks` are the weeks' first days, oldest first; each source has one rate per week. At
    most MAX_GROUPS sources are drawn, in the order given (pass the busiest first). No
    source with a rate draws a chart that says "No leads yet". Raises ValueError when a
    source's rates do not match the weeks or a rate is outside 0 to 1.
    """
    for source, rates in rates_by_source.items():
        if len(rates) != len(weeks):
            raise ValueError(f"source {source!r} has {len(rates)} rates for {len(weeks)} weeks")
        if any(rate is not None and not 0 <= rate <= 1 for rate in rates):
            raise ValueError(f"source {source!r} has a rate outside 0 to 1")
    drawn = {
        source: rates
        for source, rates in list(rates_by_source.items())[:MAX_GROUPS]
        if any(rate is not None for rate in rates)
    }
    return _drawn_apart(_draw_acceptance_trend, list(weeks), drawn, title)


def _draw_acceptance_trend(
    weeks: list[date], drawn: dict[str, Sequence[float | None]], title: str
) -> bytes:
    from pygal import Line

    if not drawn:
        return _nothing_yet(title)
    positions = list(range(len(weeks)))
    lines: list[tuple[str, list[float | None], str, bool]] = []  # name, values, colour, trend?
    for colour, (source, rates) in zip(_colours(drawn), drawn.items(), strict=True):
        percents = [None if rate is None else rate * 100 for rate in rates]
        lines.append((source, percents, colour, False))
        trend = _least_squares(positions, percents)
        if trend is not None:
            slope, intercept = trend
            fitted: list[float | None] = [slope * x + intercept for x in positions]
            lines.append((f"{source} trend", fitted, colour, True))
    chart = Line(
        _options(title, [colour for _, _, colour, _ in lines], legend=True, line_width=2.5),
        y_title="accepted, % of decided",
        range=(0, 100),
        allow_interruptions=True,
        dots_size=4,
    )
    chart.x_labels = [f"{week:%d %b}" for week in weeks]
    for name, values, _, is_trend in lines:
        if is_trend:
            chart.add(name, values, show_dots=False, stroke_style={"dasharray": "8, 5"})
        else:
            chart.add(name, values)
    return _png(chart)


def _drawn_apart(draw: Callable[..., bytes], *data: object) -> bytes:
    """`draw(*data)` in a process started for it (see the module docstring): a new interpreter,
    never a fork running Python, since a server's threads may hold locks a fork would copy
    taken. `draw` must be a module's function (it is pickled by name). Raises ChartError when
    the process fails, or ends it and raises ChartError after DRAWING_TIMEOUT."""
    package_root = str(Path(__file__).resolve().parents[1])
    try:
        drawn = subprocess.run(
            [sys.executable, "-P", "-c", _DRAWER, package_root],
            input=pickle.dumps((draw, data)),
            capture_output=True,
            timeout=DRAWING_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ChartError(
            f"drawing the chart took over {DRAWING_TIMEOUT:g} s; its process was ended"
        ) from None
    if drawn.returncode != 0:
        reason = drawn.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no message"]
        raise ChartError(
            f"the chart's drawing process failed (exit status {drawn.returncode}): {reason[0]}"
        )
    return drawn.stdout


def _largest_groups(
    stages: Sequence[str], counts_by_group: Mapping[str, Sequence[int]]
) -> dict[str, list[int]]:
    """The MAX_GROUPS groups with the most at the first stage, the rest summed as OTHERS."""
    ranked = sorted(counts_by_group.items(), key=lambda item: -item[1][0] if item[1] else 0)
    kept = {group: list(counts) for group, counts in ranked[:MAX_GROUPS]}
    rest = [counts for _, counts in ranked[MAX_GROUPS:]]
    if rest:
        kept[OTHERS] = [sum(counts[index] for counts in rest) for index in range(len(stages))]
    return kept


def _least_squares(xs: Sequence[int], ys: Sequence[float | None]) -> tuple[float, float] | None:
    """Slope and intercept of the line nearest the points with a value; None under two."""
    points = [(x, y) for x, y in zip(xs, ys, strict=True) if y is not None]
    if len(points) < 2:
        return None
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / spread
    return slope, mean_y - slope * mean_x


def _share(count: int, before: int) -> str:
    return f" ({count / before:.0%})" if before else ""


def _colours(groups: Mapping[str, object]) -> list[str]:
    return [
        GREY if group == OTHERS else COLOURS[index % len(COLOURS)]
        for index, group in enumerate(groups)
    ]


def _options(title: str, colours: Sequence[str], *, legend: bool, line_width: float = 1) -> Config:
    """What every chart shares: its size, title, colours and fonts, no script (the SVG is only
    a step to the PNG), and NOTHING_YET in place of a chart with no series."""
    from pygal import Config
    from pygal.style import Style

    return Config(
        width=CHART_WIDTH,
        height=CHART_HEIGHT,
        title=title,
        show_legend=legend,
        legend_at_bottom=True,
        legend_at_bottom_columns=4,
        no_data_text=NOTHING_YET,
        js=[],
        style=Style(
            background="white",
            plot_background="white",
            foreground="#333333",
            foreground_strong="#333333",
            foreground_subtle="#d9d9d9",
            guide_stroke_color="#d9d9d9",
            major_guide_stroke_color="#bdbdbd",
            stroke_width=str(line_width),
            stroke_opacity="1",
            stroke_opacity_hover="1",
            opacity="1",  # the colours as given: the tests find bars and lines by them
            opacity_hover="1",
            colors=tuple(colours),
            font_family=FONTS,
            title_font_size=16,
            legend_font_size=12,
            label_font_size=12,
            major_label_font_size=12,
            no_data_font_size=20,
        ),
    )


def _nothing_yet(title: str) -> bytes:
    """A chart with no series: its title, and NOTHING_YET where the data would be."""
    from pygal import Bar

    chart = Bar(_options(title, COLOURS, legend=False))
    chart.show_x_labels = chart.show_y_labels = False
    chart.show_x_guides = chart.show_y_guides = False
    return _png(chart)


def _png(chart: Graph) -> bytes:
    """The chart's SVG drawn to PNG by resvg, with the machine's fonts."""
    import resvg_py

    return bytes(resvg_py.svg_to_bytes(svg_string=chart.render(is_unicode=True)))

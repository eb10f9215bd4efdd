"""Block Kit for the tuning report (`/leads tune`), within Slack's limits however many rules
and sources the team has."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.reply_blocks import LIST_LIMIT, TimesCounted, context, duration, percent, section
from bot.slack_text import safe_text
from bot.tuning import Flag, Group, TuningReport

LABEL_SHOWN = 80  # characters of a rule's or a source's name
FLAGS_SHOWN = 10  # the most rejected rules shown, so their reasons fit one section


def tuning_blocks(report: TuningReport, *, title: str, times: TimesCounted) -> list[dict[str, Any]]:
    """The report as `/leads tune` shows it; `times` says how its times to claim count, as
    `/leads stats` says it."""
    total = report.total
    head = (
        f"*{title}: {report.period.label}*\n{total.leads} handed off, {total.decided} decided: "
        f"{percent(total.acceptance_rate)} accepted, median claim "
        f"{duration(total.median_time_to_claim, in_days=times.in_days)} ({times.unit}), "
        f"{percent(total.win_rate)} of accepted won"
    )
    if not total.leads:
        return [section(f"*{title}: {report.period.label}*\nNo leads were handed off.")]
    blocks = [
        section(head),
        section(_threshold_text(report)),
        _groups("By score band", report.bands, times),
        _groups("By rule", report.rules, times) if report.rules else section(_no_rules(report)),
        _groups("By source", report.sources, times),
        section(_flag_text(report.flagged, report.min_sample)),
        context(times.note),
    ]
    if report.unexplained and report.rules:
        blocks.append(context(_unexplained(report.unexplained)))
    return blocks


def digest_tuning_blocks(report: TuningReport) -> list[dict[str, Any]]:
    """The digest's part of the report: the rules sales rejects most, and the threshold, worded
    as `/leads tune` words them."""
    return [
        section("*Score tuning* (`/leads tune` shows every band, rule and source)"),
        section(_flag_text(report.flagged, report.min_sample)),
        section(_threshold_text(report)),
    ]


def _groups(title: str, groups: Sequence[Group], times: TimesCounted) -> dict[str, Any]:
    lines = [f"*{title}* (decided · accepted · median claim · won of accepted)"]
    for group in groups[:LIST_LIMIT]:
        t = group.tally
        lines.append(
            f"• {safe_text(group.label, LABEL_SHOWN)}: {t.decided} · "
            f"{percent(t.acceptance_rate)} · "
            f"{duration(t.median_time_to_claim, in_days=times.in_days)} · "
            f"{percent(t.win_rate)}"
        )
    if len(groups) > LIST_LIMIT:
        lines.append(f"…and {len(groups) - LIST_LIMIT} more.")
    return section("\n".join(lines))


def _flag_text(flagged: Sequence[Flag], min_sample: int) -> str:
    if not flagged:
        return (
            "*Rules sales rejects far more than the rest*\nNone"
            f" (a rule is judged from {min_sample} decided leads)."
        )
    lines = ["*Rules sales rejects far more than the rest*"]
    for flag in flagged[:FLAGS_SHOWN]:
        why = ", ".join(f"{safe_text(label, 40)} {percent(share)}" for label, share in flag.reasons)
        lines.append(
            f"• {safe_text(flag.rule, LABEL_SHOWN)}: {percent(flag.rejection_rate)} rejected "
            f"of {flag.decided} (the rest {percent(flag.others_rate)}): {why}"
        )
    if len(flagged) > FLAGS_SHOWN:
        lines.append(f"…and {len(flagged) - FLAGS_SHOWN} more.")
    return "\n".join(lines)


def _threshold_text(report: TuningReport) -> str:
    if report.target is None:
        return (
            "*Threshold*: set `target_acceptance` in `[scoring]` (e.g. `0.6`) to see from "
            "which score sales accepts that share."
        )
    target = percent(report.target)
    found = report.threshold
    if found is None:
        return (
            f"*Threshold*: no score reaches {target} acceptance among at least "
            f"{report.min_sample} decided leads."
        )
    now = f" (SQL threshold now {report.sql_threshold})" if report.sql_threshold else ""
    return (
        f"*Threshold*: from score *{found.score}*{now}, acceptance reaches the {target} target: "
        f"{percent(found.acceptance_rate)} of the {found.decided} decided leads scoring "
        f"{found.score} or more."
    )


def _no_rules(report: TuningReport) -> str:
    return "*By rule*\nNo lead of this period was scored by the model. " + _unexplained(
        report.unexplained
    )


def _unexplained(count: int) -> str:
    return (
        f"{count} lead{'s' if count != 1 else ''} scored by the sender (no `[scoring]` model "
        "then) count in the bands, by the sender's score, and by source only."
    )

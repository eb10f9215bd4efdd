"""The tuning report's Block Kit: the largest realistic answer (every band, a long list of rules
and sources with the longest hostile names, many flagged rules) stays inside Slack's limits and
pings nobody; a period without leads and one without a model say so."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.leads_command import Reply
from bot.periods import Period
from bot.reply_blocks import message, times_counted
from bot.rules import Rules
from bot.tuning import BANDS, MIN_SAMPLE, Flag, Group, Tally, Threshold, TuningReport
from bot.tuning_blocks import tuning_blocks
from tests.bot.test_cards import assert_within_slack_limits, hostile

TIMES = times_counted(Rules())
PERIOD = Period(
    start=datetime(2026, 11, 1, tzinfo=UTC), end=datetime(2026, 12, 1, tzinfo=UTC), label="30d"
)


def busy_tally() -> Tally:
    return Tally(
        leads=123456,
        accepted=100000,
        rejected=23456,
        won=99999,
        median_time_to_claim=timedelta(days=400),
        reasons={hostile(64): 23456},
    )


def report(*, rules: int, unexplained: int = 0, target: float | None = 0.6) -> TuningReport:
    tally = busy_tally()
    return TuningReport(
        period=PERIOD,
        total=tally,
        bands=[Group(label, tally) for label, _ in BANDS],
        rules=[Group(f"fit: {hostile(200)}{n}", tally) for n in range(rules)],
        sources=[Group(hostile(120) + str(n), tally) for n in range(100)],
        flagged=[
            Flag(hostile(200), 0.99, 123456, 0.1, [(hostile(75), 0.5), (hostile(75), 0.4)])
            for _ in range(40)
        ],
        target=target,
        threshold=Threshold(score=100, acceptance_rate=1.0, decided=123456),
        unexplained=unexplained,
        min_sample=MIN_SAMPLE,
        sql_threshold=70,
    )


def test_the_largest_realistic_answer_fits_slacks_limits() -> None:
    blocks = tuning_blocks(report(rules=200, unexplained=5), title="Tuning", times=TIMES)
    assert_within_slack_limits(message("Tuning", blocks))
    shown = str(blocks)
    assert "<!channel>" not in shown
    assert "…and 185 more." in shown  # rules and sources beyond the first fifteen are counted
    assert "scored by the sender" in shown
    assert "(by SLA policy)" in shown and "9600 h 00 min" in shown  # business hours: no days
    assert "Times count business hours (Mon–Fri 09:00–17:00" in shown


def test_without_rules_the_answer_says_leads_are_grouped_by_the_senders_score() -> None:
    blocks = tuning_blocks(report(rules=0, unexplained=3, target=None), title="Tuning", times=TIMES)
    shown = str(blocks)
    assert "No lead of this period was scored by the model" in shown
    assert "3 leads scored by the sender" in shown
    assert "set `target_acceptance` in `[scoring]`" in shown


def test_an_empty_period_says_so() -> None:
    empty = TuningReport(PERIOD, Tally(), [], [], [], [], 0.6, None, 0, MIN_SAMPLE, 70)
    reply = Reply(message("Tuning", tuning_blocks(empty, title="Tuning", times=TIMES)))
    assert "No leads were handed off" in str(reply.message.blocks)

"""The fair rotation and rep availability, over many leads: shares follow the weights, an
unavailable rep is never chosen, and a rep back from leave is not flooded with catch-up leads."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.availability import Away, RepRules, Shift, unavailable_reason
from bot.rotation import NOBODY_AVAILABLE, choose, next_up

REPS = [f"U0REP{n:05d}" for n in range(8)]
pools = st.lists(st.sampled_from(REPS), min_size=1, max_size=6, unique=True)


def run(
    pool: list[str],
    weights: dict[str, float],
    leads: int,
    away: set[str] | None = None,
    pointers: dict[str, float] | None = None,
) -> tuple[Counter[str], dict[str, float]]:
    pointers = dict(pointers or {})
    given_to: Counter[str] = Counter()
    for _ in range(leads):
        decision = choose(
            pool,
            pointers=pointers,
            weights=weights,
            unavailable={rep: "away" for rep in away or ()},
        )
        pointers = decision.pointers
        if decision.assignee is not None:
            given_to[decision.assignee] += 1
    return given_to, pointers


@settings(max_examples=30)
@given(pool=pools, data=st.data())
def test_each_reps_share_follows_their_weight(pool: list[str], data: st.DataObject) -> None:
    weights = {rep: data.draw(st.sampled_from([0.5, 1.0, 2.0, 3.0])) for rep in pool}
    leads = 300
    given_to, _ = run(pool, weights, leads)
    total_weight = sum(weights.values())
    for rep in pool:
        expected = leads * weights[rep] / total_weight
        assert abs(given_to[rep] - expected) <= 1 + 1 / min(weights.values()), (rep, given_to)


@settings(max_examples=30, deadline=None)
@given(pool=pools, absences=st.lists(st.sets(st.integers(0, 5)), min_size=40, max_size=40))
def test_an_unavailable_rep_is_never_chosen(pool: list[str], absences: list[set[int]]) -> None:
    pointers: dict[str, float] = {}
    for absent in absences:
        away = {pool[index % len(pool)] for index in absent}
        decision = choose(
            pool, pointers=pointers, weights={}, unavailable={rep: "away" for rep in away}
        )
        pointers = decision.pointers
        if away == set(pool):
            assert decision.assignee is None and decision.steps[-1] == NOBODY_AVAILABLE
        else:
            assert decision.assignee in set(pool) - away


@settings(max_examples=40)
@given(pool=st.lists(st.sampled_from(REPS), min_size=2, max_size=6, unique=True))
def test_a_rep_back_from_leave_gets_no_catch_up_leads(pool: list[str]) -> None:
    returning = pool[0]
    _, pointers = run(pool, {}, 10 * len(pool))
    _, pointers = run(pool, {}, 200, away={returning}, pointers=pointers)
    rounds = 10
    given_to, _ = run(pool, {}, rounds * len(pool), pointers=pointers)
    # Back, they take their turn like everyone (one lead a round, give or take the tie that
    # goes to the first in the pool), not the 200 / len(pool) leads the others took meanwhile.
    assert given_to[returning] <= rounds + 1
    assert min(given_to.values()) >= rounds - 1


def test_a_rep_new_to_the_pool_starts_level_and_the_others_keep_their_pointers() -> None:
    _, pointers = run(REPS[:3], {}, 30)
    given_to, after = run(REPS[:4], {}, 8, pointers=pointers)
    assert given_to == Counter(dict.fromkeys(REPS[:4], 2))
    assert after[REPS[0]] > pointers[REPS[0]]


def test_next_up_lists_the_reps_the_next_leads_would_go_to_in_turn() -> None:
    a, b, c = REPS[:3]
    upcoming = lambda unavailable: next_up(  # noqa: E731
        [a, b, c], pointers={a: 2.0, b: 1.0, c: 1.0}, weights={}, unavailable=unavailable, count=3
    )
    # c is away: b (lowest) first, then a and b level, the tie to the first in the pool.
    assert upcoming({c: "away"}) == [b, a, b]
    assert upcoming({}) == [b, c, a]
    assert upcoming(dict.fromkeys([a, b, c], "away")) == []


def test_the_explanation_names_each_skipped_rep_and_the_chosen_one() -> None:
    decision = choose(
        REPS[:3], pointers={}, weights={}, unavailable={REPS[0]: "away until Fri 04 Dec 09:00"}
    )
    assert decision.assignee == REPS[1]
    assert decision.explanation == (
        f"skipped <@{REPS[0]}>: away until Fri 04 Dec 09:00; "
        f"assigned to <@{REPS[1]}>: lowest pointer, first in the pool of those level"
    )


NOW = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)  # a Wednesday: 10:00 in New York
NEW_YORK, TOKYO = ZoneInfo("America/New_York"), ZoneInfo("Asia/Tokyo")
SHIFT = Shift(days=frozenset(range(5)), start=time(9), end=time(17))


def reason(
    *, away: Away | None = None, open_leads: int = 0, capacity: int | None = None
) -> str | None:
    rules = RepRules(
        shift=SHIFT, timezones={REPS[1]: TOKYO}, capacity=capacity, team_timezone=NEW_YORK
    )
    return unavailable_reason(REPS[0], away=away, open_leads=open_leads, rules=rules, now=NOW)


def test_availability_says_why_a_rep_cannot_take_a_lead() -> None:
    assert reason() is None
    until = NOW + timedelta(days=2)
    assert reason(away=Away(until, "U0MANAGER01")) == "away until Fri 04 Dec 10:00"
    assert reason(away=Away(None, REPS[0])) == "away until `/leads back`"
    assert reason(away=Away(NOW, REPS[0])) is None  # the date has come: back
    assert reason(open_leads=3, capacity=3) == (
        "at capacity (3 claimed leads not yet contacted, of 3)"
    )
    assert reason(open_leads=2, capacity=3) is None
    in_tokyo = RepRules(
        shift=SHIFT, timezones={REPS[1]: TOKYO}, capacity=None, team_timezone=NEW_YORK
    )
    assert unavailable_reason(REPS[1], away=None, open_leads=0, rules=in_tokyo, now=NOW) == (
        "off shift (works 09:00-17:00 Asia/Tokyo, Thu 00:00 there now)"
    )

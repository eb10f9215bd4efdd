"""Simulation of routing over a month: the domain's own rotation and availability code
(bot.rotation, bot.availability) driven by simulated leads and reps, no database or Slack.

10,000 leads (by default) arrive over 30 days, most in the team's working hours (New York),
some at night and on weekends. 20 reps work 09:00-17:00 on weekdays in one of three time zones,
take leave (a few spells of 1-5 days each), have weights 1, 1.5 or 2, and hold at most
`--capacity` claimed, not yet contacted leads; each claimed lead is contacted after an
exponentially distributed delay. For each mode it prints:

- each rep's share of the leads against the share their weight entitles them to among the
  reps on shift and not away as each lead arrives, and the worst ratio of the two;
- leads given to a rep who was unavailable at that moment (checked again independently of the
  rotation's own input: must be 0);
- claim SLA misses (a lead claimed later than `--claim-minutes` after it arrived);
- in `offer` mode, the offers made, passed and timed out, and leads offered to a rep who was
  unavailable at that moment (must be 0).

`channel` mode is today's first click wins: among the reps on shift and not away, the one who
clicks first takes the lead (faster reps click sooner, so they take more); a lead arriving
when nobody works waits for the first rep to come on shift. `assign` is the rotation; a lead
with nobody available falls back to the channel the same way. `offer` offers each lead to the
rep the rotation picks, then to the next (at most `--offer-tries`): each rep passes a share of
their offers (0-20 %) and answers after an exponentially distributed delay (mean 1-6 min), so
an answer later than `--offer-minutes` times out; with nobody (more) to offer it to, the channel
takes it. `owner` gives a lead to its CRM owner (`--owned` of the leads have one, a rep drawn by
weight) when they are available, else falls back to the rotation (`fallback = "assign"`), as
bot.assignment does.

    .venv/bin/python -m benchmarks.routing_simulation [--leads 10000] [--seed 7] [--owned 0.7]

It takes a few seconds of CPU; its figures depend only on the seed, not on the machine.
"""

from __future__ import annotations

import argparse
import heapq
import random
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.availability import Away, RepRules, Shift, unavailable_reason
from bot.rotation import choose

START = datetime(2026, 11, 2, tzinfo=UTC)  # a Monday
DAYS = 30
TEAM_ZONE = ZoneInfo("America/New_York")
ZONES = [TEAM_ZONE, ZoneInfo("America/Los_Angeles"), ZoneInfo("Europe/London")]
SHIFT = Shift(days=frozenset(range(5)), start=time(9), end=time(17))


@dataclass(frozen=True)
class Rep:
    user_id: str
    weight: float
    zone: ZoneInfo
    leave: tuple[tuple[datetime, datetime], ...]
    click_minutes: float  # mean time to click Accept on a card in the channel

    def away_at(self, at: datetime) -> Away | None:
        for start, end in self.leave:
            if start <= at < end:
                return Away(end, self.user_id)
        return None


def make_reps(rng: random.Random, count: int) -> list[Rep]:
    reps = []
    for n in range(count):
        spells = []
        for _ in range(rng.randint(0, 3)):
            start = START + timedelta(hours=rng.randrange((DAYS - 1) * 24))
            spells.append((start, start + timedelta(days=rng.randint(1, 5))))
        reps.append(
            Rep(
                user_id=f"U0SIM{n:06d}",
                weight=rng.choice([1.0, 1.0, 1.5, 2.0]),
                zone=ZONES[n % len(ZONES)],
                leave=tuple(spells),
                click_minutes=rng.uniform(2, 30),
            )
        )
    return reps


def arrivals(rng: random.Random, count: int) -> list[datetime]:
    """Lead arrival moments: 85 % in New York working hours on weekdays, the rest any time."""
    moments = []
    while len(moments) < count:
        at = START + timedelta(seconds=rng.uniform(0, DAYS * 86400))
        local = at.astimezone(TEAM_ZONE)
        in_hours = local.weekday() < 5 and 9 <= local.hour < 17
        if in_hours or rng.random() < 0.15:
            moments.append(at)
    return sorted(moments)


class Month:
    """One mode's run: who holds which leads, and what happened to each."""

    def __init__(self, reps: list[Rep], capacity: int, contact_hours: float, seed: int) -> None:
        self.reps = {rep.user_id: rep for rep in reps}
        self.pool = [rep.user_id for rep in reps]
        self.rules = RepRules(
            shift=SHIFT,
            timezones={rep.user_id: rep.zone for rep in reps},
            capacity=capacity,
            team_timezone=TEAM_ZONE,
        )
        self.contact_hours = contact_hours
        self.rng = random.Random(seed)
        self.held: Counter[str] = Counter()
        self.releases: list[tuple[datetime, str]] = []  # (contacted at, rep)
        self.given: Counter[str] = Counter()
        self.to_unavailable = 0
        self.claim_delays: list[timedelta] = []
        self.by_hour: dict[datetime, list[str]] = {}
        self.offers: Counter[str] = Counter()  # made, passed, timed out, to an unavailable rep

    def unavailable(self, at: datetime, *, capped: bool) -> dict[str, str]:
        while self.releases and self.releases[0][0] <= at:
            _, rep = heapq.heappop(self.releases)
            self.held[rep] -= 1
        rules = self.rules if capped else RepRules(SHIFT, self.rules.timezones, None, TEAM_ZONE)
        found = {}
        for user_id, rep in self.reps.items():
            why = unavailable_reason(
                user_id,
                away=rep.away_at(at),
                open_leads=self.held[user_id],
                rules=rules,
                now=at,
            )
            if why is not None:
                found[user_id] = why
        return found

    def give(
        self, rep: str, arrived: datetime, claimed: datetime, chosen: datetime | None = None
    ) -> None:
        """`rep` claims the lead at `claimed`; they had to be available when `chosen` for it
        (an offer accepted a minute after their shift ended was still theirs to take)."""
        if rep in self.unavailable(chosen or claimed, capped=False):
            self.to_unavailable += 1
        if self.present(arrived):  # shares count the leads someone could take on arrival
            self.given[rep] += 1
        self.held[rep] += 1
        self.claim_delays.append(claimed - arrived)
        contact = timedelta(hours=self.rng.expovariate(1 / self.contact_hours))
        heapq.heappush(self.releases, (claimed + contact, rep))

    def present(self, at: datetime) -> list[str]:
        """The reps on shift and not away during `at`'s hour (shifts and leave start and end
        on the hour), remembered by hour: nights and weekends are stepped through often."""
        hour = at.replace(minute=0, second=0, microsecond=0)
        if hour not in self.by_hour:
            away = self.unavailable(hour, capped=False)
            self.by_hour[hour] = [rep for rep in self.pool if rep not in away]
        return self.by_hour[hour]

    def first_click(self, arrived: datetime, opened: datetime | None = None) -> None:
        """The channel: the first available rep to click takes it, once someone is there (the
        card is open to all from `opened`, by default on arrival)."""
        at = opened or arrived
        while not self.present(at):
            at = at.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        clicks = {
            rep: timedelta(minutes=self.rng.expovariate(1 / self.reps[rep].click_minutes))
            for rep in self.present(at)
        }
        winner = min(clicks, key=lambda rep: clicks[rep])
        self.give(winner, arrived, at)
        self.claim_delays[-1] += clicks[winner]


def crm_owners(rng: random.Random, reps: list[Rep], leads: int, owned: float) -> list[str | None]:
    """Each lead's CRM owner: a share `owned` have one, a rep drawn in proportion to weight."""
    weights = [rep.weight for rep in reps]
    return [
        rng.choices(reps, weights)[0].user_id if rng.random() < owned else None
        for _ in range(leads)
    ]


@dataclass(frozen=True)
class Habit:
    """How a rep answers offers: the share they pass, and their mean time to answer."""

    pass_rate: float
    answer_minutes: float


def offer_habits(reps: list[Rep], seed: int) -> dict[str, Habit]:
    """Drawn apart from the reps themselves, so the other modes' figures stay as they were."""
    rng = random.Random(seed + 1)
    return {rep.user_id: Habit(rng.uniform(0, 0.2), rng.uniform(1, 6)) for rep in reps}


def offer(
    month: Month,
    arrived: datetime,
    pointers: dict[str, float],
    weights: dict[str, float],
    habits: dict[str, Habit],
    options: argparse.Namespace,
) -> dict[str, float]:
    """Offer the lead to one rep after another, as bot.offers does; the rotation's pointers
    after it."""
    at, tried = arrived, set[str]()
    timeout = timedelta(minutes=options.offer_minutes)
    for _ in range(options.offer_tries):
        unavailable = month.unavailable(at, capped=True)
        pool = [rep for rep in month.pool if rep not in tried]
        decision = choose(
            pool,
            pointers=pointers,
            weights=weights,
            unavailable={rep: why for rep, why in unavailable.items() if rep in pool},
            verb="offered to",
        )
        pointers = decision.pointers
        rep = decision.assignee
        if rep is None:
            break
        tried.add(rep)
        month.offers["made"] += 1
        if rep in month.unavailable(at, capped=False):
            month.offers["to an unavailable rep"] += 1
        habit = habits[rep]
        answer = timedelta(minutes=month.rng.expovariate(1 / habit.answer_minutes))
        if answer >= timeout:
            month.offers["timed out"] += 1
            at += timeout
        elif month.rng.random() < habit.pass_rate:
            month.offers["passed"] += 1
            at += answer
        else:
            month.give(rep, arrived, at + answer, chosen=at)
            return pointers
    month.first_click(arrived, opened=at)
    return pointers


def run(
    mode: str,
    reps: list[Rep],
    leads: list[datetime],
    owners: list[str | None],
    options: argparse.Namespace,
) -> Month:
    month = Month(reps, options.capacity, options.contact_hours, options.seed)
    weights = {rep.user_id: rep.weight for rep in reps}
    habits = offer_habits(reps, options.seed)
    pointers: dict[str, float] = {}
    for arrived, owner in zip(leads, owners, strict=True):
        if mode == "channel":
            month.first_click(arrived)
            continue
        if mode == "offer":
            pointers = offer(month, arrived, pointers, weights, habits, options)
            continue
        unavailable = month.unavailable(arrived, capped=True)
        if mode == "owner" and owner is not None and owner not in unavailable:
            month.give(owner, arrived, arrived)
            continue
        decision = choose(month.pool, pointers=pointers, weights=weights, unavailable=unavailable)
        pointers = decision.pointers
        if decision.assignee is None:
            month.first_click(arrived)
        else:
            month.give(decision.assignee, arrived, arrived)
    return month


def entitled_shares(reps: list[Rep], leads: list[datetime]) -> dict[str, float]:
    """Each rep's fair share: of every lead, the part their weight gives them among the reps
    on shift and not away when it arrives (leads nobody could take are left out)."""
    month = Month(reps, capacity=1, contact_hours=1.0, seed=0)
    weights = {rep.user_id: rep.weight for rep in reps}
    owed: Counter[str] = Counter()
    for arrived in leads:
        present = month.present(arrived)
        total = sum(weights[rep] for rep in present)
        for rep in present:
            owed[rep] += weights[rep] / total
    counted = sum(owed.values())
    return {rep.user_id: owed[rep.user_id] / counted for rep in reps}


def report(
    mode: str, month: Month, reps: list[Rep], entitled: dict[str, float], window: timedelta
) -> None:
    total = len(month.claim_delays)
    shared = sum(month.given.values())
    ratios = {
        rep.user_id: (month.given[rep.user_id] / shared) / entitled[rep.user_id]
        for rep in reps
        if entitled[rep.user_id] > 0
    }
    missed = sum(1 for delay in month.claim_delays if delay > window)
    print(f"\n== mode {mode}: {total} leads, {shared} arriving while a rep was there")
    print(f"{'rep':<13} {'weight':>6} {'leads':>6} {'share':>7} {'fair':>7} {'ratio':>6}")
    for rep in reps:
        share = month.given[rep.user_id] / shared
        ratio = ratios.get(rep.user_id, float("nan"))
        print(
            f"{rep.user_id:<13} {rep.weight:>6} {month.given[rep.user_id]:>6} "
            f"{share:>7.2%} {entitled[rep.user_id]:>7.2%} {ratio:>6.2f}"
        )
    worst = max(ratios.values()) / min(ratios.values())
    print(f"worst ratio (most / least favoured rep, share against fair share): {worst:.2f}")
    print(f"leads given to a rep unavailable at that moment: {month.to_unavailable}")
    print(f"claim SLA misses (claimed > {window}): {missed} ({missed / total:.1%})")
    if month.offers:
        made = month.offers["made"]
        print(
            f"offers: {made} made, {month.offers['passed']} passed, "
            f"{month.offers['timed out']} timed out; "
            f"offered to a rep unavailable at that moment: {month.offers['to an unavailable rep']}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=10_000)
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--capacity", type=int, default=10)
    parser.add_argument("--contact-hours", type=float, default=4.0)
    parser.add_argument("--claim-minutes", type=float, default=15.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--owned", type=float, default=0.7, help="share of leads with an owner")
    parser.add_argument("--offer-minutes", type=float, default=5.0)
    parser.add_argument("--offer-tries", type=int, default=3)
    options = parser.parse_args()
    rng = random.Random(options.seed)
    reps = make_reps(rng, options.reps)
    leads = arrivals(rng, options.leads)
    owners = crm_owners(rng, reps, len(leads), options.owned)
    entitled = entitled_shares(reps, leads)
    window = timedelta(minutes=options.claim_minutes)
    for mode in ("channel", "assign", "offer", "owner"):
        report(mode, run(mode, reps, leads, owners, options), reps, entitled, window)


if __name__ == "__main__":
    main()

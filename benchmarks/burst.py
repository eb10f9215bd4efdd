"""Benchmark of a burst at Slack's real pace: do a person's clicks and other channels wait behind
hundreds of queued cards?

For each database (SQLite in a temporary directory, PostgreSQL from BATON_TEST_POSTGRES_URL, which
is wiped and migrated), the Slack emulator runs in its own process enforcing Slack's rate limits
(posts about one a second per channel, each other method by its tier), and the real Baton server
(`BatonServer`, default delivery pace) in another. Then:

1. `--leads` leads for #sales arrive at once (one `POST /api/leads/batch`).
2. `--reps` reps watch #sales and click Accept on each card as it appears, for `--click-for`
   seconds from the first card; every `--race-every`th card is clicked by two reps at once, so
   one of them loses.
3. During that window, `--other-leads` leads routed to a second channel (#sales-eu, by a route on
   their campaign) arrive one by one.
4. The run waits up to `--settle` seconds for everything those clicks and leads cause.

It prints p50/p99 from a click to the card's redraw (its `chat.update`, or a `response_url`
replacing it), to the owner's DM, to the loser's notice (`chat.postEphemeral` or a
`response_url` answer), and from a lead's intake to its card in the second channel; then the
server's memory (RSS at the end and its peak). Arrivals are the emulator's records of the calls,
stamped on its clock when it answered them; clicks and intakes are stamped on the same machine's
wall clock as they are sent, so no polling delay enters the figures. Percentiles are nearest-rank;
what never arrived counts as longer than the run waited (shown as `>` the settle time).

Run from the repository root:

    .venv/bin/python -m benchmarks.burst [--databases sqlite,postgresql] [--leads 500]
        [--reps 20] [--race-every 5] [--click-for 60] [--other-leads 5] [--settle 180]

Exits 1 if a click was not acknowledged, a lead was refused, or something never arrived.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import queue
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from urllib.parse import parse_qsl

import httpx
from sqlalchemy import select

from benchmarks.handoff import (
    DATABASE_KINDS,
    EXAMPLE_RULES,
    INTAKE_HEADERS,
    baton_environment,
    empty_database,
    lead_payloads,
    percentiles,
    signed,
)
from benchmarks.machine import CoreTimes, database_version, machine_facts
from benchmarks.reports import memory_mb
from benchmarks.slack_process import (
    CallLog,
    Card,
    SlackProcess,
    cards_in,
    posted_card,
    slack_process,
)
from handlers.config import load_config
from handlers.serve import BatonServer
from slack_emulator import SALES_CHANNEL, Channel, RateLimits, User, Workspace
from slack_emulator.store import Call
from slack_emulator.workspace import default_channels, default_users
from storage.db import Database
from storage.models import Lead

OTHER_CHANNEL = Channel("C0SALESEU01", "sales-eu")
OTHER_CAMPAIGN = "Burst benchmark: EU"
ACCEPT = "lead.accept"
POLL_SECONDS = 0.05
CLIENT_TIMEOUT = 30.0
START_TIMEOUT = 120.0
ACK_BUDGET = 3.0
REPS = tuple(User(f"U0BURST{n:04d}", f"burst{n}", f"Burst Rep {n}") for n in range(100))

# ------------------------------------------------------------------------------ the servers


def rules_with_route(directory: Path) -> Path:
    """The example rules plus a route sending the second channel's leads there."""
    rules = directory / "burst.toml"
    route = (
        f'\n[[routes]]\nmatch = {{ campaign = "{OTHER_CAMPAIGN}" }}\n'
        f'channel = "{OTHER_CHANNEL.id}"\n'
    )
    rules.write_text(EXAMPLE_RULES.read_text() + route)
    return rules


def serve(environment: dict[str, str], commands: Connection) -> None:
    """The server process: Baton as `baton serve` runs it, until told to stop."""
    server = BatonServer(load_config(environment))
    commands.send(server.start(host="127.0.0.1"))
    commands.recv()
    server.stop()


@contextmanager
def baton_process(environment: dict[str, str]) -> Iterator[tuple[str, int]]:
    """Baton's URL and process id, serving in a process of its own while the block runs."""
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    process = context.Process(target=serve, args=(environment, theirs), daemon=True)
    process.start()
    try:
        if not ours.poll(START_TIMEOUT):
            raise SystemExit(f"the Baton server did not start within {START_TIMEOUT:.0f} s")
        assert process.pid is not None
        yield ours.recv(), process.pid
        ours.send("stop")
    finally:
        process.join(timeout=30)
        if process.is_alive():
            process.kill()


# ------------------------------------------------------------------------------ the people


@dataclass(frozen=True)
class Click:
    card: Card
    user: str
    sent_at: float  # wall clock, just before the POST
    response_url_id: str
    status: int  # of the acknowledgement; 0 when none came
    ack_seconds: float


@dataclass(frozen=True)
class Intake:
    lead_id: int
    sent_at: float


class Reps:
    """One thread per rep, clicking Accept on the cards handed to it, in turn."""

    def __init__(self, slack: SlackProcess, events_url: str, reps: Sequence[User]) -> None:
        self.slack = slack
        self.events_url = events_url
        self.clicks: list[Click] = []
        self.errors: list[str] = []
        self._queues = {rep.id: queue.SimpleQueue[Card | None]() for rep in reps}
        self._threads = [
            threading.Thread(target=self._work, args=(rep.id,), daemon=True) for rep in reps
        ]
        for thread in self._threads:
            thread.start()

    def hand(self, card: Card, user: str) -> None:
        self._queues[user].put(card)

    def finish(self) -> None:
        for waiting in self._queues.values():
            waiting.put(None)
        for thread in self._threads:
            thread.join(timeout=CLIENT_TIMEOUT * 2)

    def _work(self, user: str) -> None:
        with httpx.Client(timeout=CLIENT_TIMEOUT, trust_env=False) as client:
            while (card := self._queues[user].get()) is not None:
                try:
                    self.clicks.append(self._click(client, user, card))
                except (httpx.HTTPError, LookupError) as error:
                    self.errors.append(f"{user} on lead {card.lead_id}: {error!r}")

    def _click(self, client: httpx.Client, user: str, card: Card) -> Click:
        body, content_type = self.slack.click_request(user, card.channel, card.ts, ACCEPT)
        request = signed([(body, content_type)], self.events_url)[0]
        sent_at = time.time()
        began = time.perf_counter()
        try:
            status = client.post(request.url, content=request.body, headers=request.headers)
            code = status.status_code
        except httpx.HTTPError:
            code = 0
        payload = json.loads(dict(parse_qsl(body))["payload"])
        url_id = payload["response_url"].rsplit("/", 1)[-1]
        return Click(card, user, sent_at, url_id, code, time.perf_counter() - began)


# ------------------------------------------------------------------------------ the run


@dataclass
class Figure:
    label: str
    seconds: list[float] = field(default_factory=list)
    expected: int = 0

    @property
    def missing(self) -> int:
        return self.expected - len(self.seconds)


@dataclass
class BurstReport:
    kind: str
    version: str
    cards_in_sales: int = 0
    clicks: list[Click] = field(default_factory=list)
    raced: int = 0
    figures: list[Figure] = field(default_factory=list)
    refused_429: dict[str, int] = field(default_factory=dict)
    memory: tuple[float, float] = (0.0, 0.0)
    problems: list[str] = field(default_factory=list)


class Burst:
    """One database's run: feeds the load, watches the emulator's calls, matches arrivals."""

    def __init__(
        self,
        slack: SlackProcess,
        server_url: str,
        database_url: str,
        options: argparse.Namespace,
        kind: str,
    ) -> None:
        self.database_url = database_url
        self.options = options
        self.kind = kind
        self.server_url = server_url
        self.log = CallLog(slack)
        self.reps_users = REPS[: options.reps]
        self.reps = Reps(slack, f"{server_url}/slack/events", self.reps_users)
        self.intakes: list[Intake] = []
        self.seen_cards: set[tuple[str, str]] = set()
        self.handed = 0
        self.raced = 0
        self.problems: list[str] = []

    def run(self) -> None:
        options = self.options
        batch = threading.Thread(target=self._post_batch)
        batch.start()
        first_card_at: float | None = None
        started = time.time()
        others_sent = 0
        while True:
            now = time.time()
            for call in self.log.refresh():
                card = posted_card(call)
                if card is None or card.channel != SALES_CHANNEL:
                    continue
                first_card_at = first_card_at or now
                if now - first_card_at <= options.click_for:
                    self._hand_out(card)
            window_start = first_card_at or started
            if others_sent < options.other_leads:
                due = window_start + (others_sent + 1) * options.click_for / (
                    options.other_leads + 1
                )
                if now >= due:
                    self._post_other(others_sent)
                    others_sent += 1
            if first_card_at is not None and now - first_card_at > options.click_for:
                break
            if first_card_at is None and now - started > START_TIMEOUT:
                self.problems.append(f"no card in #sales within {START_TIMEOUT:.0f} s")
                break
            time.sleep(POLL_SECONDS)
        while others_sent < options.other_leads:  # the window ended early: send the rest now
            self._post_other(others_sent)
            others_sent += 1
        batch.join()
        self.reps.finish()
        self.problems.extend(self.reps.errors[:5])

    def _hand_out(self, card: Card) -> None:
        if (card.channel, card.ts) in self.seen_cards:
            return
        self.seen_cards.add((card.channel, card.ts))
        count = len(self.reps_users)
        self.reps.hand(card, self.reps_users[self.handed % count].id)
        if self.handed % self.options.race_every == 0 and count > 1:
            self.reps.hand(card, self.reps_users[(self.handed + 1) % count].id)
            self.raced += 1
        self.handed += 1

    def _post_batch(self) -> None:
        leads = lead_payloads(self.kind, range(self.options.leads))
        for lead in leads:
            lead["country"] = "US"
        with httpx.Client(timeout=120.0, trust_env=False) as client:
            answer = client.post(
                f"{self.server_url}/api/leads/batch", json={"leads": leads}, headers=INTAKE_HEADERS
            )
        if answer.status_code != 200:
            self.problems.append(f"the batch was refused: HTTP {answer.status_code}")

    def _post_other(self, number: int) -> None:
        lead = lead_payloads(f"{self.kind}-eu", range(number, number + 1))[0]
        lead["campaign"] = OTHER_CAMPAIGN
        sent_at = time.time()
        answer = httpx.post(
            f"{self.server_url}/api/leads",
            json=lead,
            headers=INTAKE_HEADERS,
            timeout=CLIENT_TIMEOUT,
            trust_env=False,
        )
        if answer.status_code != 201:
            self.problems.append(f"a lead for #{OTHER_CHANNEL.name}: HTTP {answer.status_code}")
            return
        self.intakes.append(Intake(int(answer.json()["id"]), sent_at))

    def arrived(self) -> list[Figure]:
        """What arrived so far, each card's winner read from the database."""
        self.log.refresh()
        lead_ids = sorted({click.card.lead_id for click in self.reps.clicks})
        owners = owners_of(self.database_url, lead_ids)
        return arrivals(self.log.calls, self.reps.clicks, self.intakes, owners)


def arrivals(
    calls: Sequence[Call],
    clicks: Sequence[Click],
    intakes: Sequence[Intake],
    owners: dict[int, str | None],
) -> list[Figure]:
    """The four figures: each expected arrival matched to the first call that delivered it."""
    ok = [call for call in calls if call.ok]
    by_card: dict[int, list[Click]] = defaultdict(list)
    for click in clicks:
        by_card[click.card.lead_id].append(click)
    first_click = {lead: min(c.sent_at for c in group) for lead, group in by_card.items()}
    replies = {call.args["url_id"]: call for call in ok if call.method == "response_url"}

    redraw = Figure("click -> card redraw", expected=len(by_card))
    for lead_id, group in by_card.items():
        card = group[0].card
        moments = [
            call.at
            for call in ok
            if call.method == "chat.update"
            and call.args.get("ts") == card.ts
            and call.at >= first_click[lead_id]
        ]
        moments += [
            replies[c.response_url_id].at
            for c in group
            if c.response_url_id in replies
            and (replies[c.response_url_id].args.get("body") or {}).get("replace_original")
        ]
        if moments:
            redraw.seconds.append(min(moments) - first_click[lead_id])

    dm = Figure("click -> owner's DM", expected=len(by_card))
    notice = Figure("click -> loser's notice")
    dms: dict[str, list[float]] = defaultdict(list)
    ephemerals: dict[str, list[float]] = defaultdict(list)
    for call in ok:
        channel = str(call.response.get("channel", ""))
        if call.method == "chat.postMessage" and channel.startswith("D"):
            dms["U" + channel[1:]].append(call.at)  # the emulator's DM ids: D + the user's tail
        if call.method == "chat.postEphemeral" and call.args.get("channel") == SALES_CHANNEL:
            ephemerals[str(call.args.get("user"))].append(call.at)
    wins: dict[str, list[float]] = defaultdict(list)
    losses: list[Click] = []
    for lead_id, group in by_card.items():
        owner = owners.get(lead_id)
        winner = next((c for c in group if c.user == owner), None)
        if winner is None:
            continue
        wins[winner.user].append(first_click[lead_id])
        losses.extend(c for c in group if c is not winner)
    for user, clicked in wins.items():
        dm.seconds.extend(_paired(sorted(clicked), dms[user]))
    notice.expected = len(losses)
    for user in {loss.user for loss in losses}:
        mine = sorted((c for c in losses if c.user == user), key=lambda c: c.sent_at)
        answered = [
            replies[c.response_url_id].at - c.sent_at for c in mine if c.response_url_id in replies
        ]
        unanswered = [c.sent_at for c in mine if c.response_url_id not in replies]
        notice.seconds.extend(answered + _paired(unanswered, ephemerals[user]))

    other = Figure(f"intake -> card in #{OTHER_CHANNEL.name}", expected=len(intakes))
    posted = cards_in(calls, OTHER_CHANNEL.id)
    other.seconds = [posted[i.lead_id].at - i.sent_at for i in intakes if i.lead_id in posted]
    return [redraw, dm, notice, other]


def _paired(sent: Sequence[float], delivered: Sequence[float]) -> list[float]:
    """Each moment of `sent` (ascending) paired with the first unused delivery at or after it:
    one person's DMs or notices come in the order of the clicks that caused them."""
    delays = []
    remaining = sorted(delivered)
    for moment in sent:
        match = next((at for at in remaining if at >= moment), None)
        if match is None:
            break
        remaining.remove(match)
        delays.append(match - moment)
    return delays


def owners_of(url: str, lead_ids: Sequence[int]) -> dict[int, str | None]:
    db = Database.from_url(url)
    try:
        with db.read() as session:
            rows = session.execute(select(Lead.id, Lead.owner_id).where(Lead.id.in_(lead_ids)))
            return {lead_id: owner for lead_id, owner in rows}
    finally:
        db.dispose()


def benchmark_database(kind: str, options: argparse.Namespace) -> BurstReport:
    workspace = Workspace(
        users=default_users() + REPS[: options.reps],
        channels=(*default_channels(), OTHER_CHANNEL),
    )
    with (
        empty_database(kind) as url,
        tempfile.TemporaryDirectory(prefix="baton-burst-") as directory,
        slack_process(workspace, RateLimits()) as slack,
    ):
        report = BurstReport(kind, database_version(url))
        print(f"... {report.version}: the burst, then up to {options.settle} s", flush=True)
        environment = baton_environment(url, slack.api_url, rules_with_route(Path(directory)))
        with baton_process(environment) as (server_url, pid):
            burst = Burst(slack, server_url, url, options, kind)
            burst.run()
            deadline = time.time() + options.settle
            report.figures = burst.arrived()
            while time.time() < deadline and any(figure.missing for figure in report.figures):
                time.sleep(1.0)
                report.figures = burst.arrived()
            report.memory = memory_mb(pid)
        report.clicks = burst.reps.clicks
        report.raced = burst.raced
        report.problems.extend(burst.problems)
        calls = burst.log.calls
        report.cards_in_sales = len(cards_in(calls, SALES_CHANNEL))
        for call in calls:
            if call.status == 429:
                report.refused_429[call.method] = report.refused_429.get(call.method, 0) + 1
    for figure in report.figures:
        if figure.missing:
            report.problems.append(
                f"{figure.label}: {figure.missing} of {figure.expected} never arrived "
                f"(each waited at least {options.settle} s)"
            )
    not_acked = [click for click in report.clicks if click.status != 200]
    if not_acked:
        report.problems.append(f"{len(not_acked)} clicks not acknowledged with 200")
    return report


# ------------------------------------------------------------------------------ output


def print_report(report: BurstReport, options: argparse.Namespace) -> None:
    print(f"\n== {report.version} ==")
    print(
        f"  {options.leads} leads for #sales at once; {len(report.clicks)} clicks by "
        f"{options.reps} reps on the cards of the first {options.click_for} s "
        f"({report.raced} cards raced by two); {options.other_leads} leads for "
        f"#{OTHER_CHANNEL.name} meanwhile"
    )
    print(f"  {'figure':<34}{'arrived':>10}{'p50 s':>9}{'p99 s':>9}{'max s':>9}")
    for figure in report.figures:
        # What never arrived counts as longer than the wait for it (at least --settle seconds).
        waits = sorted(figure.seconds) + [math.inf] * figure.missing
        shown = "".join(
            f"{_seconds(_nearest_rank(waits, p), options.settle):>9}" for p in (50, 99, 100)
        )
        print(f"  {figure.label:<34}{f'{len(figure.seconds)}/{figure.expected}':>10}{shown}")
    acks = [click.ack_seconds for click in report.clicks]
    p50, p99 = percentiles(acks)
    late = sum(1 for ack in acks if ack > ACK_BUDGET)
    print(f"  click acks: p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, {late} over 3 s")
    refused = ", ".join(f"{method} {n}" for method, n in sorted(report.refused_429.items()))
    print(
        f"  cards in #sales by the end: {report.cards_in_sales}/{options.leads}; "
        f"429s from Slack: {refused or 'none'}"
    )
    rss, peak = report.memory
    print(f"  server memory: RSS {rss:.0f} MB at the end, peak {peak:.0f} MB")
    for problem in report.problems:
        print(f"  PROBLEM: {problem}")


def _nearest_rank(ordered: Sequence[float], percent: int) -> float | None:
    if not ordered:
        return None
    return ordered[max(1, math.ceil(percent * len(ordered) / 100)) - 1]


def _seconds(value: float | None, settle: int) -> str:
    if value is None:
        return "-"
    return f">{settle}" if math.isinf(value) else f"{value:.2f}"


# ------------------------------------------------------------------------------ main


def parse_options(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.burst", description=__doc__)
    parser.add_argument("--databases", default=",".join(DATABASE_KINDS))
    parser.add_argument("--leads", type=int, default=500, help="leads for #sales, at once")
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--race-every", type=int, default=5, help="every Nth card: two reps")
    parser.add_argument("--click-for", type=int, default=60, help="seconds of clicking")
    parser.add_argument("--other-leads", type=int, default=5, help="leads for the 2nd channel")
    parser.add_argument("--settle", type=int, default=180, help="seconds to wait for arrivals")
    options = parser.parse_args(argv)
    options.kinds = [kind.strip() for kind in options.databases.split(",") if kind.strip()]
    if set(options.kinds) - set(DATABASE_KINDS) or not options.kinds:
        parser.error(f"--databases takes a list of {', '.join(DATABASE_KINDS)}")
    if not 1 <= options.leads <= 1000 or not 1 <= options.reps <= len(REPS):
        parser.error(f"--leads takes 1 to 1000 (one batch), --reps 1 to {len(REPS)}")
    if (
        min(options.race_every, options.click_for) < 1
        or min(options.other_leads, options.settle) < 0
    ):
        parser.error("--race-every and --click-for take 1 or more, the others 0 or more")
    return options


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv)
    print(machine_facts(), flush=True)
    began = time.perf_counter()
    reports = []
    for kind in options.kinds:
        cores_before = CoreTimes.now()
        report = benchmark_database(kind, options)
        print_report(report, options)
        print(f"  during it {CoreTimes.now().stolen_since(cores_before)}")
        reports.append(report)
    print(f"\ntotal run time {time.perf_counter() - began:.0f} s")
    failed = any(report.problems for report in reports)
    if failed:
        print("FAILED: see the PROBLEM lines above")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

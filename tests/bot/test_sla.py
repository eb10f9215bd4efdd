"""SLA rules on fixed instants: policies, windows, reminder moments; the sweep fires once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from bot.lifecycle import Actor, Lifecycle
from bot.rules import DEFAULT_REASONS, Rules, parse_rules
from bot.sla_policy import SlaPolicies
from bot.sla_sweep import SlaSweep
from storage import leads as lead_store
from storage import outbox as outbox_store
from storage import timers as timer_store
from storage.db import Database
from storage.models import Lead, LeadStatus, OutboxKind, TimerKind
from tests.factories import create_lead

NY_TUESDAY_10 = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # Tuesday 10:00 in New York
NY_FRIDAY_15 = datetime(2026, 11, 20, 20, 0, tzinfo=UTC)  # Friday 15:00 in New York
POLICIES = SlaPolicies(Rules())
LIFECYCLE = Lifecycle(POLICIES)
SWEEP = SlaSweep(LIFECYCLE)
REP = Actor("U0REP000001")


def post(db: Database, *, now: datetime, **fields: object) -> int:
    with db.write() as session:
        lead_id = create_lead(session, **fields).id
        LIFECYCLE.card_posted(session, lead_id=lead_id, channel="C0SALES0001", ts="1.1", now=now)
    return lead_id


def sweep(db: Database, now: datetime, sla: SlaSweep = SWEEP) -> list[tuple[TimerKind, bool]]:
    """The SLA moments a sweep fired (an Undo lapsing is none: tests/e2e test it end to end)."""
    with db.write() as session:
        fired = sla.sweep(session, now=now)
    return [(one.kind, one.acted) for one in fired if one.kind != TimerKind.UNDO_CLOSES]


def sweep_for(rules: Rules) -> SlaSweep:
    """The sweep, and through it the lifecycle, bound to `rules`."""
    return SlaSweep(Lifecycle(SlaPolicies(rules)))


def outbox_kinds(db: Database, lead_id: int) -> list[str]:
    with db.read() as session:
        return [
            row.kind
            for row in outbox_store.list_rows(session, lead_id=lead_id)
            if row.kind not in (OutboxKind.POST_CARD, OutboxKind.UPDATE_CARD)
        ]


def test_first_matching_policy_wins_and_the_last_is_the_default(db: Database) -> None:
    with db.write() as session:
        hot = create_lead(session, external_id="a", intent="pricing")
        other = create_lead(session, external_id="b", intent="content")
        assert POLICIES.policy_for(hot).name == "hot"
        assert POLICIES.policy_for(other).name == "standard"


def test_policies_match_on_score_ranges_and_countries() -> None:
    rules = parse_rules(
        {
            "sla": [
                {"name": "vip", "match": {"score_min": 90}, "claim": "5m", "follow_up": "1h"},
                {"name": "emea", "match": {"country": "de"}, "claim": "2h", "follow_up": "1d"},
                {"name": "default", "claim": "4h", "follow_up": "1d"},
            ]
        },
        source="test",
    )
    policies = SlaPolicies(rules)
    assert policies.policy_for(Lead(score=95, country="US")).name == "vip"
    assert policies.policy_for(Lead(score=50, country="DE")).name == "emea"
    assert policies.policy_for(Lead(score=None, country=None)).name == "default"


def test_hot_leads_count_wall_clock_minutes(db: Database) -> None:
    saturday_night = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
    lead_id = post(db, now=saturday_night, intent="demo_request")
    with db.read() as session:
        lead = lead_store.get_lead(session, lead_id)
        timers = timer_store.list_for_lead(session, lead_id)
    assert lead.sla_policy == "hot"
    assert lead.claim_due_at == saturday_night + timedelta(minutes=15)
    assert [(t.kind, t.due_at) for t in timers] == [
        (TimerKind.CLAIM_REMINDER, saturday_night + timedelta(minutes=10)),
        (TimerKind.CLAIM_BREACH, saturday_night + timedelta(minutes=15)),
    ]


def test_standard_leads_count_business_hours_over_the_weekend(db: Database) -> None:
    lead_id = post(db, now=NY_FRIDAY_15, intent="content")
    with db.read() as session:
        lead = lead_store.get_lead(session, lead_id)
        timers = timer_store.list_for_lead(session, lead_id)
    monday_11 = datetime(2026, 11, 23, 16, 0, tzinfo=UTC)
    monday_10 = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # 3 of the 4 working hours used
    assert lead.claim_due_at == monday_11
    assert [(t.kind, t.due_at) for t in timers] == [
        (TimerKind.CLAIM_REMINDER, monday_10),
        (TimerKind.CLAIM_BREACH, monday_11),
    ]


def test_accepting_starts_the_follow_up_window_in_working_days(db: Database) -> None:
    lead_id = post(db, now=NY_TUESDAY_10, intent="content")
    with db.write() as session:
        LIFECYCLE.accept(session, lead_id=lead_id, actor=REP, now=NY_TUESDAY_10)
    with db.read() as session:
        lead = lead_store.get_lead(session, lead_id)
        timers = timer_store.list_for_lead(session, lead_id)
    # "1d" of business time is one working day: Tuesday 10:00 -> Wednesday 10:00.
    assert lead.follow_up_due_at == NY_TUESDAY_10 + timedelta(days=1)
    assert lead.claim_due_at is None
    pending = [t.kind for t in timers if t.fired_at is None and t.cancelled_at is None]
    assert pending == [
        TimerKind.FOLLOW_UP_REMINDER,
        TimerKind.FOLLOW_UP_BREACH,
        TimerKind.UNDO_CLOSES,  # the rep's Undo lapses: its button is then taken away
    ]


def test_reminder_then_breach_fire_once_each(db: Database) -> None:
    start = NY_TUESDAY_10
    lead_id = post(db, now=start, intent="demo_request")

    assert sweep(db, start + timedelta(minutes=9)) == []
    assert sweep(db, start + timedelta(minutes=10)) == [(TimerKind.CLAIM_REMINDER, True)]
    assert sweep(db, start + timedelta(minutes=11)) == []
    assert outbox_kinds(db, lead_id) == [OutboxKind.THREAD_REPLY]

    assert sweep(db, start + timedelta(minutes=15)) == [(TimerKind.CLAIM_BREACH, True)]
    assert sweep(db, start + timedelta(hours=5)) == []
    with db.read() as session:
        lead = lead_store.get_lead(session, lead_id)
        escalation = [e for e in lead_store.list_events(session, lead_id) if e.action == "escalate"]
    assert lead.status == LeadStatus.ESCALATED
    assert len(escalation) == 1 and escalation[0].details["breach"] == "claim"
    # The thread hears about it; with no managers configured, nobody gets a DM.
    assert outbox_kinds(db, lead_id) == [OutboxKind.THREAD_REPLY, OutboxKind.THREAD_REPLY]


def test_breach_dms_the_managers_and_reopens_by_policy(db: Database) -> None:
    sla = sweep_for(Rules.model_validate({"roles": {"managers": ["U0MANAGER01"]}}))
    with db.write() as session:
        lead_id = create_lead(session, intent="content").id
        sla.lifecycle.card_posted(
            session, lead_id=lead_id, channel="C1", ts="1.1", now=NY_TUESDAY_10
        )
        sla.lifecycle.accept(session, lead_id=lead_id, actor=REP, now=NY_TUESDAY_10)
    fired = sweep(db, NY_TUESDAY_10 + timedelta(days=2), sla)
    assert fired == [(TimerKind.FOLLOW_UP_REMINDER, True), (TimerKind.FOLLOW_UP_BREACH, True)]
    with db.read() as session:
        lead = lead_store.get_lead(session, lead_id)
        dms = [
            r.user_id for r in outbox_store.list_rows(session, lead_id=lead_id) if r.kind == "dm"
        ]
    assert (lead.status, lead.owner_id) == (LeadStatus.ESCALATED, None)  # standard reopens
    assert dms == [REP.id, REP.id, "U0MANAGER01"]  # claimed, reminder, escalation


def test_nothing_fires_after_the_lead_is_accepted(db: Database) -> None:
    lead_id = post(db, now=NY_TUESDAY_10, intent="demo_request")
    with db.write() as session:
        LIFECYCLE.reject(
            session,
            lead_id=lead_id,
            actor=REP,
            reason="no_need",
            note=None,
            reasons=DEFAULT_REASONS,
            now=NY_TUESDAY_10 + timedelta(minutes=1),
        )
    told = outbox_kinds(db, lead_id)
    # The rejection's line in the card's thread, and the rejecter's own confirmation.
    assert told == [OutboxKind.THREAD_REPLY, OutboxKind.DM]
    assert sweep(db, NY_TUESDAY_10 + timedelta(days=30)) == []
    assert outbox_kinds(db, lead_id) == told


def test_a_released_lead_gets_a_fresh_claim_window(db: Database) -> None:
    lead_id = post(db, now=NY_TUESDAY_10, intent="demo_request")
    later = NY_TUESDAY_10 + timedelta(minutes=12)
    with db.write() as session:
        LIFECYCLE.accept(session, lead_id=lead_id, actor=REP, now=later)
        LIFECYCLE.release(session, lead_id=lead_id, actor=REP, now=later)
    assert sweep(db, NY_TUESDAY_10 + timedelta(minutes=15)) == []  # the old window is gone
    assert sweep(db, later + timedelta(minutes=15)) == [
        (TimerKind.CLAIM_REMINDER, True),
        (TimerKind.CLAIM_BREACH, True),
    ]


def test_concurrent_sweeps_fire_each_moment_once(db: Database) -> None:
    lead_ids = [
        post(db, now=NY_TUESDAY_10, intent="demo_request", external_id=f"x{n}") for n in range(20)
    ]
    at = NY_TUESDAY_10 + timedelta(hours=1)
    results: list[list[tuple[TimerKind, bool]]] = []
    barrier = threading.Barrier(4)

    def run() -> None:
        barrier.wait()
        results.append(sweep(db, at))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    fired = [kind for result in results for kind, _ in result]
    assert len(fired) == 2 * len(lead_ids)
    assert fired.count(TimerKind.CLAIM_BREACH) == len(lead_ids)
    with db.read() as session:
        escalations = sum(
            1
            for lead_id in lead_ids
            for event in lead_store.list_events(session, lead_id)
            if event.action == "escalate"
        )
    assert escalations == len(lead_ids)


@pytest.mark.parametrize("remind_before", ["5m", "25%"])
def test_reminder_never_lands_before_the_window_starts(remind_before: str) -> None:
    rules = parse_rules(
        {
            "sla": [
                {
                    "name": "x",
                    "claim": "2m",
                    "follow_up": "1h",
                    "remind_before": remind_before,
                    "business_hours": False,
                }
            ]
        },
        source="test",
    )
    due = NY_TUESDAY_10 + timedelta(minutes=2)
    moment = SlaPolicies(rules).reminder_moment(NY_TUESDAY_10, due, rules.sla[0])
    assert NY_TUESDAY_10 <= moment < due


def test_breach_is_posted_to_the_escalation_channel_and_pings_manager_groups(
    db: Database,
) -> None:
    rules = parse_rules(
        {
            "roles": {"managers": ["U0MANAGER01"], "manager_groups": ["S0SALESMGRS"]},
            "sla": [
                {
                    "name": "fast",
                    "claim": "10m",
                    "follow_up": "1h",
                    "business_hours": False,
                    "escalation_channel": "C0ESCALATE1",
                }
            ],
        },
        source="test",
    )
    sla = sweep_for(rules)
    with db.write() as session:
        lead_id = create_lead(session).id
        sla.lifecycle.card_posted(
            session, lead_id=lead_id, channel="C1", ts="1.1", now=NY_TUESDAY_10
        )
    sweep(db, NY_TUESDAY_10 + timedelta(minutes=10), sla)

    with db.read() as session:
        rows = outbox_store.list_rows(session, lead_id=lead_id)
    thread = [r.payload["text"] for r in rows if r.kind == OutboxKind.THREAD_REPLY]
    posted = [(r.channel, r.payload["text"]) for r in rows if r.kind == OutboxKind.CHANNEL_MESSAGE]
    assert "<!subteam^S0SALESMGRS>" in thread[-1] and "<@U0MANAGER01>" in thread[-1]
    assert len(posted) == 1 and posted[0][0] == "C0ESCALATE1"
    assert "Dana Whitfield (Northwind Traders)" in posted[0][1]


def test_claim_reminder_can_show_in_the_channel_too(db: Database) -> None:
    quiet = sweep_for(parse_rules({}, source="test"))  # the default hot policy: thread only
    loud = sweep_for(
        parse_rules(
            {
                "sla": [
                    {
                        "name": "loud",
                        "claim": "10m",
                        "follow_up": "1h",
                        "remind_before": "5m",
                        "business_hours": False,
                        "remind_in_channel": True,
                    }
                ]
            },
            source="test",
        )
    )
    for name, sla in (("quiet", quiet), ("loud", loud)):
        with db.write() as session:
            lead_id = create_lead(session, external_id=name, intent="demo_request").id
            sla.lifecycle.card_posted(
                session, lead_id=lead_id, channel="C1", ts="1.1", now=NY_TUESDAY_10
            )
        sweep(db, NY_TUESDAY_10 + timedelta(minutes=10), sla)
        with db.read() as session:
            (reminder,) = [
                r
                for r in outbox_store.list_rows(session, lead_id=lead_id)
                if r.kind == OutboxKind.THREAD_REPLY and "Still unclaimed" in r.payload["text"]
            ]
        assert reminder.payload["broadcast"] is (name == "loud")

"""The lead state machine: every allowed and forbidden move, audit rows, permissions, races."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from bot import notices, outbox
from bot.errors import AlreadyClaimed, InvalidInput, InvalidTransition, LeadNotFound, NotAllowed
from bot.lifecycle import Actor, Lifecycle, Outcome
from bot.rules import DEFAULT_REASONS, Rules
from bot.sla_policy import SlaPolicies
from storage import leads as lead_store
from storage import outbox as outbox_store
from storage import timers as timer_store
from storage.db import Database
from storage.models import Lead, LeadStatus, OutboxKind, TimerKind
from tests.conftest import NOW
from tests.factories import create_lead

S = LeadStatus
OWNER = Actor("U0REP000001")
OTHER_REP = Actor("U0REP000002")
MANAGER = Actor("U0MANAGER01", is_manager=True)
WON_100 = Outcome(S.WON, amount=Decimal("100"), currency="EUR")
POLICIES = SlaPolicies(Rules())
LIFECYCLE = Lifecycle(POLICIES)


def outcome_by_manager(session: Session, lead_id: int) -> Lead:
    return LIFECYCLE.record_outcome(
        session, lead_id=lead_id, actor=MANAGER, outcome=WON_100, now=NOW
    )[0]


# action name -> (call, statuses it may start from, status it ends in). Written out by hand
# from the lifecycle in docs/events.md, not derived from the code under test.
Call = Callable[[Session, int], Lead]
MOVES: dict[str, tuple[Call, set[LeadStatus], LeadStatus]] = {
    "accept": (
        lambda s, i: LIFECYCLE.accept(s, lead_id=i, actor=OTHER_REP, now=NOW),
        {S.NEW, S.OPEN, S.ESCALATED},
        S.ACCEPTED,
    ),
    "reject": (
        lambda s, i: LIFECYCLE.reject(
            s,
            lead_id=i,
            actor=OTHER_REP,
            reason="not_icp",
            note="Too small",
            reasons=DEFAULT_REASONS,
            now=NOW,
        ),
        {S.NEW, S.OPEN, S.ESCALATED},
        S.REJECTED,
    ),
    "escalate": (
        lambda s, i: LIFECYCLE.escalate(s, lead_id=i, breach="claim", reopen=False, now=NOW),
        {S.OPEN, S.ACCEPTED},
        S.ESCALATED,
    ),
    "reopen": (
        lambda s, i: LIFECYCLE.reopen(s, lead_id=i, actor=MANAGER, now=NOW),
        {S.ACCEPTED, S.REJECTED, S.ESCALATED},
        S.OPEN,
    ),
    "release": (
        lambda s, i: LIFECYCLE.release(s, lead_id=i, actor=MANAGER, now=NOW),
        {S.ACCEPTED},
        S.OPEN,
    ),
    "assign": (
        lambda s, i: LIFECYCLE.assign(s, lead_id=i, actor=MANAGER, assignee="U0REP000003", now=NOW),
        {S.NEW, S.OPEN, S.ESCALATED, S.ACCEPTED},
        S.ACCEPTED,
    ),
    "mark_contacted": (
        lambda s, i: LIFECYCLE.mark_contacted(s, lead_id=i, actor=MANAGER, now=NOW),
        {S.ACCEPTED, S.ESCALATED},
        S.CONTACTED,
    ),
    # An escalated lead here has no owner: an outcome follows a claim.
    "outcome": (
        lambda s, i: LIFECYCLE.record_outcome(
            s, lead_id=i, actor=MANAGER, outcome=WON_100, now=NOW
        )[0],
        {S.ACCEPTED, S.CONTACTED, S.OPPORTUNITY, S.WON, S.LOST},
        S.WON,
    ),
}
CASES = [(action, status) for action in MOVES for status in LeadStatus]


@pytest.mark.parametrize(("action", "status"), CASES, ids=[f"{a}-from-{s}" for a, s in CASES])
def test_each_move_is_allowed_exactly_from_its_states(
    db: Database, action: str, status: LeadStatus
) -> None:
    call, allowed_from, target = MOVES[action]
    with db.write() as session:
        lead_id = create_lead(session, status=status).id

    if status in allowed_from:
        with db.write() as session:
            moved = call(session, lead_id)
        assert moved.status == target
        with db.read() as session:
            last = lead_store.list_events(session, lead_id)[-1]
        assert (last.action, last.from_status, last.to_status) == (action, status, target)
    else:
        with pytest.raises(InvalidTransition), db.write() as session:
            call(session, lead_id)
        with db.read() as session:
            assert lead_store.get_lead(session, lead_id).status == status
            assert [e.action for e in lead_store.list_events(session, lead_id)] == ["create"]


# Written out by hand, like MOVES: the moves a person makes, each told in the card's thread.
TOLD_IN_THREAD = {"accept", "reject", "reopen", "release", "assign", "mark_contacted", "outcome"}
FIRST_FROM = {action: sorted(allowed)[0] for action, (_, allowed, _) in MOVES.items()}


@pytest.mark.parametrize("action", list(MOVES))
def test_a_move_queues_its_thread_line_with_it_naming_its_event(db: Database, action: str) -> None:
    with db.write() as session:
        lead_id = create_lead(session, status=FIRST_FROM[action]).id
    with db.write() as session:
        MOVES[action][0](session, lead_id)

    with db.read() as session:
        (event,) = [e for e in lead_store.list_events(session, lead_id) if e.action == action]
        replies = [
            row.payload
            for row in outbox_store.list_rows(session, lead_id=lead_id)
            if row.kind == OutboxKind.THREAD_REPLY
        ]
    assert replies == ([{"event_id": event.id}] if action in TOLD_IN_THREAD else [])


@pytest.mark.parametrize("status", list(LeadStatus))
def test_a_posted_card_opens_a_new_lead_or_attaches_to_one_that_moved_on(
    db: Database, status: LeadStatus
) -> None:
    """The post may land after a manager assigned the lead, or a rep clicked the card the moment
    it appeared: the lead keeps what happened meanwhile, and only a new lead opens."""
    with db.write() as session:
        lead_id = create_lead(session, status=status).id
    with db.write() as session:
        posted = LIFECYCLE.card_posted(
            session, lead_id=lead_id, channel="C0SALES0001", ts="1.000100", now=NOW
        )
    expected = S.OPEN if status == S.NEW else status
    assert (posted.status, posted.slack_channel, posted.slack_ts) == (
        expected,
        "C0SALES0001",
        "1.000100",
    )
    with db.read() as session:
        last = lead_store.list_events(session, lead_id)[-1]
    assert (last.action, last.from_status, last.to_status) == ("post", status, expected)


def test_a_card_posted_after_an_assignment_keeps_the_follow_up_window(db: Database) -> None:
    with db.write() as session:
        lead_id = create_lead(session).id
        LIFECYCLE.assign(session, lead_id=lead_id, actor=MANAGER, assignee=OWNER.id, now=NOW)
    with db.read() as session:
        before = [
            (t.kind, t.due_at, t.cancelled_at) for t in timer_store.list_for_lead(session, lead_id)
        ]
    with db.write() as session:
        LIFECYCLE.card_posted(
            session,
            lead_id=lead_id,
            channel="C0SALES0001",
            ts="1.000100",
            now=NOW + timedelta(minutes=5),
        )
    with db.read() as session:
        lead = lead_store.get_lead(session, lead_id)
        after = [
            (t.kind, t.due_at, t.cancelled_at) for t in timer_store.list_for_lead(session, lead_id)
        ]
    assert (lead.status, lead.owner_id, lead.slack_ts) == (S.ACCEPTED, OWNER.id, "1.000100")
    assert after == before
    assert [kind for kind, _, cancelled in after if cancelled is None] == [
        TimerKind.FOLLOW_UP_REMINDER,
        TimerKind.FOLLOW_UP_BREACH,
    ]


def test_accept_records_owner_time_and_audit_row(db: Database) -> None:
    with db.write() as session:
        lead_id = create_lead(session, status=S.OPEN).id
    with db.write() as session:
        LIFECYCLE.accept(session, lead_id=lead_id, actor=OWNER, now=NOW)
    with db.read() as session:
        lead = lead_store.get_lead(session, lead_id)
        events = lead_store.list_events(session, lead_id)
    assert (lead.owner_id, lead.accepted_at) == (OWNER.id, NOW)
    assert (events[-1].actor, events[-1].at) == (OWNER.id, NOW)


def test_double_click_by_the_owner_changes_nothing(db: Database) -> None:
    with db.write() as session:
        lead_id = create_lead(session, status=S.OPEN).id
    for _ in range(2):
        with db.write() as session:
            LIFECYCLE.accept(session, lead_id=lead_id, actor=OWNER, now=NOW)
    with db.read() as session:
        actions = [e.action for e in lead_store.list_events(session, lead_id)]
    assert actions == ["create", "accept"]


def test_second_rep_learns_who_claimed_the_lead(db: Database) -> None:
    with db.write() as session:
        lead_id = create_lead(session, status=S.OPEN).id
    with db.write() as session:
        LIFECYCLE.accept(session, lead_id=lead_id, actor=OWNER, now=NOW)
    with pytest.raises(AlreadyClaimed) as refused, db.write() as session:
        LIFECYCLE.accept(session, lead_id=lead_id, actor=OTHER_REP, now=NOW)
    assert refused.value.owner_id == OWNER.id
    assert notices.refusal(refused.value) == (
        f"Northwind Traders · Dana Whitfield (#{lead_id}) was already claimed by <@{OWNER.id}>."
    )


def test_reject_after_accept_is_refused_naming_the_owner(db: Database) -> None:
    with db.write() as session:
        lead_id = create_lead(session, status=S.ACCEPTED).id
    with pytest.raises(AlreadyClaimed) as refused, db.write() as session:
        LIFECYCLE.reject(
            session,
            lead_id=lead_id,
            actor=OTHER_REP,
            reason="no_need",
            note=None,
            reasons=DEFAULT_REASONS,
            now=NOW,
        )
    assert (refused.value.owner_id, refused.value.status) == (OWNER.id, S.ACCEPTED)
    assert "already claimed by <@U0REP000001>" in notices.refusal(refused.value)


@pytest.mark.parametrize(
    ("reason", "note", "field"),
    [("not_a_reason", "x", "reason"), ("other", "  ", "note"), ("other", None, "note")],
)
def test_reject_needs_a_known_reason_and_a_note_for_other(
    db: Database, reason: str, note: str | None, field: str
) -> None:
    with db.write() as session:
        lead_id = create_lead(session, status=S.OPEN).id
    with pytest.raises(InvalidInput) as invalid, db.write() as session:
        LIFECYCLE.reject(
            session,
            lead_id=lead_id,
            actor=OWNER,
            reason=reason,
            note=note,
            reasons=DEFAULT_REASONS,
            now=NOW,
        )
    assert field in invalid.value.errors
    with db.read() as session:
        assert lead_store.get_lead(session, lead_id).status == S.OPEN


def test_reject_stores_reason_note_and_who(db: Database) -> None:
    with db.write() as session:
        lead_id = create_lead(session, status=S.OPEN).id
    with db.write() as session:
        LIFECYCLE.reject(
            session,
            lead_id=lead_id,
            actor=OWNER,
            reason="other",
            note=" Student project ",
            reasons=DEFAULT_REASONS,
            now=NOW,
        )
    with db.read() as session:
        lead = lead_store.get_lead(session, lead_id)
        event = lead_store.list_events(session, lead_id)[-1]
    assert (lead.reject_reason, lead.reject_note, lead.rejected_by) == (
        "other",
        "Student project",
        OWNER.id,
    )
    assert event.details == {"reason": "other", "note": "Student project"}


@pytest.mark.parametrize(
    ("status", "call"),
    [
        (S.ACCEPTED, lambda s, i: LIFECYCLE.reopen(s, lead_id=i, actor=OWNER, now=NOW)),
        (
            S.OPEN,
            lambda s, i: LIFECYCLE.assign(s, lead_id=i, actor=OWNER, assignee="U1", now=NOW),
        ),
        (
            S.ACCEPTED,
            lambda s, i: LIFECYCLE.release(s, lead_id=i, actor=OTHER_REP, now=NOW),
        ),
        (
            S.ACCEPTED,
            lambda s, i: LIFECYCLE.mark_contacted(s, lead_id=i, actor=OTHER_REP, now=NOW),
        ),
    ],
    ids=["reopen-by-rep", "assign-by-rep", "release-by-other-rep", "contacted-by-other-rep"],
)
def test_reps_cannot_do_what_only_owners_or_managers_may(
    db: Database, status: LeadStatus, call: Call
) -> None:
    with db.write() as session:
        lead_id = create_lead(session, status=status).id
    with pytest.raises(NotAllowed), db.write() as session:
        call(session, lead_id)
    with db.read() as session:
        assert lead_store.get_lead(session, lead_id).status == status


def test_owner_marks_contacted_and_releases(db: Database) -> None:
    with db.write() as session:
        first = create_lead(session, status=S.ACCEPTED, external_id="a").id
        second = create_lead(session, status=S.ACCEPTED, external_id="b").id
    with db.write() as session:
        assert LIFECYCLE.mark_contacted(session, lead_id=first, actor=OWNER, now=NOW).status == (
            S.CONTACTED
        )
        released = LIFECYCLE.release(session, lead_id=second, actor=OWNER, now=NOW)
    assert (released.status, released.owner_id) == (S.OPEN, None)


def test_escalation_can_reopen_the_lead_to_everyone(db: Database) -> None:
    with db.write() as session:
        lead_id = create_lead(session, status=S.ACCEPTED).id
    with db.write() as session:
        lead = LIFECYCLE.escalate(
            session, lead_id=lead_id, breach="follow_up", reopen=True, now=NOW
        )
    assert (lead.status, lead.owner_id, lead.escalated_at) == (S.ESCALATED, None, NOW)
    with db.write() as session:
        assert LIFECYCLE.accept(session, lead_id=lead_id, actor=OTHER_REP, now=NOW).owner_id == (
            OTHER_REP.id
        )


def test_unknown_lead_is_reported(db: Database) -> None:
    with pytest.raises(LeadNotFound), db.write() as session:
        LIFECYCLE.accept(session, lead_id=999, actor=OWNER, now=NOW)


def _race(db: Database, lead_id: int, attempts: list[Callable[[Session], Any]]) -> list[Any]:
    """Run each attempt in its own thread and transaction, all released at the same moment."""
    barrier = threading.Barrier(len(attempts))
    results: list[Any] = [None] * len(attempts)

    def run(index: int) -> None:
        barrier.wait()
        try:
            with db.write() as session:
                results[index] = attempts[index](session)
        except Exception as error:
            results[index] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(attempts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_concurrent_accepts_produce_one_owner_and_one_event(db: Database) -> None:
    with db.write() as session:
        lead_id = create_lead(session, status=S.OPEN).id
    reps = [Actor(f"U0REP{n:06d}") for n in range(12)]
    results = _race(
        db,
        lead_id,
        [
            lambda s, rep=rep: LIFECYCLE.accept(s, lead_id=lead_id, actor=rep, now=NOW)
            for rep in reps
        ],
    )

    winners = [r for r in results if isinstance(r, Lead)]
    losers = [r for r in results if isinstance(r, AlreadyClaimed)]
    assert len(winners) == 1 and len(losers) == len(reps) - 1
    winner = winners[0].owner_id
    assert all(loser.owner_id == winner for loser in losers)
    with db.read() as session:
        assert lead_store.get_lead(session, lead_id).owner_id == winner
        accepts = [e for e in lead_store.list_events(session, lead_id) if e.action == "accept"]
    assert [e.actor for e in accepts] == [winner]


def test_concurrent_accept_and_reject_decide_once(db: Database) -> None:
    with db.write() as session:
        lead_id = create_lead(session, status=S.OPEN).id
    attempts: list[Callable[[Session], Any]] = []
    for n in range(6):
        rep = Actor(f"U0REP{n:06d}")
        attempts.append(lambda s, rep=rep: LIFECYCLE.accept(s, lead_id=lead_id, actor=rep, now=NOW))
        attempts.append(
            lambda s, rep=rep: LIFECYCLE.reject(
                s,
                lead_id=lead_id,
                actor=rep,
                reason="no_need",
                note=None,
                reasons=DEFAULT_REASONS,
                now=NOW,
            )
        )
    results = _race(db, lead_id, attempts)
    assert sum(isinstance(r, Lead) for r in results) == 1
    assert sum(isinstance(r, AlreadyClaimed) for r in results) == len(attempts) - 1
    with db.read() as session:
        decisions = [
            e.action
            for e in lead_store.list_events(session, lead_id)
            if e.action in ("accept", "reject")
        ]
    assert len(decisions) == 1


def test_an_escalated_lead_that_was_not_reopened_stays_with_its_owner(db: Database) -> None:
    with db.write() as session:
        lead_id = create_lead(session, status=S.ACCEPTED).id
        LIFECYCLE.escalate(session, lead_id=lead_id, breach="follow_up", reopen=False, now=NOW)
    with pytest.raises(AlreadyClaimed) as refused, db.write() as session:
        LIFECYCLE.accept(session, lead_id=lead_id, actor=OTHER_REP, now=NOW)
    assert refused.value.owner_id == OWNER.id
    with db.write() as session:
        contacted = LIFECYCLE.mark_contacted(session, lead_id=lead_id, actor=OWNER, now=NOW)
    assert (contacted.status, contacted.owner_id) == (S.CONTACTED, OWNER.id)


def test_moves_that_change_the_owner_record_who_had_it(db: Database) -> None:
    with db.write() as session:
        lead_id = create_lead(session, status=S.ACCEPTED).id
        LIFECYCLE.assign(session, lead_id=lead_id, actor=MANAGER, assignee=OTHER_REP.id, now=NOW)
        LIFECYCLE.release(session, lead_id=lead_id, actor=OTHER_REP, now=NOW)
        events = lead_store.list_events(session, lead_id)
    assert [(e.action, e.details) for e in events[-2:]] == [
        ("assign", {"assignee": OTHER_REP.id, "previous_owner": OWNER.id}),
        ("release", {"previous_owner": OTHER_REP.id}),
    ]


def test_an_outcome_sent_again_changes_nothing_and_a_closed_deal_stays_closed(
    db: Database,
) -> None:
    with db.write() as session:
        escalated = create_lead(session, status=S.ESCALATED)
        escalated.owner_id = OWNER.id  # a follow-up breach that left the lead with its owner
        lead_id = escalated.id
    with db.write() as session:
        lead, changed = LIFECYCLE.record_outcome(
            session, lead_id=lead_id, actor=OWNER, outcome=WON_100, now=NOW
        )
        assert (lead.status, lead.closed_at, changed) == (S.WON, NOW, True)
    with db.write() as session:
        later = NOW + timedelta(days=1)
        again = LIFECYCLE.record_outcome(
            session, lead_id=lead_id, actor=OWNER, outcome=WON_100, now=later
        )
        assert (again[0].closed_at, again[1]) == (NOW, False)
        with pytest.raises(InvalidTransition, match="cannot go back to opportunity"):
            LIFECYCLE.record_outcome(
                session, lead_id=lead_id, actor=OWNER, outcome=Outcome(S.OPPORTUNITY), now=later
            )
        with pytest.raises(NotAllowed):
            LIFECYCLE.record_outcome(
                session, lead_id=lead_id, actor=OTHER_REP, outcome=Outcome(S.LOST), now=later
            )
    with db.read() as session:
        assert [e.action for e in lead_store.list_events(session, lead_id)][-1:] == ["outcome"]
        assert len(lead_store.list_events(session, lead_id)) == 2


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # SQLite: one writer
def test_a_card_posted_as_a_click_claims_it_attaches_to_the_claim(db: Database) -> None:
    """A rep clicks the card the moment it appears, between the post's read of the lead and its
    write: the post is recorded on the claimed lead, not refused (and retried in Slack)."""
    with db.write() as session:
        lead_id = create_lead(session).id
    clicked = []

    def click_first(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not clicked and statement.lstrip().upper().startswith("UPDATE LEADS"):
            clicked.append(True)
            claim = threading.Thread(target=_accept_in_own_transaction, args=(db, lead_id))
            claim.start()
            claim.join()

    event.listen(db.engine, "before_cursor_execute", click_first)
    try:
        with db.write() as session:
            posted = LIFECYCLE.card_posted(
                session, lead_id=lead_id, channel="C0SALES0001", ts="1.0", now=NOW
            )
    finally:
        event.remove(db.engine, "before_cursor_execute", click_first)

    assert clicked and (posted.status, posted.owner_id) == (S.ACCEPTED, OWNER.id)
    assert (posted.slack_channel, posted.slack_ts) == ("C0SALES0001", "1.0")
    with db.read() as session:
        actions = [e.action for e in lead_store.list_events(session, lead_id)]
    assert actions == ["create", "accept", "post"]


def _card_on_its_way(session: Session, *, into: str) -> int:
    """A new lead whose card the delivery worker is posting into `into` (routed, not recorded)."""
    lead_id = create_lead(session).id
    outbox_store.add(session, kind=OutboxKind.POST_CARD, now=NOW, lead_id=lead_id, channel=into)
    return lead_id


def test_a_click_on_a_card_not_yet_recorded_records_the_post_before_the_claim(
    db: Database,
) -> None:
    """Slack shows a card a moment before the delivery worker records it; a rep who clicks in
    that moment proves where it is. The history (and so the webhooks) say posted, then
    claimed, and the worker's record of the same post adds nothing."""
    with db.write() as session:
        lead_id = _card_on_its_way(session, into="C0SALES0001")
    click = outbox.Click(channel="C0SALES0001", message_ts="1.000100", response_url=None)
    with db.write() as session:
        accepted = LIFECYCLE.accept(session, lead_id=lead_id, actor=OWNER, now=NOW, clicked=click)
    assert (accepted.status, accepted.slack_channel, accepted.slack_ts) == (
        S.ACCEPTED,
        "C0SALES0001",
        "1.000100",
    )
    with db.write() as session:
        recorded = LIFECYCLE.card_posted(
            session, lead_id=lead_id, channel="C0SALES0001", ts="1.000100", now=NOW
        )
    assert (recorded.status, recorded.owner_id) == (S.ACCEPTED, OWNER.id)
    with db.read() as session:
        actions = [e.action for e in lead_store.list_events(session, lead_id)]
    assert actions == ["create", "post", "accept"]


def test_a_click_on_an_offer_before_the_card_is_posted_records_no_post(db: Database) -> None:
    """A click elsewhere than the card (the offer's DM) says nothing of where the card is."""
    with db.write() as session:
        lead_id = _card_on_its_way(session, into="C0SALES0001")
    click = outbox.Click(channel="D0REP000001", message_ts="2.000200", response_url=None)
    with db.write() as session:
        accepted = LIFECYCLE.accept(session, lead_id=lead_id, actor=OWNER, now=NOW, clicked=click)
    assert (accepted.status, accepted.slack_ts) == (S.ACCEPTED, None)
    with db.read() as session:
        actions = [e.action for e in lead_store.list_events(session, lead_id)]
    assert actions == ["create", "accept"]


def _accept_in_own_transaction(db: Database, lead_id: int) -> None:
    with db.write() as session:
        LIFECYCLE.accept(session, lead_id=lead_id, actor=OWNER, now=NOW)

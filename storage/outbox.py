"""Queries on the Slack outbox: adding side effects, leasing due ones lane by lane, settling
them, and the ones given up on.

Posts into a channel (cards, thread replies, channel messages, burst notices) form one ordered
lane per channel: only the channel's head (its oldest undelivered post; a burst notice goes
first) may be leased, so no worker in any process posts a channel's next card while the one
before it is leased elsewhere or not yet delivered. Everything else is leased by kind, oldest
first, with no order between kinds; a card's redraws (two kinds, two lanes) go one at a time,
so an older render can never land after a newer one."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Select,
    Update,
    bindparam,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session, aliased
from sqlalchemy.orm.attributes import set_committed_value

from storage import bulk, id_lists
from storage import leads as lead_store
from storage.models import OutboxKind, SlackOutbox

# Kinds posted into a channel: paced and ordered per channel.
CHANNEL_POSTS = (
    OutboxKind.POST_CARD,
    OutboxKind.THREAD_REPLY,
    OutboxKind.CHANNEL_MESSAGE,
    OutboxKind.BURST_NOTICE,
    OutboxKind.CHANNEL_CHART,
)
# Posts whose channel follows from the lead (its route, or where its card is).
ROUTED_POSTS = (OutboxKind.POST_CARD, OutboxKind.THREAD_REPLY)
# A card's redraw, through chat.update or through the response_url of a click on the card.
REDRAWS = (OutboxKind.UPDATE_CARD, OutboxKind.REPLACE_CARD)


def add(
    session: Session,
    *,
    kind: str,
    now: datetime,
    lead_id: int | None = None,
    channel: str | None = None,
    user_id: str | None = None,
    payload: dict[str, Any] | None = None,
) -> SlackOutbox:
    row = SlackOutbox(
        **_values(kind, now, lead_id=lead_id, channel=channel, user_id=user_id, payload=payload)
    )
    session.add(row)
    session.flush()
    return row


def queue(
    session: Session,
    *,
    kind: str,
    now: datetime,
    lead_id: int | None = None,
    channel: str | None = None,
    user_id: str | None = None,
    payload: dict[str, Any] | None = None,
    batch: Batch | None = None,
) -> None:
    """`add` for a caller that needs no row back (a click's transaction): one INSERT on the
    connection, without the ORM building and flushing an object; or, with a `batch`, the row
    appended to it, written with the batch's others by `queue_batch`."""
    values = _values(kind, now, lead_id=lead_id, channel=channel, user_id=user_id, payload=payload)
    if batch is None:
        session.connection().execute(_QUEUE, [values])
    else:
        batch.append(values)


# Rows `queue` was asked for, not written yet: one move's, written in one statement.
Batch = list[dict[str, Any]]


def queue_batch(session: Session, batch: Batch) -> None:
    """Write the batch's rows, in their order, in one executemany, and empty it."""
    if batch:
        session.connection().execute(_QUEUE, list(batch))
        batch.clear()


def add_for_leads(
    session: Session,
    *,
    kind: str,
    lead_ids: Sequence[int],
    now: datetime,
    channel: str | None = None,
) -> None:
    """One row of `kind` per lead, in this order, in one statement on the connection
    (storage.bulk: a batch of leads queues a thousand rows that differ only in their lead),
    each for `channel` if given."""
    if lead_ids:
        shared = _values(kind, now, channel=channel)
        bulk.insert_per_key(session.connection(), SlackOutbox, shared, "lead_id", lead_ids)


_QUEUE = insert(SlackOutbox)  # built once: a click queues three rows


def _values(
    kind: str,
    now: datetime,
    *,
    lead_id: int | None = None,
    channel: str | None = None,
    user_id: str | None = None,
    payload: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "kind": kind,
        "lead_id": lead_id,
        "channel": channel,
        "user_id": user_id,
        "payload": payload or {},
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


def _kind_is(kinds: Sequence[str]) -> ColumnElement[bool]:
    """`kind IN (kinds)` for the queries every click runs, written as plain comparisons: an IN
    list is one expanding parameter, which SQLAlchemy renders into the SQL anew on each run."""
    return or_(*(SlackOutbox.kind == kind for kind in kinds))


def _pending(kinds: Sequence[str]) -> Select[int]:
    return (
        select(SlackOutbox.id)
        .where(
            SlackOutbox.lead_id == bindparam("lead_id"),
            _kind_is(kinds),
            SlackOutbox.done_at.is_(None),
            SlackOutbox.locked_until.is_(None),
        )
        .limit(1)
        .with_for_update()
    )


# Every click asks them: built once, run on the connection without the ORM.
_PENDING_REDRAW = _pending(REDRAWS)
_PENDING_MESSAGES_REDRAW = _pending((OutboxKind.REDRAW_MESSAGES,))


def has_pending_redraw(session: Session, *, lead_id: int, of_messages: bool = False) -> bool:
    """True when a redraw of the lead's card (`of_messages`: of the messages remembered about
    it) is waiting and not yet leased.

    The row found stays locked until the caller commits (PostgreSQL; SQLite has one writer),
    so no worker leases it and renders the lead before the caller's change is visible: the
    change is then drawn by that waiting redraw or by one the caller queues.
    """
    query = _PENDING_MESSAGES_REDRAW if of_messages else _PENDING_REDRAW
    found = session.connection().execute(query, {"lead_id": lead_id})
    return found.first() is not None


def redraw_through_response_url(
    session: Session, *, lead_id: int, response_url: str, now: datetime
) -> bool:
    """Send the lead's waiting redraw through a click's response_url, at once (it may have been
    backing off from chat.update's rate limit); the latest click's URL replaces an earlier one.
    False when no redraw was waiting. The row changed stays locked until the caller commits,
    as `has_pending_redraw`'s does."""
    parameters = {"clicked": lead_id, "url": {"response_url": response_url}, "now": now}
    return session.connection().execute(_THROUGH_RESPONSE_URL, parameters).first() is not None


# Every click on a card runs it: built once, run on the connection without the ORM.
_THROUGH_RESPONSE_URL = (
    update(SlackOutbox)
    .where(
        SlackOutbox.lead_id == bindparam("clicked"),
        _kind_is(REDRAWS),
        SlackOutbox.done_at.is_(None),
        SlackOutbox.locked_until.is_(None),
    )
    .values(
        kind=OutboxKind.REPLACE_CARD, payload=bindparam("url"), next_attempt_at=bindparam("now")
    )
    .returning(SlackOutbox.id)
)


def redraw_by_update(session: Session, row: SlackOutbox, *, now: datetime) -> None:
    """The response_url was refused: forget it and let chat.update redraw the card, now."""
    row.kind = OutboxKind.UPDATE_CARD
    row.payload = {}
    mark_failed(session, row, error="response_url refused", retry_at=now)


@dataclass(frozen=True)
class UnroutedPost:
    """A card or thread reply whose channel is not chosen yet, with the channel its lead's card
    is in (None until it is posted) and the lead's `facts`: the columns a route is chosen by."""

    id: int
    kind: str
    lead_channel: str | None
    facts: dict[str, Any]


def unrouted_posts(session: Session, *, limit: int, facts: tuple[str, ...]) -> list[UnroutedPost]:
    """Undelivered cards and thread replies whose channel is not chosen yet, oldest first, each
    with its lead's channel and its `facts` columns; read on the connection, not loaded by the
    ORM. Only those columns: reading the whole leads (their activities, their explanations)
    was most of the CPU the delivery process spent routing a batch of a thousand leads.

    The leads are read by id in a second statement rather than joined: in a database not yet
    analysed (a new install's first minute, a burst before autovacuum looks) PostgreSQL joined
    them by walking all of `leads` for each post, 1.4 s for 400 posts beside 3,000 leads, and
    delivery posted nothing while a burst of leads kept it routing."""
    rows = session.execute(_unrouted(limit)).all()
    leads = lead_store.get_lead_columns(
        session, {lead_id for _, _, lead_id in rows if lead_id}, ("slack_channel", *facts)
    )
    return [
        UnroutedPost(
            row_id, kind, leads[lead_id][0], dict(zip(facts, leads[lead_id][1:], strict=True))
        )
        for row_id, kind, lead_id in rows
        if lead_id in leads
    ]


def set_channels(session: Session, chosen: Sequence[tuple[int, str]]) -> None:
    """Store the channel chosen for each post (row id, channel), one UPDATE a channel (an
    UPDATE a post cost a batch of leads' routing round more than the rest of it); a post
    another process routed meanwhile keeps the channel it was given."""
    posts: dict[str, list[int]] = {}
    for row_id, channel in chosen:
        posts.setdefault(channel, []).append(row_id)
    connection = session.connection()
    statement = _set_channel(connection.dialect.name)
    for channel, row_ids in posts.items():
        connection.execute(statement, {"row_ids": row_ids, "channel": channel})


@functools.cache
def _set_channel(dialect: str) -> Update:
    return (
        update(SlackOutbox)
        .where(id_lists.among(SlackOutbox.id, "row_ids", dialect), SlackOutbox.channel.is_(None))
        .values(channel=bindparam("channel"))
    )


# Every delivery round runs these statements: each is built once (per shape) with its values as
# parameters, which saves the round most of its CPU (building a statement with aliases and
# subqueries costs more than running it).
@functools.cache
def _unrouted(limit: int) -> Select[int, str, int | None]:
    return (
        select(SlackOutbox.id, SlackOutbox.kind, SlackOutbox.lead_id)
        .where(
            SlackOutbox.done_at.is_(None),
            SlackOutbox.kind.in_(ROUTED_POSTS),
            SlackOutbox.channel.is_(None),
        )
        .order_by(SlackOutbox.id)
        .limit(limit)
    )


def count_queued_cards(
    session: Session, *, channel: str, at_most: int | None = None, after: int = 0
) -> int:
    """Undelivered cards for the channel (of ids past `after`); counting stops at `at_most`,
    when that is enough to know (a burst of 100,000 need not be counted on every delivery
    round)."""
    parameters = {"channel": channel, "after": after, "at_most": at_most}
    return session.scalar(_queued_cards(limited=at_most is not None), parameters) or 0


@functools.cache
def _queued_cards(*, limited: bool) -> Select[int]:
    """Built once a shape: every delivery round counts the cards of each queued channel."""
    cards = select(SlackOutbox.id).where(
        SlackOutbox.done_at.is_(None),
        SlackOutbox.channel == bindparam("channel"),
        SlackOutbox.id > bindparam("after"),
        SlackOutbox.kind == OutboxKind.POST_CARD,
    )
    if limited:
        cards = cards.limit(bindparam("at_most"))
    return select(func.count()).select_from(cards.subquery())


@dataclass(frozen=True)
class Notice:
    """A channel's latest burst notice: its row id and when it was queued."""

    id: int
    queued_at: datetime


def last_burst_notices(session: Session, *, channels: Sequence[str]) -> dict[str, Notice]:
    """Each of the channels' latest burst notice (channels without one are left out)."""
    rows = session.execute(
        select(SlackOutbox.channel, func.max(SlackOutbox.id), func.max(SlackOutbox.created_at))
        .where(
            SlackOutbox.lead_id.is_(None),  # reads ix_slack_outbox_lead_id_kind
            SlackOutbox.kind == OutboxKind.BURST_NOTICE,
            SlackOutbox.channel.in_(channels),
        )
        .group_by(SlackOutbox.channel)
    ).all()
    return {channel: Notice(row_id, at) for channel, row_id, at in rows if channel is not None}


def card_undelivered(session: Session, *, lead_id: int, into: str | None = None) -> bool:
    """True while the lead's card is still to be posted (waiting, leased or backing off),
    `into` that channel if given."""
    query = select(SlackOutbox.id).where(
        SlackOutbox.lead_id == lead_id,
        SlackOutbox.kind == OutboxKind.POST_CARD,
        SlackOutbox.done_at.is_(None),
    )
    if into is not None:
        query = query.where(SlackOutbox.channel == into)
    return session.scalar(query.limit(1)) is not None


def lease_due(
    session: Session, *, now: datetime, limit: int, lease: timedelta, owner: str, kind: str
) -> Sequence[SlackOutbox]:
    """Take up to `limit` due rows of `kind` (not a channel post), oldest first, for `lease`;
    other workers skip them meanwhile.

    On PostgreSQL, FOR UPDATE SKIP LOCKED lets several processes lease at once without taking
    the same rows; SQLite has one writer at a time, which serialises leasing by itself.
    """
    return _lease(session, _due_of_kind(kind, limit), {"now": now}, lease=lease, owner=owner)


def due_kinds(session: Session, *, now: datetime, kinds: Sequence[str]) -> set[str]:
    """Which of `kinds` have a row due and leased by nobody: one look along
    ix_slack_outbox_queue_by_kind, so a round leases only those lanes instead of asking each of
    them (a card's round otherwise spent a third of its CPU finding seven method lanes empty).
    A kind named may still lease nothing (a redraw waiting for another)."""
    if not kinds:
        return set()
    parameters = {"now": now, "kinds": list(kinds)}
    return set(session.connection().execute(_DUE_KINDS, parameters).scalars())


@functools.cache
def _due_of_kind(kind: str, limit: int) -> Select[SlackOutbox]:
    one_at_a_time = (~_other_redraw_leased(),) if kind in REDRAWS else ()
    return (
        select(SlackOutbox)
        .where(SlackOutbox.done_at.is_(None), SlackOutbox.kind == kind, *_due(), *one_at_a_time)
        .order_by(SlackOutbox.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )


def lease_channel_heads(
    session: Session,
    *,
    now: datetime,
    limit: int,
    lease: timedelta,
    owner: str,
    skip_channels: Sequence[str],
) -> Sequence[SlackOutbox]:
    """Take the head post of up to `limit` channels, oldest head first: a channel's burst
    notice if one waits, else its oldest undelivered post; and only when that head is due and
    nobody holds it. A channel whose head is leased, backing off or held by a Retry-After
    sends nothing, which keeps its posts in order across workers and processes. Channels in
    `skip_channels` are busy or paced in this process.

    The heads are read in the statement's snapshot: a head delivered meanwhile by another
    process is re-checked when locked (PostgreSQL) and skipped, never passed over. Finding
    them costs a few index seeks per channel, however long the channels' queues are.
    """
    if limit <= 0:
        return []
    parameters = {"now": now, "skip_channels": list(skip_channels)}
    return _lease(session, _channel_heads(limit), parameters, lease=lease, owner=owner)


@functools.cache
def _channel_heads(limit: int) -> Select[SlackOutbox]:
    lanes = _queued_channels()
    notice, post = aliased(SlackOutbox), aliased(SlackOutbox)
    first_notice = (
        select(notice.id)
        .where(
            notice.done_at.is_(None),
            notice.kind == OutboxKind.BURST_NOTICE,
            notice.channel == lanes.c.channel,
        )
        .order_by(notice.id)
        .limit(1)
        .scalar_subquery()
    )
    first_post = (
        select(post.id)
        .where(
            post.done_at.is_(None),
            post.channel == lanes.c.channel,
            post.kind.in_(CHANNEL_POSTS),
        )
        .order_by(post.id)
        .limit(1)
        .scalar_subquery()
    )
    heads = select(func.coalesce(first_notice, first_post)).where(
        lanes.c.channel.is_not(None),
        lanes.c.channel.not_in(bindparam("skip_channels", expanding=True)),
    )
    return (
        select(SlackOutbox)
        .where(SlackOutbox.id.in_(heads), SlackOutbox.done_at.is_(None), *_due())
        .order_by(SlackOutbox.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )


def _queued_channels() -> Any:
    """Every channel with an undelivered row, found by skipping from one to the next along
    ix_slack_outbox_queue_by_channel (a loose index scan, written as a recursive CTE)."""
    first = (
        select(func.min(SlackOutbox.channel).label("channel"))
        .where(SlackOutbox.done_at.is_(None), SlackOutbox.channel.is_not(None))
        .cte("queued_channels", recursive=True)
    )
    later = aliased(SlackOutbox)
    following = (
        select(func.min(later.channel))
        .where(later.done_at.is_(None), later.channel > first.c.channel)
        .scalar_subquery()
    )
    return first.union_all(select(following).where(first.c.channel.is_not(None)))


def _other_redraw_leased() -> Any:
    """Another redraw of the same card is leased (at the parameter `now`): it may be on its
    way to Slack, and a render sent beside it could arrive after it, older or newer. Redraws of
    a card go one at a time."""
    other = aliased(SlackOutbox)
    return exists().where(
        other.lead_id == SlackOutbox.lead_id,
        other.id != SlackOutbox.id,
        other.kind.in_(REDRAWS),
        other.done_at.is_(None),
        other.locked_until >= bindparam("now"),
    )


def _due() -> tuple[Any, ...]:
    """Due at the parameter `now` and leased by nobody."""
    now: BindParameter[datetime] = bindparam("now")
    return (
        SlackOutbox.next_attempt_at <= now,
        or_(SlackOutbox.locked_until.is_(None), SlackOutbox.locked_until < now),
    )


_DUE_KINDS = (
    select(SlackOutbox.kind)
    .where(
        SlackOutbox.done_at.is_(None),
        SlackOutbox.kind.in_(bindparam("kinds", expanding=True)),
        *_due(),
    )
    .distinct()
)

_TAKE = (
    update(SlackOutbox)
    .where(SlackOutbox.id.in_(bindparam("ids", expanding=True)))
    .values(
        locked_until=bindparam("until"),
        lease_owner=bindparam("owner"),
        attempts=SlackOutbox.attempts + 1,  # counts tries started: a crash mid-send counts
    )
)


def _lease(
    session: Session,
    query: Select[SlackOutbox],
    parameters: dict[str, Any],
    *,
    lease: timedelta,
    owner: str,
) -> Sequence[SlackOutbox]:
    """Run a leasing `query` and take the rows it found in one UPDATE on the connection; the
    rows handed back show the lease as stored."""
    rows = session.scalars(query, parameters).all()
    if rows:
        until = parameters["now"] + lease
        taken = {"ids": [row.id for row in rows], "until": until, "owner": owner}
        session.connection().execute(_TAKE, taken)
        for row in rows:
            set_committed_value(row, "locked_until", until)
            set_committed_value(row, "lease_owner", owner)
            set_committed_value(row, "attempts", row.attempts + 1)
    return rows


def renew_lease(
    session: Session, *, row_id: int, owner: str, now: datetime, lease: timedelta
) -> bool:
    """Extend `owner`'s lease on an undelivered row, just before sending it; False when another
    worker took it over meanwhile (the lease ran out), so only one of them sends, or when it is
    a redraw and another redraw of the card is leased too (two processes leased one each at
    the same moment): then it waits until that one is settled."""
    parameters = {"row_id": row_id, "owner": owner, "now": now, "until": now + lease}
    return session.connection().execute(_RENEW, parameters).first() is not None


_RENEW: Update = (
    update(SlackOutbox)
    .where(
        SlackOutbox.id == bindparam("row_id"),
        SlackOutbox.lease_owner == bindparam("owner"),
        SlackOutbox.done_at.is_(None),
        or_(SlackOutbox.kind.not_in(REDRAWS), ~_other_redraw_leased()),
    )
    .values(locked_until=bindparam("until"))
    .returning(SlackOutbox.id)
)


def release(session: Session, *, row_ids: Sequence[int], owner: str) -> None:
    """Hand back leased rows `owner` never started sending (it is stopping), so another worker
    takes them at once instead of after the lease runs out; the try is not counted."""
    if not row_ids:
        return
    session.execute(
        update(SlackOutbox)
        .where(
            SlackOutbox.id.in_(row_ids),
            SlackOutbox.lease_owner == owner,
            SlackOutbox.done_at.is_(None),
        )
        .values(locked_until=None, lease_owner=None, attempts=SlackOutbox.attempts - 1)
        .execution_options(synchronize_session=False)
    )


def get(session: Session, row_id: int) -> SlackOutbox | None:
    return session.get(SlackOutbox, row_id, populate_existing=True)


def mark_done(session: Session, row: SlackOutbox, *, now: datetime) -> None:
    if row.kind == OutboxKind.REPLACE_CARD:
        row.payload = {}  # the response_url is a credential: kept no longer than needed
    row.done_at = now
    row.locked_until = None
    row.lease_owner = None
    session.flush()


def finish(session: Session, *, row_id: int, kind: str, now: datetime) -> bool:
    """`mark_done` for a row not read in this transaction, in one UPDATE on the connection
    (every delivered row runs it); False when the row is gone or already done (another worker
    finished it), and nothing changed."""
    statement = _FINISH_FORGETTING if kind == OutboxKind.REPLACE_CARD else _FINISH
    return (
        session.connection().execute(statement, {"row_id": row_id, "now": now}).first() is not None
    )


_FINISH = (
    update(SlackOutbox)
    .where(SlackOutbox.id == bindparam("row_id"), SlackOutbox.done_at.is_(None))
    .values(done_at=bindparam("now"), locked_until=None, lease_owner=None)
    .returning(SlackOutbox.id)
)
_FINISH_FORGETTING = _FINISH.values(payload={})  # as `mark_done`: the response_url goes


def mark_failed(session: Session, row: SlackOutbox, *, error: str, retry_at: datetime) -> None:
    row.last_error = error[:2000]
    row.next_attempt_at = retry_at
    row.locked_until = None
    row.lease_owner = None
    session.flush()


def mark_given_up(session: Session, row: SlackOutbox, *, reason: str, now: datetime) -> None:
    """Settle a row Slack will never take: done, so it is not tried again, and failed, with
    the reason, so it can be counted and shown."""
    row.last_error = reason[:2000]
    row.failed_at = now
    mark_done(session, row, now=now)


def count_failed(session: Session, *, since: datetime | None = None) -> int:
    query = select(func.count()).select_from(SlackOutbox).where(SlackOutbox.failed_at.is_not(None))
    if since is not None:
        query = query.where(SlackOutbox.failed_at >= since)
    return session.scalar(query) or 0


def list_failed(session: Session, *, limit: int) -> Sequence[SlackOutbox]:
    """The rows given up on, latest first."""
    return session.scalars(
        select(SlackOutbox)
        .where(SlackOutbox.failed_at.is_not(None))
        .order_by(SlackOutbox.failed_at.desc(), SlackOutbox.id.desc())
        .limit(limit)
    ).all()


def count_pending(session: Session) -> int:
    return (
        session.scalar(
            select(func.count()).select_from(SlackOutbox).where(SlackOutbox.done_at.is_(None))
        )
        or 0
    )


def list_rows(session: Session, *, lead_id: int | None = None) -> Sequence[SlackOutbox]:
    query = select(SlackOutbox).order_by(SlackOutbox.id)
    if lead_id is not None:
        query = query.where(SlackOutbox.lead_id == lead_id)
    return session.scalars(query).all()

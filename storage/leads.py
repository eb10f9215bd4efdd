"""Queries on leads and their events: every SELECT and UPDATE the domain needs, in one place."""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    Dialect,
    Select,
    Table,
    Text,
    Update,
    bindparam,
    cast,
    column,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import manager_of_class
from sqlalchemy.orm.util import identity_key
from sqlalchemy.sql.dml import ReturningInsert

from storage import bulk, funnel_by_statement, id_lists
from storage.models import Lead, LeadEvent, LeadStatus, UTCDateTime

# leads.id is a 32-bit INTEGER on PostgreSQL: a number past it names no lead (and would make
# the driver raise instead of finding nothing).
MAX_LEAD_ID = 2**31 - 1


def get_lead(session: Session, lead_id: int) -> Lead | None:
    """The lead as the database has it now, not as this session last saw it.

    Read on the connection into a Lead no session tracks (`_untracked`): the ORM's load costs
    three times the query, and every click reads its lead. A lead this session already tracks
    is refreshed in place instead, as whoever holds it expects."""
    if not 0 < lead_id <= MAX_LEAD_ID:
        return None
    if _tracked(session, lead_id):
        return session.get(Lead, lead_id, populate_existing=True)
    row = session.connection().execute(_LEAD_BY_ID, {"lead_id": lead_id}).first()
    return None if row is None else _untracked(row)


_LEAD_TABLE = Lead.__table__
assert isinstance(_LEAD_TABLE, Table)
_LEAD_COLUMNS = tuple(_LEAD_TABLE.columns)
_LEAD_KEYS = tuple(column.key for column in _LEAD_COLUMNS)
_LEAD_BY_ID = select(*_LEAD_COLUMNS).where(Lead.__table__.c.id == bindparam("lead_id"))
_new_lead = manager_of_class(Lead).new_instance


def _tracked(session: Session, lead_id: int) -> bool:
    return identity_key(Lead, lead_id) in session.identity_map


def _untracked(row: Sequence[Any]) -> Lead:
    """A Lead holding `row` (every column, in `_LEAD_COLUMNS` order), in no session: what the
    ORM's load would build, without its bookkeeping. Nothing writes through it."""
    lead: Lead = _new_lead()
    lead.__dict__.update(zip(_LEAD_KEYS, row, strict=True))
    return lead


def lock_lead(session: Session, lead_id: int) -> Lead:
    """The lead as stored now, its row locked until the transaction ends (PostgreSQL; SQLite's
    write transaction holds the whole database already), so a read-compare-write on it sees no
    other writer's change in between."""
    return session.scalars(
        select(Lead).where(Lead.id == lead_id).with_for_update(),
        execution_options={"populate_existing": True},
    ).one()


def lock_lead_unless_busy(session: Session, lead_id: int) -> Lead | None:
    """`lock_lead`, or None at once when another transaction holds the row (PostgreSQL), for a
    job that holds other locks (a due timer's) and must not wait for a move that may be
    waiting for them."""
    return session.scalars(
        select(Lead).where(Lead.id == lead_id).with_for_update(skip_locked=True),
        execution_options={"populate_existing": True},
    ).one_or_none()


def detached_copy(lead: Lead) -> Lead:
    """The lead's columns as they are now, in an object no session tracks: what stays true of
    it after the row changes later in the transaction. Built as `_untracked` builds a lead
    (the ORM's constructor, an event per column, cost a delivered card 7 % of its CPU)."""
    return _untracked([getattr(lead, key) for key in _LEAD_KEYS])


def update_lead(session: Session, lead_id: int, values: Mapping[str, Any]) -> Lead:
    """Write `values` to the lead and return it as written; for columns no compare-and-set
    guards (what is known about the person), on a row the caller has locked."""
    return session.scalars(
        update(Lead).where(Lead.id == lead_id).values(dict(values)).returning(Lead),
        execution_options={"synchronize_session": False, "populate_existing": True},
    ).one()


def get_leads_by_external_ids(session: Session, external_ids: Sequence[str]) -> dict[str, Lead]:
    """The stored leads among these external_ids, by external_id, as the database has them now:
    read on the connection into Leads no session tracks (`_untracked`), as `get_lead` reads
    one, since intake reads a batch's repeats this way and the ORM's load cost most of it."""
    if not external_ids:
        return {}
    rows = session.connection().execute(
        _LEADS_BY_EXTERNAL_IDS, {"external_ids": list(external_ids)}
    )
    return _by_external_id(rows)


def _by_external_id(rows: Iterable[Sequence[Any]]) -> dict[str, Lead]:
    """Rows of every column (`_LEAD_COLUMNS`) as untracked Leads, by external_id."""
    return {lead.external_id: lead for lead in map(_untracked, rows)}


def get_lead_columns(
    session: Session, lead_ids: Iterable[int], names: tuple[str, ...]
) -> dict[int, tuple[Any, ...]]:
    """The `names` columns of the stored leads among these ids, by id: for a reader of a few
    columns of many leads, which building whole leads would cost most of its time."""
    ids = list(lead_ids)
    if not ids:
        return {}
    connection = session.connection()
    statement = _columns_by_ids(names, connection.dialect.name)
    return {row[0]: tuple(row[1:]) for row in connection.execute(statement, {"lead_ids": ids})}


@functools.cache
def _columns_by_ids(names: tuple[str, ...], dialect: str) -> Select[Any]:
    return select(_LEAD_TABLE.c.id, *(_LEAD_TABLE.c[name] for name in names)).where(
        id_lists.among(_LEAD_TABLE.c.id, "lead_ids", dialect)
    )


# Intake asks this for every group of leads: built once (building one cost more than running it).
_LEADS_BY_EXTERNAL_IDS = select(*_LEAD_COLUMNS).where(
    Lead.__table__.c.external_id.in_(bindparam("external_ids", expanding=True))
)


_NEW_BY = Lead.external_id  # the unique key that tells a new lead from a stored one


@dataclass(frozen=True)
class LeadRows:
    """Rows of leads to insert (each naming the same columns), with their values in the
    database's form: PostgreSQL's one JSON text, SQLite's VALUES (storage.bulk). Made before
    the write turn, since it needs none: a batch's rows are encoded while another batch's
    statements hold the turn."""

    rows: Sequence[dict[str, Any]]
    encoded: str | bulk.SqliteRows


def lead_rows(rows: Sequence[dict[str, Any]], dialect: Dialect) -> LeadRows:
    """`rows` made ready for `insert_new_leads` on a database of `dialect`, outside any
    transaction."""
    if dialect.name == "postgresql":
        return LeadRows(rows, bulk.json_text(rows))
    return LeadRows(rows, bulk.sqlite_rows(Lead, rows, dialect))


def insert_new_leads(session: Session, ready: LeadRows) -> dict[str, Lead]:
    """Insert the leads whose external_id is not stored yet; returns those inserted, by
    external_id, as written, in Leads no session tracks.

    INSERT ... ON CONFLICT DO NOTHING, then the ids inserted: the unique key decides, so two
    deliveries racing each other cannot both create a lead, and a collision costs neither a
    savepoint nor the rest of the batch. On the connection, so rows are not grouped by which
    fields are null. Only the ids come back: the rest of each lead is what was written
    (`_as_inserted`), since taking every column back through the driver and the column types
    cost a third of a batch's write. On PostgreSQL a batch's leads are counted in the funnel's
    rollups once for the statement (storage.funnel_by_statement).
    """
    rows = ready.rows
    if not rows:
        return {}
    connection = session.connection()
    names = tuple(rows[0])
    ids: dict[str, int]
    if isinstance(ready.encoded, str):
        if len(rows) >= funnel_by_statement.FROM_ROWS:
            funnel_by_statement.count_by_statement(connection)
        written = connection.execute(_insert_from_json(names), {"rows": ready.encoded})
        ids = dict(written.all())
    else:
        ids = bulk.insert_new_sqlite(connection, Lead, ready.encoded, unique=_NEW_BY.key)
    unset = _unset_columns(names)
    moments = tuple(_UTC_MOMENTS.intersection(names))
    return {
        row["external_id"]: _as_inserted(row, ids[row["external_id"]], unset, moments)
        for row in rows
        if row["external_id"] in ids
    }


_STATUSES = {status.value: status for status in LeadStatus}  # a StrEnum member finds itself
_UTC_MOMENTS = frozenset(
    column.key for column in _LEAD_COLUMNS if isinstance(column.type, UTCDateTime)
)


def _as_inserted(
    row: Mapping[str, Any], lead_id: int, unset: _Unset, moments: Sequence[str]
) -> Lead:
    """The Lead the database now holds for an inserted `row`: its values as the columns give
    them back (its `moments` in UTC, the status as a LeadStatus), the columns it left out at
    their defaults."""
    scalars, made = unset
    values = {**scalars, **{name: make(None) for name, make in made.items()}, **row}
    values["id"] = lead_id
    for name in moments:
        if values[name] is not None:
            values[name] = values[name].astimezone(UTC)
    values["status"] = _STATUSES[values["status"]]
    lead: Lead = _new_lead()
    lead.__dict__.update(values)
    return lead


# The columns an INSERT leaves out: scalar defaults (NULL when none), and the functions that
# make a fresh default for each row.
_Unset = tuple[dict[str, Any], dict[str, Callable[[Any], Any]]]


@functools.cache
def _unset_columns(names: tuple[str, ...]) -> _Unset:
    """What an INSERT naming only `names` leaves in each other column: its Python-side default
    (storage.bulk), else NULL. A default the database computes (SQL, a sequence) could not be
    known here, so such a column must be named."""
    constants, made = bulk.python_defaults(_LEAD_TABLE, names)
    scalars = {
        left_out.key: constants.get(left_out.key)
        for left_out in _LEAD_COLUMNS
        if left_out.key not in names and not left_out.primary_key and left_out.key not in made
    }
    return scalars, made


@functools.cache
def _insert_from_json(names: tuple[str, ...]) -> ReturningInsert[str, int]:
    """`INSERT INTO leads (names) SELECT ... FROM json_to_recordset(:rows) AS r(name type, ...)
    ON CONFLICT DO NOTHING RETURNING external_id, id`, built once per set of columns:
    the rows travel as one JSON text, encoded in C, which the server takes apart by the
    columns' own types. As VALUES lists, a thousand leads are 25,000 parameters that psycopg
    parses anew each time and the server plans slowly; as one array per column (unnest),
    psycopg builds the arrays in Python element by element, about a fifth of a batch request's
    CPU time (py-spy), which json.dumps does in C."""
    table = Lead.__table__
    source = (
        func.json_to_recordset(cast(bindparam("rows", type_=Text), JSON))
        .table_valued(*(column(name, table.c[name].type) for name in names))
        .render_derived(with_types=True)
    )
    return (
        postgresql.insert(Lead)
        .from_select(list(names), select(*source.c))
        .on_conflict_do_nothing(index_elements=[_NEW_BY])
        .returning(Lead.external_id, Lead.id)
    )


class CountUp(enum.Enum):
    """A value for `update_lead_if_unchanged`: the column's stored value plus one, counted in
    the database, so two moves racing on one lead never write the same number."""

    COUNT_UP = "count up"


COUNT_UP = CountUp.COUNT_UP


def update_lead_if_unchanged(
    session: Session,
    lead_id: int,
    *,
    status: LeadStatus,
    owner_id: str | None,
    offer_tries: int,
    values: Mapping[str, Any],
) -> Lead | None:
    """Change a lead only if its status, owner and offer (bot.offers counts each one made) are
    still those the caller saw; else None.

    A compare-and-set inside the UPDATE itself: when two requests race, exactly one row update
    wins (PostgreSQL re-checks the WHERE after waiting for the other writer; SQLite serialises
    writers), and the loser changes nothing instead of overwriting the winner. Every click runs
    it, so the statement is built once for each set of columns and reused with new values.
    """
    counted = tuple(sorted(name for name, value in values.items() if value is COUNT_UP))
    given = tuple(sorted(name for name, value in values.items() if value is not COUNT_UP))
    parameters = {f"new_{name}": values[name] for name in given}
    parameters.update(
        lead_id=lead_id, seen_status=status, seen_owner=owner_id, seen_offer=offer_tries
    )
    tracked = _tracked(session, lead_id)  # then its copy is refreshed, as its holder expects
    statement = _compare_and_set(given, counted, owner_known=owner_id is not None, orm=tracked)
    if tracked:
        return session.scalars(
            statement,
            parameters,
            execution_options={"synchronize_session": False, "populate_existing": True},
        ).one_or_none()
    row = session.connection().execute(statement, parameters).first()
    return None if row is None else _untracked(row)


@functools.cache
def _compare_and_set(
    given: tuple[str, ...], counted: tuple[str, ...], *, owner_known: bool, orm: bool
) -> Update:
    owner_matches = (
        Lead.owner_id == bindparam("seen_owner") if owner_known else Lead.owner_id.is_(None)
    )
    values: dict[str, Any] = {name: bindparam(f"new_{name}") for name in given}
    values.update({name: getattr(Lead, name) + 1 for name in counted})
    return (
        update(Lead)
        .where(Lead.id == bindparam("lead_id"), Lead.status == bindparam("seen_status"))
        .where(owner_matches, Lead.offer_tries == bindparam("seen_offer"))
        .values(values)
        # The whole row, as the entity (`orm`) or as columns: no second SELECT.
        .returning(*((Lead,) if orm else _LEAD_COLUMNS))
    )


def add_events(session: Session, events: Sequence[dict[str, Any]]) -> None:
    """Append events (lead_id, action, from_status, to_status, actor, at, details) in one
    statement on the connection (storage.bulk); nobody reads their ids back, so no RETURNING
    has to match rows to them, and the ORM's bulk insert (a third of an intake group's time)
    is skipped."""
    if events:
        bulk.insert_rows(session.connection(), LeadEvent, events)


def add_event(session: Session, event: dict[str, Any]) -> int:
    """Append one event (the fields of `add_events`) on the connection, as every move does;
    returns its id."""
    return session.connection().execute(_ADD_EVENT, event).scalar_one()


_ADD_EVENT = insert(LeadEvent).returning(LeadEvent.id)


def get_event(session: Session, event_id: int) -> LeadEvent | None:
    """The event, read on the connection into a LeadEvent no session tracks, as `get_lead`
    reads a lead (every delivered move's line and undo reads one). Nothing writes through it."""
    row = session.connection().execute(_EVENT_BY_ID, {"event_id": event_id}).first()
    return None if row is None else _untracked_event(row)


def list_events(session: Session, lead_id: int) -> Sequence[LeadEvent]:
    return session.scalars(
        select(LeadEvent).where(LeadEvent.lead_id == lead_id).order_by(LeadEvent.id)
    ).all()


def latest_event(session: Session, lead_id: int) -> LeadEvent | None:
    """The lead's newest event, untracked as `get_event`'s (every drawn DM reads one)."""
    row = session.connection().execute(_NEWEST_EVENT, {"lead_id": lead_id}).first()
    return None if row is None else _untracked_event(row)


_EVENT_COLUMNS = tuple(LeadEvent.__table__.columns)
_EVENT_KEYS = tuple(column.key for column in _EVENT_COLUMNS)
_EVENT_BY_ID = select(*_EVENT_COLUMNS).where(LeadEvent.__table__.c.id == bindparam("event_id"))
_NEWEST_EVENT = (
    select(*_EVENT_COLUMNS)
    .where(LeadEvent.__table__.c.lead_id == bindparam("lead_id"))
    .order_by(LeadEvent.__table__.c.id.desc())
    .limit(1)
)
_new_event = manager_of_class(LeadEvent).new_instance


def _untracked_event(row: Sequence[Any]) -> LeadEvent:
    event: LeadEvent = _new_event()
    event.__dict__.update(zip(_EVENT_KEYS, row, strict=True))
    return event


def list_leads(session: Session) -> Sequence[Lead]:
    return session.scalars(select(Lead).order_by(Lead.id)).all()


def list_by_email(session: Session, email: str, *, limit: int) -> tuple[Sequence[Lead], int]:
    """The leads with this email address, ignoring case (indexed), newest first; and how many."""
    return _newest(session, func.lower(Lead.email) == func.lower(email), limit)


def list_by_company(session: Session, company: str, *, limit: int) -> tuple[Sequence[Lead], int]:
    """The leads of the company so named, ignoring case (indexed), newest first; and how many."""
    return _newest(session, func.lower(Lead.company) == func.lower(company), limit)


def find_leads(session: Session, text: str, *, limit: int) -> tuple[Sequence[Lead], int]:
    """Leads whose name, company or email contains `text`, ignoring case, newest first; and how
    many in all. A substring can use no B-tree index. On PostgreSQL a trigram index of the three
    columns (migration 0026, where pg_trgm could be installed) answers each ILIKE, ORed in one
    bitmap; a term of fewer than three characters has no trigram, so the planner reads the
    table once for it, as SQLite always does (about half a second for a million leads on SQLite,
    2 to 3 s on PostgreSQL): /leads answers through response_url when it is slow."""
    postgresql = session.get_bind().dialect.name == "postgresql"
    condition = or_(
        *(
            # ILIKE; SQLite's LIKE ignores ASCII case as its lower() does, at a third of the cost.
            column.icontains(text, autoescape=True)
            if postgresql
            else column.contains(text, autoescape=True)
            for column in (Lead.name, Lead.company, Lead.email)
        )
    )
    return _newest(session, condition, limit)


def _newest(
    session: Session, condition: ColumnElement[bool], limit: int
) -> tuple[Sequence[Lead], int]:
    """The newest `limit` leads meeting `condition` and how many do: one pass over the matches,
    counting them beside each id, then the few rows by id.

    The count is taken in a subquery the limit stays outside of: with the window beside the
    limit, PostgreSQL's planner costs only the first `limit` rows, so for a term matching
    thousands it walks the primary key backwards through every lead (5 s at a million) instead
    of reading the matches from an index (0.15 s)."""
    matches = select(Lead.id, func.count().over().label("total")).where(condition).subquery()
    found = session.execute(
        select(matches.c.id, matches.c.total).order_by(matches.c.id.desc()).limit(limit)
    ).all()
    if not found:
        return [], 0
    leads = session.scalars(
        select(Lead).where(Lead.id.in_([row[0] for row in found])).order_by(Lead.id.desc())
    )
    return leads.all(), found[0][1]


WAITING = (LeadStatus.OPEN, LeadStatus.ESCALATED)  # unclaimed, when no owner
HELD = (LeadStatus.ACCEPTED, LeadStatus.ESCALATED)  # claimed, when an owner


def list_waiting(session: Session, *, limit: int) -> tuple[Sequence[Lead], int]:
    """Leads nobody has claimed, escalated first, then by claim deadline; and how many in all."""
    condition = Lead.status.in_(WAITING) & Lead.owner_id.is_(None)
    leads = session.scalars(
        select(Lead)
        .where(condition)
        .order_by(
            (Lead.status == LeadStatus.ESCALATED).desc(),
            Lead.claim_due_at.is_(None),
            Lead.claim_due_at,
            Lead.id,
        )
        .limit(limit)
    ).all()
    return leads, _count(session, condition)


def list_mqls(session: Session, *, limit: int) -> tuple[Sequence[Lead], int, int]:
    """Leads kept for marketing (status mql), highest score first; how many in all; and how
    many are recycled."""
    condition = Lead.status == LeadStatus.MQL
    leads = session.scalars(
        select(Lead)
        .where(condition)
        .order_by(Lead.score.is_(None), Lead.score.desc(), Lead.id)
        .limit(limit)
    ).all()
    recycled = _count(session, Lead.status == LeadStatus.RECYCLED)
    return leads, _count(session, condition), recycled


def held_scored_before(session: Session, moment: datetime, *, limit: int) -> Sequence[int]:
    """Leads kept for marketing (MQL or recycled) last scored before `moment`, or never."""
    return session.scalars(
        select(Lead.id)
        .where(
            Lead.status.in_((LeadStatus.MQL, LeadStatus.RECYCLED)),
            or_(Lead.scored_at.is_(None), Lead.scored_at <= moment),
        )
        .order_by(Lead.id)
        .limit(limit)
    ).all()


def mqls_cold_since(session: Session, moment: datetime, *, limit: int) -> Sequence[int]:
    """MQLs whose latest activity (or, without one, their arrival) is at `moment` or before."""
    return session.scalars(
        select(Lead.id)
        .where(
            Lead.status == LeadStatus.MQL,
            func.coalesce(Lead.last_activity_at, Lead.created_at) <= moment,
        )
        .order_by(Lead.id)
        .limit(limit)
    ).all()


def list_claimed(
    session: Session, *, limit: int, owner_id: str | None = None
) -> tuple[Sequence[Lead], int]:
    """Claimed leads not yet contacted (one rep's, or everyone's), by follow-up deadline."""
    condition = Lead.status.in_(HELD) & Lead.owner_id.is_not(None)
    if owner_id is not None:
        condition = condition & (Lead.owner_id == owner_id)
    leads = session.scalars(
        select(Lead)
        .where(condition)
        .order_by(Lead.follow_up_due_at.is_(None), Lead.follow_up_due_at, Lead.id)
        .limit(limit)
    ).all()
    return leads, _count(session, condition)


@dataclass(frozen=True)
class SlaHealth:
    """How the open work stands against its deadlines at one moment."""

    waiting: int
    waiting_overdue: int
    waiting_due_soon: int
    escalated: int
    claimed: int
    follow_up_overdue: int
    follow_up_due_soon: int


def sla_health(session: Session, *, now: datetime, soon: datetime) -> SlaHealth:
    """Overdue counts the escalated leads too: escalating a lead ends its window (its deadline
    column is cleared), but it is no less late for that."""
    waiting = Lead.status.in_(WAITING) & Lead.owner_id.is_(None)
    claimed = Lead.status.in_(HELD) & Lead.owner_id.is_not(None)
    escalated = Lead.status == LeadStatus.ESCALATED
    return SlaHealth(
        waiting=_count(session, waiting),
        waiting_overdue=_count(session, waiting & (escalated | (Lead.claim_due_at < now))),
        waiting_due_soon=_count(
            session, waiting & (Lead.claim_due_at >= now) & (Lead.claim_due_at < soon)
        ),
        escalated=_count(session, escalated),
        claimed=_count(session, claimed),
        follow_up_overdue=_count(session, claimed & (escalated | (Lead.follow_up_due_at < now))),
        follow_up_due_soon=_count(
            session, claimed & (Lead.follow_up_due_at >= now) & (Lead.follow_up_due_at < soon)
        ),
    )


def _count(session: Session, condition: Any) -> int:
    return session.scalar(select(func.count()).select_from(Lead).where(condition)) or 0

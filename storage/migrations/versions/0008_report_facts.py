"""report facts

The handoff reports count columns and indexes instead of replaying the event log: the facts each
lead's transitions settle (bot.report_facts keeps them from now on) and one narrow row per reject.
Leads decided before this revision get them from their events here, with the times counted by
`elapsed` (the SLA policy's business hours or the clock), which only the domain knows: Baton hands
it over in the Alembic config's attributes (`baton db upgrade`). Indexes are built after the
backfill, which is cheaper than keeping them up to date through it.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 07:08:54.507975
"""

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from alembic import context, op

import storage.models


revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CLAIMS = ("accept", "assign")
DECISIONS = (*CLAIMS, "reject")
CONTACT = "mark_contacted"
PAGE = 2000
REPORT_FILTERS = ['posted_at', 'first_decided_by', 'source']
REPORT_REPS = ['first_decided_by', 'contact_credit']
REPORT_FACTS = ['first_decision', 'escalated_at', 'time_to_claim_us', 'time_to_contact_us', 'source']

Elapsed = Callable[[str | None, datetime, datetime], timedelta]


def upgrade() -> None:
    op.create_table('rejections',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('lead_id', sa.Integer(), nullable=False),
    sa.Column('at', storage.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('source', sa.String(length=120), nullable=True),
    sa.Column('campaign', sa.String(length=200), nullable=True),
    sa.Column('reason', sa.String(length=64), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['lead_id'], ['leads.id'], name=op.f('fk_rejections_lead_id_leads'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rejections'))
    )
    op.create_table('handoff_days',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('decided_by', sa.String(length=32), nullable=False),
    sa.Column('contact_credit', sa.String(length=32), nullable=False),
    sa.Column('leads', sa.Integer(), nullable=False),
    sa.Column('claims', sa.Integer(), nullable=False),
    sa.Column('rejects', sa.Integer(), nullable=False),
    sa.Column('breached', sa.Integer(), nullable=False),
    sa.Column('claim_times', sa.Integer(), nullable=False),
    sa.Column('contact_times', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('day', 'decided_by', 'contact_credit', name=op.f('pk_handoff_days'))
    )
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.add_column(sa.Column('first_decision', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('first_decided_by', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('first_claimed_at', storage.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('contact_credit', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('time_to_claim_us', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('time_to_contact_us', sa.BigInteger(), nullable=True))

    _backfill_rejections()
    _backfill_leads(context.config.attributes.get("elapsed"))
    _count_days()

    op.create_index('ix_rejections_at', 'rejections', ['at', 'source', 'campaign', 'reason'], unique=False)
    op.create_index('ix_rejections_group', 'rejections', ['source', 'campaign', 'reason', 'at'], unique=False)
    op.create_index('ix_rejections_noted', 'rejections', ['source', 'campaign', 'reason', 'at'], unique=False, postgresql_where=sa.text('note IS NOT NULL'), sqlite_where=sa.text('note IS NOT NULL'))
    op.create_index('ix_leads_report_period', 'leads', ['posted_at', *REPORT_REPS, *REPORT_FACTS], unique=False)
    op.create_index('ix_leads_report_claim_times', 'leads', ['time_to_claim_us', *REPORT_FILTERS], unique=False)
    op.create_index('ix_leads_report_contact_times', 'leads', ['time_to_contact_us', *REPORT_FILTERS], unique=False)


def downgrade() -> None:
    # Columns dropped one by one, not in a batch: on SQLite a batch would copy and drop the leads
    # table, which the lead events' foreign key forbids once there are events (ALTER TABLE DROP
    # COLUMN needs SQLite 3.35).
    for index in ('ix_leads_report_contact_times', 'ix_leads_report_claim_times', 'ix_leads_report_period'):
        op.drop_index(index, table_name='leads')
    for name in reversed(_FACTS):
        op.drop_column('leads', name)
    op.drop_index('ix_rejections_noted', table_name='rejections', postgresql_where=sa.text('note IS NOT NULL'), sqlite_where=sa.text('note IS NOT NULL'))
    op.drop_index('ix_rejections_group', table_name='rejections')
    op.drop_index('ix_rejections_at', table_name='rejections')
    op.drop_table('rejections')
    op.drop_table('handoff_days')


_leads = sa.table(
    "leads",
    sa.column("id", sa.Integer),
    sa.column("posted_at", storage.models.UTCDateTime()),
    sa.column("sla_policy", sa.String),
    sa.column("owner_id", sa.String),
    sa.column("source", sa.String),
    sa.column("campaign", sa.String),
)
_events = sa.table(
    "lead_events",
    sa.column("id", sa.Integer),
    sa.column("lead_id", sa.Integer),
    sa.column("action", sa.String),
    sa.column("actor", sa.String),
    sa.column("at", storage.models.UTCDateTime()),
    sa.column("details", sa.JSON),
)
_rejections = sa.table(
    "rejections",
    sa.column("lead_id", sa.Integer),
    sa.column("at", storage.models.UTCDateTime()),
    sa.column("source", sa.String),
    sa.column("campaign", sa.String),
    sa.column("reason", sa.String),
    sa.column("note", sa.Text),
)
_facts_table = sa.table(
    "leads",
    sa.column("id", sa.Integer),
    sa.column("first_decision", sa.String),
    sa.column("first_decided_by", sa.String),
    sa.column("first_claimed_at", storage.models.UTCDateTime()),
    sa.column("contact_credit", sa.String),
    sa.column("time_to_claim_us", sa.BigInteger),
    sa.column("time_to_contact_us", sa.BigInteger),
)
_FACTS = tuple(column.name for column in _facts_table.c if column.name != "id")
_store = (
    _facts_table.update()
    .where(_facts_table.c.id == sa.bindparam("lead_id"))
    .values({name: sa.bindparam(f"new_{name}", type_=_facts_table.c[name].type) for name in _FACTS})
)


def _backfill_rejections() -> None:
    """Every reject event, in the order they happened, with its lead's source and campaign."""
    op.get_bind().execute(
        _rejections.insert().from_select(
            ["lead_id", "at", "source", "campaign", "reason", "note"],
            sa.select(
                _events.c.lead_id,
                _events.c.at,
                _leads.c.source,
                _leads.c.campaign,
                _events.c.details["reason"].as_string(),
                _events.c.details["note"].as_string(),
            )
            .join(_leads, _leads.c.id == _events.c.lead_id)
            .where(_events.c.action == "reject")
            .order_by(_events.c.at, _events.c.id),
        )
    )


def _count_days() -> None:
    """Each UTC day's handoff counts, from the facts just filled in (bot.report_facts.counted)."""
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        day = "date(posted_at)"
    else:
        day = "CAST(timezone('UTC', posted_at) AS DATE)"
    bind.execute(sa.text(
        "INSERT INTO handoff_days (day, decided_by, contact_credit, leads, claims, rejects, "
        "breached, claim_times, contact_times) "
        f"SELECT {day}, COALESCE(first_decided_by, ''), COALESCE(contact_credit, ''), count(*), "
        "count(CASE WHEN first_decision IN ('accept', 'assign') THEN 1 END), "
        "count(CASE WHEN first_decision = 'reject' THEN 1 END), count(escalated_at), "
        "count(time_to_claim_us), count(time_to_contact_us) "
        "FROM leads WHERE posted_at IS NOT NULL GROUP BY 1, 2, 3"
    ))


def _backfill_leads(elapsed: Elapsed | None) -> None:
    """The facts of every lead with a decision or a contact, a page of leads at a time."""
    bind = op.get_bind()
    decided = sa.select(_events.c.lead_id).where(_events.c.action.in_((*DECISIONS, CONTACT)))
    if bind.scalar(sa.select(sa.exists(decided))) and elapsed is None:
        raise RuntimeError(
            "revision 0008 times past decisions by the SLA rules: run it with `baton db upgrade`"
        )
    last = 0
    while True:
        page = bind.execute(
            sa.select(_leads.c.id, _leads.c.posted_at, _leads.c.sla_policy, _leads.c.owner_id)
            .where(_leads.c.id > last, _leads.c.id.in_(decided))
            .order_by(_leads.c.id)
            .limit(PAGE)
        ).all()
        if not page:
            return
        assert elapsed is not None
        last = page[-1].id
        events: dict[int, list[Any]] = {lead.id: [] for lead in page}
        for event in bind.execute(
            sa.select(_events)
            .where(
                _events.c.lead_id.between(page[0].id, last),
                _events.c.action.in_((*DECISIONS, CONTACT)),
            )
            .order_by(_events.c.lead_id, _events.c.id)
        ):
            if event.lead_id in events:
                events[event.lead_id].append(event)
        bind.execute(
            _store,
            [
                {"lead_id": lead.id, **{f"new_{k}": v for k, v in _facts(lead, events[lead.id], elapsed).items()}}
                for lead in page
            ],
        )


def _facts(lead: Any, history: list[Any], elapsed: Elapsed) -> dict[str, Any]:
    """As bot.reports defined them from the events when this revision was written."""
    facts: dict[str, Any] = dict.fromkeys(_FACTS)
    first = next((e for e in history if e.action in DECISIONS), None)
    claim = next((e for e in history if e.action in CLAIMS), None)
    contact = next((e for e in history if e.action == CONTACT), None)
    if first is not None:
        facts["first_decision"] = first.action
        assignee = first.details.get("assignee") if first.action == "assign" else None
        facts["first_decided_by"] = assignee or first.actor
        if lead.posted_at is not None:
            facts["time_to_claim_us"] = _us(elapsed(lead.sla_policy, lead.posted_at, first.at))
    if claim is not None:
        facts["first_claimed_at"] = claim.at
    if contact is not None:
        # A contacted lead's owner never changes again: the owner now is the owner then.
        facts["contact_credit"] = lead.owner_id or contact.actor
        if claim is not None:
            facts["time_to_contact_us"] = _us(elapsed(lead.sla_policy, claim.at, contact.at))
    return facts


def _us(span: timedelta) -> int:
    return span // timedelta(microseconds=1)

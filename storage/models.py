"""Database schema: leads, their append-only event log, and the naming rules for constraints."""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class LeadStatus(enum.StrEnum):
    """Where a lead is in the handoff; the allowed moves between them live in bot.lifecycle."""

    MQL = "mql"  # the scoring model says marketing's still: stored, not posted, no SLA
    RECYCLED = "recycled"  # an MQL gone cold (no new activity for a while): back to nurture
    NEW = "new"  # stored, card not yet in Slack
    OPEN = "open"  # card posted, claim SLA running
    ESCALATED = "escalated"  # an SLA was breached; managers were told
    ACCEPTED = "accepted"  # a rep owns it, follow-up SLA running
    REJECTED = "rejected"  # sales said why not; feedback for marketing
    CONTACTED = "contacted"  # first contact made
    OPPORTUNITY = "opportunity"  # the CRM (or the owner) opened a deal for it
    WON = "won"
    LOST = "lost"


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as UTC and hands them back aware, on SQLite and PostgreSQL alike.

    SQLite has no time zone type, so without this a round trip would return naive values.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


STATUS_LENGTH = 16

# Statuses are stored as their values ('open'...) in a VARCHAR, as they were before the column was
# typed; the leads table's CHECK constraint lists them, so no second constraint is made here.
STATUS_TYPE = Enum(
    LeadStatus,
    native_enum=False,
    create_constraint=False,
    length=STATUS_LENGTH,
    values_callable=lambda kind: [member.value for member in kind],
)


NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON,
        list[Any]: JSON,
        LeadStatus: STATUS_TYPE,
    }


# What a report filters on, groups by and counts, for the report indexes to cover.
REPORT_FILTERS = ("posted_at", "first_decided_by", "source")
REPORT_REPS = ("first_decided_by", "contact_credit")
REPORT_FACTS = (
    "first_decision",
    "escalated_at",
    "time_to_claim_us",
    "time_to_contact_us",
    "source",
)


def _only_set(column: str) -> dict[str, Any]:
    """A partial index's condition on both databases: the rows where `column` is not null.
    Every query such an index serves says as much (a range of the column, or IS NOT NULL), which
    is what lets either planner use it; a lead adds no entry while the column is empty, so a new
    lead's insert skips the index (migration 0032 says what that saves)."""
    condition = text(f"{column} IS NOT NULL")
    return {"postgresql_where": condition, "sqlite_where": condition}


# What the funnel filters and groups a step's times on, beside the report filters.
FUNNEL_FILTERS = ("created_at", "first_decision", "campaign", "segment")
# What the funnel reads of a period's leads (storage.funnel) but their entry time.
FUNNEL_COLUMNS = (
    "status",
    "first_claimed_at",
    "contact_credit",
    "opportunity_at",
    "promoted_at",
    "first_decision",
    "time_to_claim_us",
    "time_to_contact_us",
    "contacted_at",
    "closed_at",
    "source",
    "campaign",
    "segment",
)


class Lead(Base):
    """One sales qualified lead, as received from marketing, plus its handoff state."""

    __tablename__ = "leads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str] = mapped_column(String(255), unique=True)
    status: Mapped[LeadStatus] = mapped_column(default=LeadStatus.NEW)

    # What marketing knows about the person and the company.
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(64))
    title: Mapped[str | None] = mapped_column(String(200))
    company: Mapped[str | None] = mapped_column(String(200))
    company_size: Mapped[str | None] = mapped_column(String(64))
    industry: Mapped[str | None] = mapped_column(String(120))
    country: Mapped[str | None] = mapped_column(String(120))
    segment: Mapped[str | None] = mapped_column(String(120))
    # Why it is an SQL, and where it came from.
    source: Mapped[str | None] = mapped_column(String(120))
    campaign: Mapped[str | None] = mapped_column(String(200))
    score: Mapped[int | None] = mapped_column(Integer)
    # Why the team's scoring model gave that score (bot.score_explanation); None: the sender's.
    score_explanation: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    intent: Mapped[str | None] = mapped_column(String(120))
    budget: Mapped[str | None] = mapped_column(String(500))
    authority: Mapped[str | None] = mapped_column(String(500))
    need: Mapped[str | None] = mapped_column(String(500))
    timeline: Mapped[str | None] = mapped_column(String(500))
    activities: Mapped[list[Any]] = mapped_column(default=list)
    notes: Mapped[str | None] = mapped_column(Text)
    crm_url: Mapped[str | None] = mapped_column(String(2000))
    # The lead's owner in the CRM, by email: `owner` routing hands the lead to their Slack user.
    owner_email: Mapped[str | None] = mapped_column(String(320))
    # Fields the sender sent that Baton does not know, as sent (bot.extra_fields); None: none.
    extra: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The latest change a repeated delivery made to the fields above (bot.lead_updates): when,
    # and what changed, as its `update` event holds it; None until a repeat changes something.
    data_changed_at: Mapped[datetime | None]
    data_changes: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # When new data made an MQL an SQL (bot.promotion), and what did: the card's "why now".
    promoted_at: Mapped[datetime | None]
    promoted_why: Mapped[str | None] = mapped_column(String(500))
    # When the model last scored it (the daily decay rescores MQLs a day after), and the time
    # of its latest activity (one sent without a time counts when received): an MQL whose
    # latest activity is older than `recycle_after` is recycled (bot.mql_upkeep).
    scored_at: Mapped[datetime | None]
    last_activity_at: Mapped[datetime | None]

    # Handoff state.
    owner_id: Mapped[str | None] = mapped_column(String(32))
    # The rep the lead is offered to now (a route in `offer` mode: bot.offers), who alone may
    # claim it; and how many offers it has had, which names the current one (its timeout's
    # cycle, the compare-and-set every move makes, so a click on a stale offer loses).
    offered_to: Mapped[str | None] = mapped_column(String(32))
    offer_tries: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    rejected_by: Mapped[str | None] = mapped_column(String(32))
    reject_reason: Mapped[str | None] = mapped_column(String(64))
    reject_note: Mapped[str | None] = mapped_column(Text)
    sla_policy: Mapped[str | None] = mapped_column(String(64))
    # Bumped each time an SLA window starts; timers are unique per lead, kind and cycle.
    sla_cycle: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    claim_due_at: Mapped[datetime | None]
    follow_up_due_at: Mapped[datetime | None]
    slack_channel: Mapped[str | None] = mapped_column(String(32))
    slack_ts: Mapped[str | None] = mapped_column(String(32))

    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    posted_at: Mapped[datetime | None]
    accepted_at: Mapped[datetime | None]
    rejected_at: Mapped[datetime | None]
    escalated_at: Mapped[datetime | None]
    contacted_at: Mapped[datetime | None]
    # The outcome, as the CRM (or the owner, or a manager) reports it: when the lead became an
    # opportunity, when it was won or lost (closed_at), and the deal's amount and the reason.
    opportunity_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    outcome_amount: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    outcome_currency: Mapped[str | None] = mapped_column(String(3))
    outcome_reason: Mapped[str | None] = mapped_column(String(500))

    # What the reports count, set by the transitions that decide it (bot.report_facts) and never
    # cleared by a reopen, so a report aggregates columns instead of replaying the event log.
    # The first decision's action (accept, assign, reject) and the rep it belongs to: the owner
    # a claim made, or who rejected.
    first_decision: Mapped[str | None] = mapped_column(String(16))
    first_decided_by: Mapped[str | None] = mapped_column(String(32))
    first_claimed_at: Mapped[datetime | None]
    # Who the first contact is credited to: the owner then, else whoever marked it (a manager).
    contact_credit: Mapped[str | None] = mapped_column(String(32))
    # Durations in microseconds, counted as the lead's SLA policy counted time when they ended.
    time_to_claim_us: Mapped[int | None] = mapped_column(BigInteger)
    time_to_contact_us: Mapped[int | None] = mapped_column(BigInteger)
    # The reason sales gave when the first decision was a reject (kept when a reopen clears the
    # lead's own `reject_reason`): what the tuning report counts a rejected lead under.
    first_reject_reason: Mapped[str | None] = mapped_column(String(64))

    events: Mapped[list[LeadEvent]] = relationship(
        back_populates="lead", order_by="LeadEvent.id", lazy="raise_on_sql"
    )

    __table_args__ = (
        CheckConstraint(
            "status IN (" + ", ".join(f"'{s.value}'" for s in LeadStatus) + ")", name="status"
        ),
        Index("ix_leads_status_claim_due_at", "status", "claim_due_at"),
        Index("ix_leads_status_follow_up_due_at", "status", "follow_up_due_at"),
        Index("ix_leads_owner_id_status", "owner_id", "status"),
        Index("ix_leads_source_created_at", "source", "created_at"),
        Index("ix_leads_created_at", "created_at"),
        # `/leads show` by email or company, typed in any case.
        Index("ix_leads_lower_email", func.lower(text("email"))),
        Index("ix_leads_lower_company", func.lower(text("company"))),
        # `/leads find` on PostgreSQL has a trigram index too (migration 0026), left out here:
        # it exists only where pg_trgm could be installed (storage.migrate.OPTIONAL_INDEXES).
        # The handoff reports, answered from these indexes alone (never the wide rows): the
        # leads of part of a day (HandoffDay counts whole days) or of one source, by posting
        # time; and each duration in order, so a percentile of a long period is read by walking
        # the index to its rank instead of sorting a year of values. Each holds only the leads
        # whose first column is set (`_only_set`): a lead enters them when its card is posted,
        # claimed or contacted, not when it arrives.
        Index(
            "ix_leads_report_period",
            "posted_at",
            *REPORT_REPS,
            *REPORT_FACTS,
            **_only_set("posted_at"),
        ),
        # They serve the funnel's medians of a year the same way (storage.funnel_stages.step_order).
        # With the score, the tuning report's medians per score band walk it alone too.
        Index(
            "ix_leads_report_claim_times",
            "time_to_claim_us",
            *REPORT_FILTERS,
            *FUNNEL_FILTERS,
            "score",
            **_only_set("time_to_claim_us"),
        ),
        Index(
            "ix_leads_report_contact_times",
            "time_to_contact_us",
            *REPORT_FILTERS,
            *FUNNEL_FILTERS,
            **_only_set("time_to_contact_us"),
        ),
        # The funnel (storage.funnel): every column of its stages, step times and groupings
        # but the scoring verdict, so its scans of a period read this instead of the wide rows.
        Index("ix_leads_funnel", "created_at", *FUNNEL_COLUMNS),
    )


class LeadEvent(Base):
    """An append-only record of one transition: who moved the lead, when, from where to where."""

    __tablename__ = "lead_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="RESTRICT"), index=True)
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[LeadStatus | None]
    to_status: Mapped[LeadStatus]
    actor: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)

    lead: Mapped[Lead] = relationship(back_populates="events")

    __table_args__ = (Index("ix_lead_events_action_at", "action", "at"),)


class HandoffDay(Base):
    """The handoff counts of the leads posted on one UTC day, per rep of the first decision and
    rep credited with the first contact ('' for none): kept up to date by every transition that
    changes a lead's report facts, so a year of numbers is a few thousand rows, not a million."""

    __tablename__ = "handoff_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    decided_by: Mapped[str] = mapped_column(String(32), primary_key=True)
    contact_credit: Mapped[str] = mapped_column(String(32), primary_key=True)
    leads: Mapped[int] = mapped_column(Integer, default=0)
    claims: Mapped[int] = mapped_column(Integer, default=0)
    rejects: Mapped[int] = mapped_column(Integer, default=0)
    breached: Mapped[int] = mapped_column(Integer, default=0)
    claim_times: Mapped[int] = mapped_column(Integer, default=0)
    contact_times: Mapped[int] = mapped_column(Integer, default=0)
    opportunities: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    won: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    lost: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class TuningDay(Base):
    """How the leads posted on one UTC day fared, per what the tuning report groups them by:
    the stored score (-1 for none), source ('' for none), whether the model explained the score
    (1 or 0), the first decision ('' for none), whether the lead was won (1 or 0) and the first
    reject's reason ('' for none). Kept by every change to a posted lead
    (storage.tuning_rollups), so a year of `/leads tune` sums a few thousand rows instead of
    grouping a million leads."""

    __tablename__ = "tuning_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    score: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(120), primary_key=True)
    explained: Mapped[int] = mapped_column(Integer, primary_key=True)
    first_decision: Mapped[str] = mapped_column(String(16), primary_key=True)
    won: Mapped[int] = mapped_column(Integer, primary_key=True)
    reason: Mapped[str] = mapped_column(String(64), primary_key=True)
    leads: Mapped[int] = mapped_column(Integer, default=0)
    timed: Mapped[int] = mapped_column(Integer, default=0)  # of them, with a time to claim


class TuningRuleDay(Base):
    """TuningDay per rule of the stored explanations (`part: label`) instead of score and
    source: a lead counts once under each rule that gave it points."""

    __tablename__ = "tuning_rule_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    rule: Mapped[str] = mapped_column(Text, primary_key=True)
    first_decision: Mapped[str] = mapped_column(String(16), primary_key=True)
    won: Mapped[int] = mapped_column(Integer, primary_key=True)
    reason: Mapped[str] = mapped_column(String(64), primary_key=True)
    leads: Mapped[int] = mapped_column(Integer, default=0)
    timed: Mapped[int] = mapped_column(Integer, default=0)


class ClaimTimeWeek(Base):
    """How many leads posted in one UTC week (from Monday) took a time to claim in each bucket
    (storage.tuning.claim_bucket), per group of the tuning report: `grouping` is total, band,
    source or rule, `value` the band's index ('' for no score), the stored source ('' for
    none) or the rule. A median is then read in the one bucket that holds its rank."""

    __tablename__ = "claim_time_weeks"

    week: Mapped[date] = mapped_column(Date, primary_key=True)
    grouping: Mapped[str] = mapped_column(String(8), primary_key=True)
    value: Mapped[str] = mapped_column(Text, primary_key=True)
    bucket: Mapped[int] = mapped_column(Integer, primary_key=True)
    leads: Mapped[int] = mapped_column(Integer, default=0)


class FunnelDay(Base):
    """How far the leads stored on one UTC day with one source, campaign and segment (each
    trimmed, '' for none) got; `shard` spreads one group's writers over a few rows (PostgreSQL;
    0 on SQLite). Each counter is the funnel's (storage.funnel): the leads that entered, those
    kept under the MQL threshold, those that reached each later stage and those that made each
    step with a time. Kept by triggers on leads (storage.funnel_rollups), so a year of
    `/leads funnel` sums tens of thousands of rows instead of grouping a million leads: a new
    lead writes one row."""

    __tablename__ = "funnel_days"
    # Its key is all a look-up needs: on SQLite the rows live in the key's B-tree alone.
    __table_args__ = ({"sqlite_with_rowid": False},)

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    source: Mapped[str] = mapped_column(String(120), primary_key=True)
    campaign: Mapped[str] = mapped_column(String(200), primary_key=True)
    segment: Mapped[str] = mapped_column(String(120), primary_key=True)
    shard: Mapped[int] = mapped_column(Integer, primary_key=True)
    entered: Mapped[int] = mapped_column(Integer, default=0)
    under_threshold: Mapped[int] = mapped_column(Integer, default=0)
    sql: Mapped[int] = mapped_column(Integer, default=0)
    accepted: Mapped[int] = mapped_column(Integer, default=0)
    contacted: Mapped[int] = mapped_column(Integer, default=0)
    opportunity: Mapped[int] = mapped_column(Integer, default=0)
    won: Mapped[int] = mapped_column(Integer, default=0)
    timed_sql: Mapped[int] = mapped_column(Integer, default=0)
    timed_accepted: Mapped[int] = mapped_column(Integer, default=0)
    timed_contacted: Mapped[int] = mapped_column(Integer, default=0)
    timed_opportunity: Mapped[int] = mapped_column(Integer, default=0)
    timed_won: Mapped[int] = mapped_column(Integer, default=0)


class FunnelTimeWeek(Base):
    """How many leads stored in one UTC week (from Monday) took each step after the first
    (`step`: sql, accepted, contacted, opportunity, won) in a time within each bucket
    (storage.tuning_rollups's), per `grouping` (source, campaign or segment) and its `value`
    (trimmed, '' for none). A median is then read in the one bucket that holds its rank."""

    __tablename__ = "funnel_time_weeks"
    __table_args__ = ({"sqlite_with_rowid": False},)

    week: Mapped[date] = mapped_column(Date, primary_key=True)
    grouping: Mapped[str] = mapped_column(String(8), primary_key=True)
    value: Mapped[str] = mapped_column(String(200), primary_key=True)
    shard: Mapped[int] = mapped_column(Integer, primary_key=True)
    step: Mapped[str] = mapped_column(String(12), primary_key=True)
    bucket: Mapped[int] = mapped_column(Integer, primary_key=True)
    leads: Mapped[int] = mapped_column(Integer, default=0)


class FunnelBucketBound(Base):
    """Where each bucket of a step's time begins (storage.tuning_rollups.BOUNDS_US, and -1
    below zero): SQLite's funnel triggers find a time's bucket here by one index seek, where
    the search written inline repeated the time's expression in each comparison and made the
    schema every connection parses several megabytes."""

    __tablename__ = "funnel_bucket_bounds"
    __table_args__ = ({"sqlite_with_rowid": False},)

    lower_us: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    bucket: Mapped[int] = mapped_column(Integer)


class Rejection(Base):
    """One reject as the feedback reports read it: the reason and note sales gave, with the
    lead's source and campaign, written with the reject event. A year of them is counted from
    one narrow index, without the event log's JSON or the wide leads table."""

    __tablename__ = "rejections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="RESTRICT"))
    at: Mapped[datetime]
    source: Mapped[str | None] = mapped_column(String(120))
    campaign: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        # A period's rejections by time; grouped in index order, with no sort, for a long one;
        # and each group's newest notes, a few entries from the end of its range.
        Index("ix_rejections_at", "at", "source", "campaign", "reason"),
        Index("ix_rejections_group", "source", "campaign", "reason", "at"),
        Index(
            "ix_rejections_noted",
            "source",
            "campaign",
            "reason",
            "at",
            postgresql_where=text("note IS NOT NULL"),
            sqlite_where=text("note IS NOT NULL"),
        ),
        # A lead's first reject (the tuning report's reason), read from the index alone.
        Index("ix_rejections_lead", "lead_id", "at", "id", "reason"),
    )


class OutboxKind(enum.StrEnum):
    """Slack side effects, each derived from stored state when it is sent."""

    POST_CARD = "post_card"  # the lead's card, into its channel, exactly once
    UPDATE_CARD = "update_card"  # redraw the card from the lead's current state
    # The same redraw through the click's response_url (payload: the URL); UPDATE_CARD if refused
    REPLACE_CARD = "replace_card"
    DM = "dm"  # a direct message to `user_id` about the lead
    EPHEMERAL = "ephemeral"  # a message only `user_id` sees in `channel`
    THREAD_REPLY = "thread_reply"  # a reply in the card's thread
    CHANNEL_MESSAGE = "channel_message"  # a message into `channel` (escalations, the digest)
    PUBLISH_HOME = "publish_home"  # redraw `user_id`'s App Home tab from current state
    FEEDBACK_FILE = "feedback_file"  # the rejection feedback export, as a CSV in `user_id`'s DM
    BURST_NOTICE = "burst_notice"  # "N leads are arriving": into `channel`, ahead of its cards
    REDRAW_MESSAGES = "redraw_messages"  # redraw the lead's remembered messages (LeadMessage)
    CHANNEL_CHART = "channel_chart"  # a chart (payload: which, and its period) as a PNG file


class LeadMessage(Base):
    """A message Baton sent about a lead that offers buttons (a DM, an escalation in the card's
    thread): where Slack put it, so it can be redrawn when the lead moves on. `kind` and
    `payload` are what the message was drawn from; `user_id` is who it was sent to (None for a
    message in a channel, which everyone sees)."""

    __tablename__ = "lead_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="RESTRICT"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str | None] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(32))
    ts: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]


class SlackOutbox(Base):
    """One Slack side effect still to deliver (or delivered); retried until Slack takes it or
    refuses it for good (then it is settled as failed, with the reason).

    Rows are written in the same transaction as the state change they report, so a crash can
    lose neither; `locked_until` is a lease, so a worker that dies mid-send frees its rows.
    """

    __tablename__ = "slack_outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id", ondelete="RESTRICT"))
    channel: Mapped[str | None] = mapped_column(String(32))
    user_id: Mapped[str | None] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    locked_until: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(40))  # the worker holding the lease
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    done_at: Mapped[datetime | None]
    # Set with done_at when Baton gave up on it (a permanent Slack error); last_error says why.
    failed_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_slack_outbox_lead_id_kind", "lead_id", "kind"),
        Index("ix_slack_outbox_failed_at", "failed_at"),
        # The queue a delivery round reads: each channel's next post, each method lane's rows.
        Index(
            "ix_slack_outbox_queue_by_channel",
            "channel",
            "id",
            postgresql_where=text("done_at IS NULL"),
            sqlite_where=text("done_at IS NULL"),
        ),
        Index(
            "ix_slack_outbox_queue_by_kind",
            "kind",
            "id",
            postgresql_where=text("done_at IS NULL"),
            sqlite_where=text("done_at IS NULL"),
        ),
    )


class ReceivedClick(Base):
    """A click on a lead's button (Accept, Release, Mark contacted, Reopen), recorded and
    acknowledged before its move is made: the web processes apply the waiting clicks in the
    order they were recorded, each in a transaction that deletes its row (handlers.click_inbox).
    `channel` and `message_ts` say which message was clicked (none for App Home)."""

    __tablename__ = "received_clicks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    action: Mapped[str] = mapped_column(String(16))
    lead_id: Mapped[int] = mapped_column(Integer)  # no foreign key: an unknown lead is told
    user_id: Mapped[str] = mapped_column(String(32))
    in_home: Mapped[bool]
    channel: Mapped[str | None] = mapped_column(String(32))
    message_ts: Mapped[str | None] = mapped_column(String(32))
    response_url: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime]

    # A click waits for the clicks on its lead recorded before it (storage.received_clicks).
    __table_args__ = (Index("ix_received_clicks_lead_id_id", "lead_id", "id"),)


class TimerKind(enum.StrEnum):
    CLAIM_REMINDER = "claim_reminder"
    CLAIM_BREACH = "claim_breach"
    FOLLOW_UP_REMINDER = "follow_up_reminder"
    FOLLOW_UP_BREACH = "follow_up_breach"
    UNDO_CLOSES = "undo_closes"  # not an SLA window: the Undo beside an accept or reject lapses
    OFFER_TIMEOUT = "offer_timeout"  # not an SLA window: an offer passes on (cycle: its try)


class SlaTimer(Base):
    """A moment an SLA window needs attention (a reminder, a breach), kept in the database so
    restarts lose none; fired once: the unique key holds one per lead, kind and window."""

    __tablename__ = "sla_timers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="RESTRICT"))
    kind: Mapped[str] = mapped_column(String(24))
    cycle: Mapped[int] = mapped_column(Integer)
    due_at: Mapped[datetime]
    fired_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("lead_id", "kind", "cycle"),
        # Only pending timers, in the order the sweep takes them: PostgreSQL can then read the
        # index in order and stop at the batch size, even with a large backlog due at once.
        Index(
            "ix_sla_timers_due",
            "due_at",
            "id",
            postgresql_where=text("fired_at IS NULL AND cancelled_at IS NULL"),
            sqlite_where=text("fired_at IS NULL AND cancelled_at IS NULL"),
        ),
        Index("ix_sla_timers_lead_id", "lead_id"),
    )


class SlackEventSeen(Base):
    """An Events API delivery already handled: Slack retries events, and a retry may overlap
    the first attempt, so the event_id is remembered in the database, not in memory."""

    __tablename__ = "slack_events_seen"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    received_at: Mapped[datetime]


class DigestSent(Base):
    """One digest per period key: several processes may run the cron job; one sends."""

    __tablename__ = "digests_sent"

    period_key: Mapped[str] = mapped_column(String(32), primary_key=True)
    sent_at: Mapped[datetime]


class WebhookEndpoint(Base):
    """A `[[webhooks]]` endpoint as every process sees it: its URL, and whether it was disabled
    (by a 410 Gone) and why. Written at start-up from the configuration; kept when the
    configuration drops it, so its deliveries stay explained."""

    __tablename__ = "webhook_endpoints"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    disabled_at: Mapped[datetime | None]
    disabled_reason: Mapped[str | None] = mapped_column(Text)


class WebhookSubscription(Base):
    """An event type an endpoint receives (its patterns, expanded at start-up): a change queues
    its event for the subscribed, enabled endpoints in one INSERT ... SELECT."""

    __tablename__ = "webhook_subscriptions"

    event_type: Mapped[str] = mapped_column(String(32), primary_key=True)
    endpoint: Mapped[str] = mapped_column(
        ForeignKey("webhook_endpoints.name", ondelete="CASCADE"), primary_key=True
    )


class WebhookDelivery(Base):
    """One event for one endpoint, written in the transaction of the change it reports and sent
    until the endpoint takes it, refuses it for good, or its retry window ends.

    `payload` is the body as rendered then (`{"type", "timestamp", "data"}`), so every retry
    sends the same event under the same `message_id` (the `webhook-id` receivers dedupe on).
    A lead's deliveries to an endpoint go in order: only the oldest undelivered one is leased.
    """

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    endpoint: Mapped[str] = mapped_column(String(64))
    event_type: Mapped[str] = mapped_column(String(32))
    message_id: Mapped[str] = mapped_column(String(64))
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id", ondelete="RESTRICT"))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    locked_until: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(40))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    # When its retry window started: queued, or replayed.
    queued_at: Mapped[datetime]
    done_at: Mapped[datetime | None]
    # Set with done_at when Baton gave up on it; last_error says why. A replay clears both.
    failed_at: Mapped[datetime | None]

    __table_args__ = (
        Index(
            "ix_webhook_deliveries_queue",
            "endpoint",
            "lead_id",
            "id",
            postgresql_where=text("done_at IS NULL"),
            sqlite_where=text("done_at IS NULL"),
        ),
        Index("ix_webhook_deliveries_failed_at", "failed_at"),
    )


class RepAway(Base):
    """A rep marked away from routing (`/leads away`): until a moment, or until they are back
    (`until` None); the row goes when they are back. `set_by` is who marked them."""

    __tablename__ = "rep_away"

    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    until: Mapped[datetime | None]
    set_by: Mapped[str] = mapped_column(String(32))
    set_at: Mapped[datetime]
    # Why, when Baton paused the rep itself (bot.pauses); None for `/leads away`.
    reason: Mapped[str | None] = mapped_column(String(200))


class RepMissedSlas(Base):
    """How many SLAs in a row a rep's leads have breached since they last met one (a rep
    with no row has missed none), for pausing them (bot.pauses)."""

    __tablename__ = "rep_missed_slas"

    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    in_a_row: Mapped[int] = mapped_column(Integer)


class RotationPointer(Base):
    """A rep's place in a route pool's rotation (bot.rotation): kept per pool and rep, so a
    rep leaving or joining a pool leaves everyone else's place as it was. A row without a
    pointer is a rep new to the pool, written first so that routing has a row to lock even for
    a pool's very first lead (storage.routing.pointers)."""

    __tablename__ = "rotation_pointers"

    pool: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    pointer: Mapped[float | None] = mapped_column(Float)

"""What a card, a DM and a thread reply send Slack: within Block Kit's limits for any lead, the
same JSON slack_sdk's models make of the same values (they drew it before bot.block_kit), and a
posted card redrawn exactly when the lead changed while it was being posted."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
    UserSelectElement,
)

from bot import block_kit, cards, lead_messages
from bot.cards import CARD_COLUMNS, Message, card_facts, lead_card, lead_dm, offer_dm
from bot.lifecycle import Lifecycle
from bot.outbox import DmKind
from bot.rules import DEFAULT_REASONS, Rules
from bot.sla_policy import SlaPolicies
from bot.slack_ids import ASSIGN_BLOCK_PREFIX
from bot.slack_text import MESSAGE_BLOCKS_LIMIT, SECTION_LIMIT, safe_text
from storage import leads as lead_store
from storage import outbox as outbox_store
from storage.db import Database
from storage.models import Lead, LeadEvent, LeadStatus, OutboxKind
from tests.bot.test_cards import assert_blocks_within_limits, lead_in
from tests.conftest import NOW
from tests.factories import create_lead

LIFECYCLE = Lifecycle(SlaPolicies(Rules()))
NEW_YORK_WINTER = timezone(-timedelta(hours=5))
EXAMPLES = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Any text: every code point but lone surrogates (Slack's JSON cannot carry them), short or far
# over every limit.
texts = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=40) | st.text(
    st.sampled_from("a&<>*_~`|é🙂\n "), min_size=1, max_size=4000
)
maybe_texts = st.none() | texts
times = st.none() | st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
activities = st.lists(
    st.fixed_dictionaries(
        {"type": texts, "detail": maybe_texts, "at": st.sampled_from(["2026-11-24T14:00:00Z", "x"])}
    ),
    max_size=30,
)
data_changes = st.dictionaries(
    st.sampled_from(["title", "company", "phone", "email", "score", "activities"]),
    st.fixed_dictionaries({"from": maybe_texts, "to": maybe_texts}),
    max_size=6,
)


@st.composite
def leads(draw: st.DrawFn) -> Lead:
    """A lead in any state with any values in the columns the card and the DMs show."""
    status = draw(st.sampled_from(list(LeadStatus)))
    values: dict[str, Any] = {
        name: draw(maybe_texts)
        for name in (
            "name",
            "title",
            "company",
            "sla_policy",
            "intent",
            "promoted_why",
            "reject_note",
            "outcome_reason",
            "outcome_currency",
        )
    }
    for name in (
        "claim_due_at",
        "follow_up_due_at",
        "escalated_at",
        "accepted_at",
        "rejected_at",
        "contacted_at",
        "opportunity_at",
        "closed_at",
    ):
        values[name] = draw(times)
    # A reason is one the team configured when the lead was rejected, or one retired since.
    values["reject_reason"] = draw(st.sampled_from([None, "retired", *DEFAULT_REASONS]))
    values["score"] = draw(st.none() | st.integers(-(10**9), 10**9))
    values["activities"] = draw(activities)
    values["data_changes"] = draw(data_changes)
    values["data_changed_at"] = draw(times)
    people = st.none() | st.sampled_from(["U0REP000001", "U0REP000002", "<!channel>"])
    values["owner_id"], values["offered_to"] = draw(people), draw(people)
    values["rejected_by"] = draw(people)
    return lead_in(status, **values)


def sent(blocks: list[dict[str, Any]]) -> str:
    """The JSON Slack receives of these blocks."""
    return json.dumps(blocks, ensure_ascii=False)


def as_slack_sdk_draws(blocks: list[dict[str, Any]]) -> str:
    """The JSON slack_sdk's models make of the same blocks (validating them on the way)."""
    return sent([Block.parse(block).to_dict() for block in blocks])  # type: ignore[union-attr]


# --------------------------------------------------------------------------- builders


@given(text=texts, block_id=st.none() | texts, fields=st.lists(texts, max_size=12))
@EXAMPLES
def test_a_section_is_slack_sdks_section_and_refused_where_it_is(
    text: str, block_id: str | None, fields: list[str]
) -> None:
    accessory = block_kit.button("Go", action_id="go", value="1")
    try:
        model = SectionBlock(
            text=MarkdownTextObject(text=text),
            block_id=block_id,
            fields=[MarkdownTextObject(text=field) for field in fields],
            accessory=ButtonElement(text=PlainTextObject(text="Go"), action_id="go", value="1"),
        ).to_dict()
    except SlackObjectFormationError:
        model = None
    slack_refuses = model is None or any(len(field) > 2000 for field in fields)
    if slack_refuses:
        with pytest.raises(block_kit.BlockKitLimitError):
            block_kit.section(text, block_id=block_id, fields=fields, accessory=accessory)
    else:
        ours = block_kit.section(text, block_id=block_id, fields=fields, accessory=accessory)
        assert sent([ours]) == sent([model])  # type: ignore[list-item]


@given(elements=st.lists(texts, min_size=1, max_size=12), block_id=st.none() | texts)
@EXAMPLES
def test_a_context_is_slack_sdks_context(elements: list[str], block_id: str | None) -> None:
    try:
        model = ContextBlock(
            elements=[MarkdownTextObject(text=text) for text in elements], block_id=block_id
        ).to_dict()
    except SlackObjectFormationError:
        model = None
    if model is None or any(len(text) > 3000 for text in elements):
        with pytest.raises(block_kit.BlockKitLimitError):
            block_kit.context(elements, block_id=block_id)
    else:
        assert sent([block_kit.context(elements, block_id=block_id)]) == sent([model])


@given(
    text=texts,
    action_id=texts,
    value=texts,
    style=st.sampled_from([None, "primary", "danger"]),
    emoji=st.sampled_from([None, True, False]),
    count=st.integers(1, 27),
    block_id=st.none() | texts,
)
@EXAMPLES
def test_buttons_in_an_actions_block_are_slack_sdks(
    text: str,
    action_id: str,
    value: str,
    style: block_kit.ButtonStyle | None,
    emoji: bool | None,
    count: int,
    block_id: str | None,
) -> None:
    try:
        button = ButtonElement(
            text=PlainTextObject(text=text, emoji=emoji),
            action_id=action_id,
            value=value,
            style=style,
        )
        model = ActionsBlock(elements=[button] * count, block_id=block_id).to_dict()
    except SlackObjectFormationError:
        model = None
    if model is None:
        with pytest.raises(block_kit.BlockKitLimitError):
            ours = block_kit.button(
                text, action_id=action_id, value=value, style=style, emoji=emoji
            )
            block_kit.actions([ours] * count, block_id=block_id)
    else:
        ours = block_kit.button(text, action_id=action_id, value=value, style=style, emoji=emoji)
        assert sent([block_kit.actions([ours] * count, block_id=block_id)]) == sent([model])


@given(text=texts)
@EXAMPLES
def test_a_header_and_a_user_picker_are_slack_sdks(text: str) -> None:
    try:
        model = HeaderBlock(text=PlainTextObject(text=text)).to_dict()
    except SlackObjectFormationError:
        model = None
    if model is None:
        with pytest.raises(block_kit.BlockKitLimitError):
            block_kit.header(text)
    else:
        assert sent([block_kit.header(text)]) == sent([model])
    if len(text) <= 150:
        picker = UserSelectElement(action_id="pick", placeholder=PlainTextObject(text=text))
        ours = block_kit.users_select(action_id="pick", placeholder=text)
        assert sent([ours]) == sent([picker.to_dict()])


def test_empty_text_is_refused_rather_than_sent_without_its_text() -> None:
    for build in (block_kit.mrkdwn, block_kit.header, block_kit.section):
        with pytest.raises(block_kit.BlockKitLimitError):
            build("")
    with pytest.raises(block_kit.BlockKitLimitError):
        block_kit.section()


# --------------------------------------------------------------------------- lead messages


def escalation(lead: Lead, viewer: str | None, event: LeadEvent | None) -> Message:
    drawing = lead_messages.Drawing(
        kind=DmKind.ESCALATION,
        payload={"breach": "follow_up", "owner": lead.owner_id, "due": NOW.isoformat()},
        viewer=viewer,
        last_event=event,
        now=NOW,
        undo_window=timedelta(minutes=5),
        reasons=DEFAULT_REASONS,
    )
    return lead_messages.draw(lead, drawing)


def rejected_dm(lead: Lead) -> Message:
    event = LeadEvent(id=7, lead_id=lead.id, action="reject", actor="U0REP000001", at=NOW)
    drawing = lead_messages.Drawing(
        kind=DmKind.REJECTED,
        payload={},
        viewer="U0REP000001",
        last_event=event,
        now=NOW,
        undo_window=timedelta(minutes=5),
        reasons=DEFAULT_REASONS,
    )
    return lead_messages.draw(lead, drawing)


@given(lead=leads(), emojis=st.dictionaries(texts, texts, max_size=3), reason=texts)
@EXAMPLES
def test_every_message_about_any_lead_fits_slack_and_is_what_slack_sdk_made(
    lead: Lead, emojis: dict[str, str], reason: str
) -> None:
    reasons = {**DEFAULT_REASONS, **({lead.reject_reason: reason} if lead.reject_reason else {})}
    if lead.sla_policy:
        emojis[lead.sla_policy] = reason
    messages = [
        lead_card(lead, reasons=reasons, now=NOW, emojis=emojis),
        lead_dm(lead, kind=DmKind.OWNER, reasons=reasons, emojis=emojis, viewer="U0REP000002"),
        lead_dm(lead, kind=DmKind.FOLLOW_UP_REMINDER, reasons=reasons, emojis=emojis),
        offer_dm(lead, intro=f"*{safe_text(reason, 100)}* is offered to you", reasons=reasons),
        escalation(lead, "U0MANAGER01", None),
        escalation(lead, None, None),
        rejected_dm(lead),
    ]
    for message in messages:
        assert 0 < len(message.text) <= SECTION_LIMIT
        # The escalation's Assign to… picker is no button; slack_sdk checks it below.
        assert_blocks_within_limits(
            [
                b
                for b in message.blocks
                if not b.get("block_id", "").startswith(ASSIGN_BLOCK_PREFIX)
            ],
            MESSAGE_BLOCKS_LIMIT,
        )
        assert sent(message.blocks) == as_slack_sdk_draws(message.blocks)


# --------------------------------------------------------------------------- card facts


class ReadsRecorded:
    """A lead whose attribute reads are written down, to see what drawing its card reads."""

    def __init__(self, lead: Lead, reads: set[str]) -> None:
        self._lead, self._reads = lead, reads

    def __getattr__(self, name: str) -> Any:
        self._reads.add(name)
        return getattr(self._lead, name)


@given(lead=leads())
@EXAMPLES
def test_the_card_reads_no_column_but_those_its_facts_compare(lead: Lead) -> None:
    reads: set[str] = set()
    drawn = lead_card(ReadsRecorded(lead, reads), reasons=DEFAULT_REASONS)  # type: ignore[arg-type]

    assert reads <= set(CARD_COLUMNS)
    assert drawn == lead_card(lead, reasons=DEFAULT_REASONS)


@given(lead=leads(), notes=texts, email=texts)
@EXAMPLES
def test_leads_with_the_same_facts_draw_the_same_card(lead: Lead, notes: str, email: str) -> None:
    """The same instants in other time zones, or naive, and a status as stored text, are the
    same facts; a column the card does not show is no fact."""
    other = lead_store.detached_copy(lead)
    other.notes, other.email, other.status = notes, email, str(lead.status)  # type: ignore[assignment]
    for n, column in enumerate(CARD_COLUMNS):
        value = getattr(lead, column)
        if isinstance(value, datetime):
            naive, elsewhere = value.replace(tzinfo=None), value.astimezone(NEW_YORK_WINTER)
            setattr(other, column, naive if n % 2 else elsewhere)

    assert card_facts(other) == card_facts(lead)
    assert lead_card(other, reasons=DEFAULT_REASONS) == lead_card(lead, reasons=DEFAULT_REASONS)


def test_values_that_draw_differently_are_different_facts() -> None:
    lead = lead_in(LeadStatus.OPEN)
    for column, one, other in (
        ("activities", [{"type": "visit", "detail": 1}], [{"type": "visit", "detail": True}]),
        ("claim_due_at", NOW, NOW + timedelta(minutes=1)),
        ("title", "CFO", "CEO"),
    ):
        first, second = lead_store.detached_copy(lead), lead_store.detached_copy(lead)
        setattr(first, column, one)
        setattr(second, column, other)
        assert card_facts(first) != card_facts(second)
        assert lead_card(first, reasons=DEFAULT_REASONS) != lead_card(
            second, reasons=DEFAULT_REASONS
        )


@pytest.mark.parametrize("changed", [{}, {"title": "Chief Revenue Officer"}, {"score": 12}])
def test_a_posted_card_is_redrawn_only_if_the_lead_changed_while_it_was_posted(
    db: Database, changed: dict[str, Any]
) -> None:
    """As the delivery worker posts a card: drawn from the lead as it will be once posted,
    compared by its facts with the lead as recording the post writes it (read back from the
    database, its times and status as stored)."""
    with db.write() as session:
        lead_id = create_lead(session).id
    with db.read() as session:
        stored = lead_store.get_lead(session, lead_id)
        assert stored is not None
        posted_as = LIFECYCLE.as_posted(stored, now=NOW)
    drawn = card_facts(posted_as)
    if changed:
        with db.write() as session:
            lead_store.update_lead(session, lead_id, changed)
    with db.write() as session:
        written = LIFECYCLE.card_posted(
            session,
            lead_id=lead_id,
            channel="C0SALES0001",
            ts="1.1",
            now=NOW,
            still_drawn=lambda lead: card_facts(lead) == drawn,
        )
        redrawn = any(
            row.kind == OutboxKind.UPDATE_CARD
            for row in outbox_store.list_rows(session, lead_id=lead_id)
        )

    assert redrawn == bool(changed)
    same_card = cards.lead_card(written, reasons={}) == cards.lead_card(posted_as, reasons={})
    assert same_card == (not changed)

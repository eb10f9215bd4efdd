"""A lead's history in words: every move with who and when in the team's zone, inert lead data,
and a history of any length inside Slack's limits."""

from __future__ import annotations

import json
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.lead_history import HISTORY_SHOWN, history_line, lead_blocks
from bot.rules import Rules
from bot.slack_text import MESSAGE_BLOCKS_LIMIT, SECTION_LIMIT
from storage.models import Lead, LeadEvent, LeadStatus
from tests.conftest import NOW

NEW_YORK = ZoneInfo("America/New_York")
REASONS = Rules().reasons
REP, MANAGER = "U0REP000001", "U0MANAGER01"


def event(action: str, actor: str = REP, **details: object) -> LeadEvent:
    return LeadEvent(
        lead_id=7, action=action, to_status=LeadStatus.OPEN, actor=actor, at=NOW, details=details
    )


@pytest.mark.parametrize(
    ("move", "words"),
    [
        (event("create", "baton", source="webinar"), "arrived from webinar"),
        (event("post", "baton"), "card posted"),
        (event("accept"), f"claimed by <@{REP}>"),
        (
            event("reject", reason="no_budget", note="Freeze <!channel>"),
            f"rejected by <@{REP}>: No budget — _Freeze &lt;!channel&gt;_",
        ),
        (
            event("escalate", "baton", breach="claim", reopened=False),
            "claim SLA breached, escalated to managers",
        ),
        (
            event("escalate", "baton", breach="follow_up", reopened=True),
            "follow-up SLA breached, escalated to managers; open to every rep again",
        ),
        (
            event("reopen", MANAGER, previous_owner=REP),
            f"reopened by <@{MANAGER}> (it was <@{REP}>'s)",
        ),
        (event("release"), f"released by <@{REP}>"),
        (event("assign", MANAGER, assignee=REP), f"assigned to <@{REP}> by <@{MANAGER}>"),
        (event("mark_contacted"), f"marked contacted by <@{REP}>"),
        (
            event("outcome", stage="won", amount="12000.00", currency="EUR", reason="2 years"),
            f"won, recorded by <@{REP}> · 12,000 EUR: 2 years",
        ),
        (event("outcome", stage="opportunity"), f"became an opportunity, recorded by <@{REP}>"),
        (event("undo_reject"), f"undo_reject by <@{REP}>"),  # a move a newer version wrote
    ],
)
def test_every_move_says_what_happened_who_did_it_and_when(move: LeadEvent, words: str) -> None:
    # NOW is Tuesday 15:00 UTC: 10:00 in New York.
    assert history_line(move, reasons=REASONS, timezone=NEW_YORK, now=NOW) == (
        f"• Tue 24 Nov 10:00 · {words}"
    )


def test_a_move_of_another_year_says_the_year() -> None:
    line = history_line(
        event("accept"), reasons=REASONS, timezone=NEW_YORK, now=NOW + timedelta(days=60)
    )
    assert line.startswith("• Tue 24 Nov 2026 10:00 ·")


def test_an_escalated_lead_still_names_its_owner() -> None:
    lead = Lead(id=7, name="Jane", status=LeadStatus.ESCALATED, owner_id=REP, sla_policy="hot")
    text = json.dumps(
        lead_blocks(lead, [], reasons=REASONS, timezone=NEW_YORK, now=NOW, team_domain=None)
    )
    assert f"escalated, still <@{REP}>'s" in text and "Policy: hot" in text
    assert "The card is not in Slack yet." in text


def test_the_fields_a_sender_added_are_shown_inert_and_within_limits() -> None:
    extra = {"hs_lead_status": "NEW", "utm": {"source": "<!channel>"}, "notes2": "n" * 16000}
    lead = Lead(id=7, name="Jane", status=LeadStatus.OPEN, extra=extra)
    blocks = lead_blocks(lead, [], reasons=REASONS, timezone=NEW_YORK, now=NOW, team_domain=None)

    (sender,) = [block for block in blocks if "From the sender" in json.dumps(block)]
    text = sender["elements"][0]["text"]
    assert text.startswith("From the sender: hs_lead_status: NEW · utm: {")
    assert "<!channel>" not in text and len(text) <= SECTION_LIMIT


def test_a_long_history_stays_within_slacks_limits_and_says_what_is_left_out() -> None:
    lead = Lead(id=7, name="<!channel>" * 40, company="x" * 200, status=LeadStatus.OPEN)
    moves = [event("reject", reason="other", note="n" * 2000) for _ in range(HISTORY_SHOWN + 40)]
    blocks = lead_blocks(
        lead, moves, reasons=REASONS, timezone=NEW_YORK, now=NOW, team_domain="acme"
    )
    assert len(blocks) <= MESSAGE_BLOCKS_LIMIT
    assert all(len(block.get("text", {}).get("text", "")) <= SECTION_LIMIT for block in blocks)
    text = json.dumps(blocks, ensure_ascii=False)
    assert "…40 earlier moves not shown" in text and "<!channel>" not in text
    assert text.count("rejected by") == HISTORY_SHOWN

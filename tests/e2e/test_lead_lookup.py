"""`/leads show` and `/leads find` through signed slash commands: a lead by number, email or
company with its whole history; a search over names, companies and emails."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from bot.lead_history import history_line
from handlers.serve import BatonServer
from slack_emulator import MANAGER, MARKETER, REP_1, REP_2, SALES_CHANNEL, SlackEmulator
from storage import leads as lead_store
from tests.e2e.conftest import buttons, card_text, send_lead, settled, wait_for_card
from tests.e2e.test_leads_command import As, ask

NEW_YORK = ZoneInfo("America/New_York")  # the team's time zone in the test configuration


@pytest.fixture
def people(bot: BatonServer, slack: SlackEmulator) -> dict[str, int]:
    """Two leads at Acme Corp and one at Globex, with their cards posted."""
    ids = {}
    for key, name, company, email in [
        ("jane", "Jane Doe", "Acme Corp", "jane@acme.example"),
        ("john", "John Roe", "Acme Corp", "john@acme.example"),
        ("hank", "Hank Scorpio", "Globex", "hank@globex.example"),
    ]:
        lead = send_lead(bot, external_id=f"lookup-{key}", name=name, company=company, email=email)
        wait_for_card(slack, lead["id"], lambda c: "Claim by" in card_text(c))
        ids[key] = lead["id"]
    return ids


def test_show_tells_the_whole_history_with_who_and_when(
    bot: BatonServer, slack: SlackEmulator, user: As, people: dict[str, int]
) -> None:
    """Rejected, reopened, assigned and released: the card says only "open", the history all."""
    jane = people["jane"]
    card = wait_for_card(slack, jane)
    user(REP_2).click(SALES_CHANNEL, card["ts"], "lead.reject")
    (modal,) = slack.open_views(REP_2)
    user(REP_2).submit_view(
        modal["id"],
        {"reason": {"reason_select": "no_budget"}, "note": {"note_input": "Freeze until May"}},
    )
    ask(user, slack, MANAGER, f"reopen {jane}")
    ask(user, slack, MANAGER, f"assign {jane} <@{REP_1}>")
    (dm,) = slack.wait_for(lambda: [m for m in slack.dms(REP_1) if "lead.release" in buttons(m)])
    user(REP_1).click(REP_1, dm["ts"], "lead.release")  # in the owner's DM
    wait_for_card(slack, jane, lambda c: "lead.accept" in buttons(c))
    settled(bot)

    shown = ask(user, slack, REP_2, f"show {jane}")

    assert "Acme Corp · Jane Doe (#" in shown and "Open: waiting for a rep" in shown
    assert "Policy: " in shown and "jane@acme.example" in shown
    assert "*History* (times in America/New_York)" in shown
    story = [
        "arrived from webinar",
        "card posted",
        f"rejected by <@{REP_2}>: No budget — _Freeze until May_",
        f"reopened by <@{MANAGER}>",
        f"assigned to <@{REP_1}> by <@{MANAGER}>",
        f"released by <@{REP_1}>",
    ]
    positions = [shown.index(line) for line in story]
    assert positions == sorted(positions)  # oldest first
    with bot.services.db.read() as session:
        events = lead_store.list_events(session, jane)
    reasons = bot.services.config.rules.reasons
    now = bot.services.clock()
    for event in events:  # each move at its moment in the team's zone
        local = event.at.astimezone(NEW_YORK)
        line = history_line(event, reasons=reasons, timezone=NEW_YORK, now=now)
        assert f"{local:%H:%M}" in line and line in shown
    assert f"slack.com/archives/{SALES_CHANNEL}/p" in shown  # the link to the card

    assert ask(user, slack, MARKETER, f"{jane}") == ask(user, slack, MARKETER, f"show #{jane}")


def test_show_by_email_or_company_ignores_case(
    slack: SlackEmulator, user: As, people: dict[str, int]
) -> None:
    by_email = ask(user, slack, REP_1, "show JANE@Acme.example")
    assert f"Acme Corp · Jane Doe (#{people['jane']})" in by_email and "*History*" in by_email
    by_company = ask(user, slack, REP_1, "show globex")
    assert f"Globex · Hank Scorpio (#{people['hank']})" in by_company and "*History*" in by_company


@pytest.mark.parametrize("text", ["show acme corp", "show ACME"])
def test_show_naming_several_leads_offers_a_short_list(
    slack: SlackEmulator, user: As, people: dict[str, int], text: str
) -> None:
    """The whole company name, or (no company is named just that) part of it."""
    picks = ask(user, slack, REP_1, text)
    assert "2 leads match" in picks and "*History*" not in picks
    assert "Jane Doe (Acme Corp)" in picks and "John Roe (Acme Corp)" in picks
    assert "Hank" not in picks and "Say `/leads show " in picks


def test_show_of_nothing_says_so(slack: SlackEmulator, user: As, people: dict[str, int]) -> None:
    assert "No lead's email, company or name matches `initech`" in ask(
        user, slack, REP_1, "show initech"
    )
    assert "Lead 999 does not exist" in ask(user, slack, REP_1, "999")


def test_find_searches_names_companies_and_emails(
    slack: SlackEmulator, user: As, people: dict[str, int]
) -> None:
    acme = ask(user, slack, REP_2, "find ACME")
    assert "Leads matching `ACME`* (2)" in acme
    assert "Jane Doe" in acme and "John Roe" in acme and "Hank" not in acme
    assert "Hank Scorpio" in ask(user, slack, MARKETER, "find scorpio")
    assert "Hank Scorpio" in ask(user, slack, MANAGER, "find globex.example")
    nothing = ask(user, slack, REP_1, "find %")  # a wildcard in SQL, a character here
    assert "No lead's name, company or email contains that." in nothing

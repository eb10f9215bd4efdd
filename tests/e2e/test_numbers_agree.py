"""The same leads read through every surface that counts them: `/leads stats`, `/leads sla`,
`/leads mine`, `/leads funnel`, App Home, the weekly digest and the feedback export give the same
numbers, each with its period, its units and what it counts, on leads seeded in known states.

Seeded on Tuesday 24 November 2026, 10:00 in New York (business hours, example rules):

| lead  | policy   | what happens                                              |
|-------|----------|-----------------------------------------------------------|
| hot-1 | hot      | nobody claims it: escalated at 10:15, still waiting       |
| hot-2 | hot      | the same                                                  |
| std-1 | standard | bob accepts at 10:00                                      |
| std-2 | standard | bob accepts at 10:15 (15 business minutes)                |
| std-3 | standard | alice accepts at 10:00, marks it contacted at 10:15       |
| std-4 | standard | alice rejects at 10:00: no budget, "Freeze until May"     |
| std-5 | standard | waiting, its claim deadline at 14:00                      |
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from handlers.digest_job import send_digest_now
from handlers.serve import BatonServer
from handlers.slow_answers import WORKING
from slack_driver import SlackUser
from slack_emulator import (
    MANAGER,
    MARKETER,
    MARKETING_CHANNEL,
    REP_1,
    REP_2,
    SALES_CHANNEL,
    SlackEmulator,
)
from storage import leads as lead_store
from storage.models import LeadStatus
from tests.conftest import NOW
from tests.e2e.conftest import (
    SETTLE_SECONDS,
    card_text,
    eventually,
    send_lead,
    settled,
    slack_user,
    wait_for_card,
)
from tests.e2e.test_funnel import files
from tests.e2e.test_home_and_digest import open_home
from tests.e2e.test_sla_flow import SWEEP, Clock

ALICE, BOB = REP_1, REP_2
TIMES = "(median / p90, by SLA policy)"
# The week's numbers, as every surface must show them.
EVERYONE = {
    "*Handed off*": "7",
    "*Accepted / rejected*": "3 / 1",
    "*Acceptance rate*": "75%",
    "*Not yet accepted or rejected*": "3",  # the two escalated hot leads and std-5
    f"*Time to claim* {TIMES}": "0 min / 15 min",  # 0, 0, 0, 15 min: ranks 2 and 4
    f"*Time to first contact* {TIMES}": "15 min / 15 min",
    "*SLA breaches*": "2 (29% of handed off)",
    "*Outcomes so far*": "0 opportunities · 0 won · 0 lost",
}
PER_REP = (
    f"*Per rep*\n• <@{BOB}>: 2 open now, 2 accepted, 0 contacted\n"
    f"• <@{ALICE}>: 0 open now, 1 accepted, 1 contacted"
)
HEALTH = (
    "*Waiting for a rep:* 3 (2 past their deadline, 0 due within the hour)\n"
    "*Claimed, not yet contacted:* 2 (0 past the follow-up deadline, 0 due within the hour)\n"
    "*Escalated now:* 2"
)
# Claims 0, 0 and 15 minutes (ranks: the 2nd), std-3's contact 15 minutes; no deal yet.
FUNNEL = (
    "MQL *7* → SQL *7* (100%) → accepted *3* (43%) → contacted *1* (33%) → "
    "opportunity *0* (0%) → won *0* (–) · *0%* of MQLs won\n"
    "Median time per step: to SQL – · to accepted 0 min · to contacted 15 min · "
    "to opportunity – · to won –"
)
COUNTED = (
    "Times count business hours (Mon–Fri 09:00–17:00 America/New_York, US holidays off) "
    "for standard leads and wall-clock time for hot leads."
)


def stats_fields(message: dict[str, Any]) -> dict[str, str]:
    """The numbers a message shows as label/value cells, by label (with its units)."""
    cells = [
        field["text"].split("\n", 1)
        for block in message.get("blocks", [])
        for field in block.get("fields", [])
    ]
    return {label: value for label, value in cells}


def section(message: dict[str, Any], starting: str) -> str:
    """The text of the one section that starts with `starting`."""
    (text,) = [
        block["text"]["text"]
        for block in message.get("blocks", [])
        if block.get("type") == "section"
        and block.get("text", {}).get("text", "").startswith(starting)
    ]
    return text


def reply(slack: SlackEmulator, user: Callable[[str], SlackUser], who: str, text: str) -> dict:
    """The answer `who` is shown; on a busy machine it follows the "Working on it" notice
    through the command's response_url, and is waited for."""
    before = len(slack.ephemerals(who))
    assert user(who).slash_command("/leads", text).status_code == 200
    (answer,) = slack.wait_for(
        lambda: [r for r in slack.ephemerals(who)[before:] if r["text"] != WORKING], timeout=30
    )
    return answer


def seed(bot: BatonServer, slack: SlackEmulator, clock: Clock) -> None:
    """The leads of the table above, moved by signed clicks and the SLA sweep."""
    as_ = partial(slack_user, slack, bot)
    ids: dict[str, int] = {}
    for name in ("hot-1", "hot-2", "std-1", "std-2", "std-3", "std-4", "std-5"):
        intent = "demo_request" if name.startswith("hot") else "content_download"
        ids[name] = send_lead(bot, external_id=name, name=name, intent=intent)["id"]
    card = {
        name: wait_for_card(slack, lead_id, lambda c: "Claim by" in card_text(c))
        for name, lead_id in ids.items()
    }
    as_(BOB).click(SALES_CHANNEL, card["std-1"]["ts"], "lead.accept")
    as_(ALICE).click(SALES_CHANNEL, card["std-3"]["ts"], "lead.accept")
    as_(ALICE).click(SALES_CHANNEL, card["std-4"]["ts"], "lead.reject")
    (form,) = slack.open_views(ALICE)
    as_(ALICE).submit_view(
        form["id"],
        {"reason": {"reason_select": "no_budget"}, "note": {"note_input": "Freeze until May"}},
    )
    settled(bot)

    clock.advance(minutes=15)

    def escalated() -> bool:
        with bot.services.db.read() as session:
            leads = [lead_store.get_lead(session, ids[name]) for name in ("hot-1", "hot-2")]
        return all(lead.status == LeadStatus.ESCALATED for lead in leads)

    eventually(escalated)
    as_(BOB).click(SALES_CHANNEL, card["std-2"]["ts"], "lead.accept")
    home = open_home(slack, as_, ALICE)
    as_(ALICE).click_in_view(home["id"], "lead.contacted", value=str(ids["std-3"]))
    settled(bot)


def test_stats_home_digest_and_export_agree_on_seeded_leads(
    start_bot: Callable[..., BatonServer], slack: SlackEmulator
) -> None:
    clock = Clock(NOW)
    bot = start_bot(clock=clock, sweep_every=SWEEP)
    user = partial(slack_user, slack, bot)
    seed(bot, slack, clock)

    stats = reply(slack, user, MANAGER, "stats 7d")
    home = open_home(slack, user, MANAGER)
    assert send_digest_now(bot.services)
    settled(bot)
    digest, _chart = slack.messages(MARKETING_CHANNEL)

    # One set of numbers, each under a heading naming its period once, units stated.
    for surface, period in ((stats, "last 7 days"), (home, "this week"), (digest, "last 7 days")):
        assert stats_fields(surface) == EVERYONE
        assert section(surface, "*Per rep*") == PER_REP
        assert f"*Handoff numbers, {period}*" in card_text(surface)
        assert COUNTED in card_text(surface)
    assert "This week: this week" not in card_text(home)

    # The funnel of the same leads (no scoring model: every lead an MQL and an SQL) reads the
    # same in `/leads funnel`, both App Homes and the digest.
    funnel = reply(slack, user, MARKETER, "funnel 7d")
    marketers_home = open_home(slack, user, MARKETER)
    for surface, period in (
        (funnel, "last 7 days"),
        (home, "last 30 days"),
        (marketers_home, "last 30 days"),
        (digest, "last 7 days"),
    ):
        assert section(surface, "*Funnel to revenue") == f"*Funnel to revenue, {period}*\n{FUNNEL}"

    # SLA health: escalated leads waiting for a rep are past their deadline, wherever it shows.
    assert section(home, "*Waiting for a rep:*") == HEALTH
    assert section(reply(slack, user, MANAGER, "sla"), "*Waiting for a rep:*") == HEALTH

    # A rep's own numbers: no "not yet decided" (none is theirs by definition) beside their
    # open leads, and those agree with their Home and `/leads mine`.
    own = reply(slack, user, BOB, "stats")
    assert "*Your numbers, last 7 days*" in card_text(own)
    assert stats_fields(own) == {
        "*Handed off*": "2",
        "*Accepted / rejected*": "2 / 0",
        "*Acceptance rate*": "100%",
        f"*Time to claim* {TIMES}": "0 min / 15 min",
        f"*Time to first contact* {TIMES}": "– / –",
        "*SLA breaches*": "0 (0% of handed off)",
        "*Outcomes so far*": "0 opportunities · 0 won · 0 lost",
    }
    assert (
        section(own, "*Per rep*") == f"*Per rep*\n• <@{BOB}>: 2 open now, 2 accepted, 0 contacted"
    )
    bobs_home = card_text(open_home(slack, user, BOB))
    assert "*Your open leads* (2)" in bobs_home and "*Waiting for a rep* (3)" in bobs_home
    assert "*Your open leads* (2)" in card_text(reply(slack, user, BOB, "mine"))

    # The export holds the one rejection the numbers and the digest's feedback count.
    assert digest["text"].endswith(": 7 SQLs handed off, 75% accepted, 2 SLA breaches.")
    assert "*webinar / Q4 Ops Webinar*: 1 rejection\n" in card_text(digest)
    assert "Rejections made in this period, whenever the lead arrived" in card_text(digest)
    webinar = "*webinar / Q4 Ops Webinar*"
    feedback = section(reply(slack, user, MARKETER, "feedback 30d"), webinar)
    assert feedback == section(open_home(slack, user, MARKETER), webinar)
    assert feedback == section(digest, webinar)  # the one rejection is in both periods
    reply(slack, user, MARKETER, "feedback 7d csv")
    (sent,) = slack.wait_for(  # after the funnel's chart
        lambda: files(slack, MARKETER, ".csv"), timeout=SETTLE_SECONDS
    )
    (header, row) = slack.file_content(sent["id"]).decode().splitlines()
    assert header.startswith("lead_id,") and "no_budget" in row and "Freeze until May" in row

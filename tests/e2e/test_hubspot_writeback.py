"""The HubSpot write-back end to end: decisions made in Slack reach the project's fake HubSpot
through HubSpot's official client: one owner change, one status change and one note per
decision, through rate limits and answers lost after HubSpot made the change; a contact
HubSpot does not have is recorded as failed and shown; without a token nothing is sent."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from handlers.serve import BatonServer
from hubspot_emulator import Contact, HubSpotEmulator, Owner
from slack_emulator import REP_1, REP_2, SALES_CHANNEL, SlackEmulator
from storage import webhooks as webhook_store
from tests.conftest import EXAMPLE_RULES
from tests.e2e.conftest import (
    INTAKE_AUTH,
    buttons,
    eventually,
    send_lead,
    settled,
    slack_user,
    wait_for_card,
)
from tests.handlers.test_cli import baton as run_cli

FAST = {"webhook_first_retry": 0.05}
ADA = Contact("101", {"email": "ada@example.com", "firstname": "Ada", "hs_lead_status": "NEW"})
GRACE = Contact("102", {"email": "grace@example.com", "firstname": "Grace"})
OWNER = "hubspot_owner_id"
STATUS = "hs_lead_status"
WRITES = "baton_hubspot_writes_total"
GIVEN_UP = "baton_hubspot_writes_given_up_total"
FAILURES = "baton_hubspot_write_failures_total"


def slack_email(slack: SlackEmulator, name: str) -> str:
    """The email the Slack emulator shows for a user (users.info's profile.email)."""
    return f"{name}@{slack.workspace.team.id.lower()}.example.com"


@pytest.fixture
def lead_statuses() -> tuple[str, ...] | None:
    """The options of the portal's `hs_lead_status` (None: HubSpot's default ones)."""
    return None


@pytest.fixture
def hubspot(
    slack: SlackEmulator, lead_statuses: tuple[str, ...] | None
) -> Iterator[HubSpotEmulator]:
    """HubSpot with Alice and Bob (REP_1, REP_2 in Slack) as owners, and two contacts."""
    owners = [
        Owner("5001", slack_email(slack, "alice"), "Alice", "Rep"),
        Owner("5002", slack_email(slack, "bob"), "Bob", "Rep"),
    ]
    properties = {STATUS: lead_statuses} if lead_statuses else None
    with HubSpotEmulator(
        owners=owners, contacts=[ADA, GRACE], contact_properties=properties
    ) as hubspot:
        yield hubspot


@pytest.fixture
def hubspot_toml() -> str:
    """The test's `[hubspot]` table."""
    return "[hubspot]\ntimeout_seconds = 1\n"


@pytest.fixture
def config_env(
    config_env: dict[str, str], tmp_path: Path, hubspot: HubSpotEmulator, hubspot_toml: str
) -> dict[str, str]:
    rules = tmp_path / "baton.toml"
    rules.write_text(EXAMPLE_RULES.read_text(encoding="utf-8") + hubspot_toml, encoding="utf-8")
    return {
        **config_env,
        "BATON_CONFIG": str(rules),
        "HUBSPOT_ACCESS_TOKEN": hubspot.token,
        "HUBSPOT_API_URL": hubspot.url,
    }


def hubspot_lead(bot: BatonServer, contact: Contact) -> int:
    """The contact as a HubSpot workflow sends it (a customised body, the intake token)."""
    response = httpx.post(
        f"{bot.url}/api/hooks/hubspot",
        json={
            "hs_object_id": contact.id,
            "email": contact.properties["email"],
            "firstname": contact.properties["firstname"],
        },
        headers=INTAKE_AUTH,
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def written(bot: BatonServer) -> None:
    """Wait until no write-back (nor any Slack delivery) is waiting."""
    settled(bot)

    def nothing_waiting() -> bool:
        with bot.services.db.read() as session:
            return webhook_store.count_waiting(session) == 0

    eventually(nothing_waiting, timeout=20)


def click(slack: SlackEmulator, bot: BatonServer, lead_id: int, who: str, action: str) -> None:
    card = wait_for_card(slack, lead_id, lambda c: action in buttons(c))
    slack_user(slack, bot, who).click(SALES_CHANNEL, card["ts"], action)


def reject(slack: SlackEmulator, bot: BatonServer, lead_id: int, who: str, note: str) -> None:
    click(slack, bot, lead_id, who, "lead.reject")
    (modal,) = slack.open_views(who)
    slack_user(slack, bot, who).submit_view(
        modal["id"], {"reason": {"reason_select": "bad_timing"}, "note": {"note_input": note}}
    )


def counted(bot: BatonServer, counter: str, labels: str) -> float:
    """A counter's value in /metrics (0 before it was first counted in this process)."""
    text = httpx.get(f"{bot.url}/metrics", timeout=5).text
    found = re.search(rf"^{counter}{{{labels}}} (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def values(hubspot: HubSpotEmulator, contact_id: str, name: str) -> list[str]:
    return [change.value for change in hubspot.changes(contact_id, name)]


def test_accept_then_contacted_write_the_owner_once_and_move_the_status(
    start_bot: Callable[..., BatonServer], slack: SlackEmulator, hubspot: HubSpotEmulator
) -> None:
    bot = start_bot(**FAST)
    contacted = counted(bot, WRITES, 'event="lead.contacted"')
    lead_id = hubspot_lead(bot, ADA)
    click(slack, bot, lead_id, REP_1, "lead.accept")
    written(bot)
    assert values(hubspot, "101", OWNER) == ["5001"]
    assert values(hubspot, "101", STATUS) == ["IN_PROGRESS"]

    click(slack, bot, lead_id, REP_1, "lead.contacted")
    written(bot)
    assert values(hubspot, "101", OWNER) == ["5001"]
    assert values(hubspot, "101", STATUS) == ["IN_PROGRESS", "CONNECTED"]
    assert hubspot.notes_for("101") == []
    assert counted(bot, WRITES, 'event="lead.contacted"') - contacted == 1


def test_a_reject_says_unqualified_and_leaves_one_note_with_reason_and_note(
    start_bot: Callable[..., BatonServer], slack: SlackEmulator, hubspot: HubSpotEmulator
) -> None:
    """A lead from outside HubSpot is found by its email."""
    bot = start_bot(**FAST)
    lead_id = send_lead(bot, external_id="web-1", email="grace@example.com", name="Grace <b>")["id"]
    reject(slack, bot, lead_id, REP_2, "Budget <frozen> & reviewed in May")
    written(bot)

    assert values(hubspot, "102", STATUS) == ["UNQUALIFIED"]
    assert values(hubspot, "102", OWNER) == []
    (note,) = hubspot.notes_for("102")
    assert "Bad timing" in note.body
    assert "Budget &lt;frozen&gt; &amp; reviewed in May" in note.body
    assert f"Baton lead #{lead_id} (Grace &lt;b&gt;)" in note.body
    assert slack_email(slack, "bob") in note.body
    assert note.owner_id == "5002"


def test_a_429_and_answers_lost_after_hubspot_wrote_still_write_once(
    start_bot: Callable[..., BatonServer], slack: SlackEmulator, hubspot: HubSpotEmulator
) -> None:
    """The first status write is rate limited; the next one and the note take effect but
    answer after the client's one-second timeout: the retries find them written."""
    limited = hubspot.faults.add("PATCH /crm/v3/objects/contacts/*", status=429, retry_after=1)
    bot = start_bot(**FAST)
    rate_limited_before = counted(bot, FAILURES, 'reason="HTTP 429"')
    lead_id = hubspot_lead(bot, ADA)
    click(slack, bot, lead_id, REP_1, "lead.accept")
    eventually(lambda: limited.hits)
    late_write = hubspot.faults.add("PATCH /crm/v3/objects/contacts/*", delay=2)
    late_note = hubspot.faults.add("POST /crm/v3/objects/notes", delay=2)
    written(bot)
    reject_lead = hubspot_lead(bot, GRACE)
    reject(slack, bot, reject_lead, REP_2, "Call again in spring")
    written(bot)

    assert (late_write.hits, late_note.hits) == (1, 1)
    assert values(hubspot, "101", OWNER) == ["5001"]
    assert values(hubspot, "101", STATUS) == ["IN_PROGRESS"]
    assert values(hubspot, "102", STATUS) == ["UNQUALIFIED"]
    assert len(hubspot.notes_for("102")) == 1
    patches = [r for r in hubspot.requests if r.method == "PATCH"]
    assert [r.status for r in patches][:1] == [429]
    # On a loaded machine the fake may answer the 429 after the client's one-second timeout:
    # the client then never saw it and rightly tried again at once.
    if counted(bot, FAILURES, 'reason="HTTP 429"') > rate_limited_before:
        assert patches[1].at - patches[0].at >= 1  # no sooner than Retry-After


@pytest.mark.parametrize(
    "lead_statuses", [("NEW", "OPEN", "UNQUALIFIED", "CONNECTED")], ids=["no IN_PROGRESS"]
)
def test_what_hubspot_cannot_take_is_recorded_as_failed_shown_and_replayable(
    start_bot: Callable[..., BatonServer],
    slack: SlackEmulator,
    hubspot: HubSpotEmulator,
    config_env: dict[str, str],
) -> None:
    """A status the portal does not offer is refused (400) and not retried; a contact HubSpot
    does not have is not found: both recorded as failed, in /metrics and the CLI; once the
    contact exists, a replay writes its decision."""
    bot = start_bot(**FAST)
    given_up = [
        counted(bot, GIVEN_UP, r) for r in ('reason="refused"', 'reason="contact_not_found"')
    ]
    refused = hubspot_lead(bot, ADA)
    unknown = send_lead(bot, external_id="web-2", email="nobody@example.com")["id"]
    click(slack, bot, refused, REP_1, "lead.accept")
    reject(slack, bot, unknown, REP_1, "Wrong person")
    written(bot)

    assert hubspot.changes() == []
    failed = {lead: error for _, lead, error in failed_rows(bot)}
    assert "IN_PROGRESS was not one of the allowed options" in (failed[refused] or "")
    assert failed[unknown] == "HubSpot has no contact with email nobody@example.com"
    assert counted(bot, GIVEN_UP, 'reason="refused"') - given_up[0] == 1
    assert counted(bot, GIVEN_UP, 'reason="contact_not_found"') - given_up[1] == 1
    shown = baton(config_env, "webhooks", "failed")
    assert " hubspot  lead.accepted " in shown and " hubspot  lead.rejected " in shown

    hubspot.add_contact(Contact("103", {"email": "nobody@example.com"}))
    (row_id,) = [row_id for row_id, lead, _ in failed_rows(bot) if lead == unknown]
    assert "queued again for hubspot" in baton(config_env, "webhooks", "replay", str(row_id))
    eventually(lambda: len(hubspot.notes_for("103")) == 1)
    written(bot)
    assert values(hubspot, "103", STATUS) == ["UNQUALIFIED"]
    assert len(hubspot.notes_for("103")) == 1


def failed_rows(bot: BatonServer) -> list[tuple[int, int | None, str | None]]:
    with bot.services.db.read() as session:
        rows = webhook_store.list_failed(session, limit=5)
        return [(row.id, row.lead_id, row.last_error) for row in rows]


def baton(config_env: dict[str, str], *arguments: str) -> str:
    """`baton ARGUMENTS` as an operator runs it; its standard output."""
    done = run_cli(*arguments, cwd=Path(config_env["BATON_CONFIG"]).parent, env=config_env)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_without_a_token_nothing_is_queued_or_sent(
    start_bot: Callable[..., BatonServer],
    slack: SlackEmulator,
    hubspot: HubSpotEmulator,
    config_env: dict[str, str],
) -> None:
    del config_env["HUBSPOT_ACCESS_TOKEN"]
    bot = start_bot(**FAST)
    lead_id = hubspot_lead(bot, ADA)
    click(slack, bot, lead_id, REP_1, "lead.accept")
    settled(bot)
    assert bot.hubspot is None
    with bot.services.db.read() as session:
        assert webhook_store.list_deliveries(session) == []
    assert hubspot.requests == []

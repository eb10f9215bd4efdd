"""Hostile requests to `POST /slack/events`, as tables: each is refused at the door or answered
plainly to the person, and none stores, sends or logs anything it should not.

The door's cases name a real user and channel, so an answer sent "to whoever the body names"
would show; every body carries MARKER, so a logged body would show too.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import func, select

from handlers.serve import BatonServer
from handlers.slack_request import MAX_BODY_BYTES
from slack_driver import SlackUser
from slack_emulator import (
    DEFAULT_SIGNING_SECRET,
    DEFAULT_TOKEN,
    MANAGER,
    REP_1,
    REP_2,
    SALES_CHANNEL,
    SlackEmulator,
)
from storage.models import Base
from tests.e2e.conftest import card_text, send_lead, settled, wait_for_card

MARKER = "HOSTILE-BODY-MARKER"
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
TEAM = "T0BATON0001"  # the emulator's workspace, which auth.test names
SECRETS = (DEFAULT_SIGNING_SECRET, DEFAULT_TOKEN, "test-intake-token")


# --- building requests ---------------------------------------------------------------------


def signed_headers(
    body: bytes, *, timestamp: str | None = None, secret: str = DEFAULT_SIGNING_SECRET
) -> dict[str, str]:
    """Slack's v0 signature over the raw bytes (which need not be UTF-8, unlike slack_sdk's)."""
    timestamp = timestamp or str(int(time.time()))
    digest = hmac.new(secret.encode(), b"v0:%s:%s" % (timestamp.encode(), body), hashlib.sha256)
    return {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": f"v0={digest.hexdigest()}"}


def form_payload(payload: Any) -> bytes:
    return urlencode({"payload": json.dumps(payload)}).encode()


def a_click(**changes: Any) -> dict[str, Any]:
    """A click on Accept of lead 1 (the `lead_id` fixture's) by alice in #sales, as Slack
    shapes it, with `changes` applied."""
    click = {
        "type": "block_actions",
        "user": {"id": REP_1, "team_id": TEAM},
        "team": {"id": TEAM, "domain": "baton-demo"},
        "channel": {"id": SALES_CHANNEL},
        "container": {"type": "message", "channel_id": SALES_CHANNEL, "message_ts": "1.0"},
        "trigger_id": "1.2.3",
        "actions": [{"action_id": "lead.accept", "value": "1", "type": "button"}],
        "note": MARKER,
    }
    return {**click, **changes}


ARABIC_INDIC_DIGITS = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


def nested(depth: int) -> bytes:
    return ('{"a":' * depth + "1" + "}" * depth).encode()


@dataclass(frozen=True)
class Door:
    """A request and the status it must get; `signing` says how its headers are made."""

    body: bytes
    status: int
    signing: str = "good"
    content_type: str = FORM

    def headers(self) -> dict[str, Any]:
        now = int(time.time())
        signings: dict[str, Callable[[], dict[str, Any]]] = {
            "good": lambda: signed_headers(self.body),
            "none": dict,
            "wrong-secret": lambda: signed_headers(self.body, secret="not-the-secret"),
            "stale": lambda: signed_headers(self.body, timestamp=str(now - 310)),
            "future": lambda: signed_headers(self.body, timestamp=str(now + 310)),
            "non-numeric": lambda: signed_headers(self.body, timestamp=f"{now}abc"),
            "unicode-digits": lambda: {
                name: value.encode()  # as UTF-8 bytes: httpx sends str headers as ASCII only
                for name, value in signed_headers(
                    self.body, timestamp=str(now).translate(ARABIC_INDIC_DIGITS)
                ).items()
            },
            "non-ascii-signature": lambda: {
                "X-Slack-Request-Timestamp": str(now),
                "X-Slack-Signature": ("v0=" + "é" * 64).encode("latin-1"),
            },
            "timestamp-only": lambda: {"X-Slack-Request-Timestamp": str(now)},
        }
        return {"Content-Type": self.content_type, **signings[self.signing]()}


CLICK = form_payload(a_click())
BIG = form_payload(a_click(note=MARKER * (MAX_BODY_BYTES // len(MARKER) + 1)))

DOOR = {
    # Not signed by Slack: refused before the body is read or parsed.
    "unsigned": Door(CLICK, 401, "none"),
    "timestamp-without-signature": Door(CLICK, 401, "timestamp-only"),
    "wrong-secret": Door(CLICK, 401, "wrong-secret"),
    "stale-timestamp": Door(CLICK, 401, "stale"),
    "future-timestamp": Door(CLICK, 401, "future"),
    "non-numeric-timestamp": Door(CLICK, 401, "non-numeric"),
    "unicode-digit-timestamp": Door(CLICK, 401, "unicode-digits"),
    "non-ascii-signature": Door(CLICK, 401, "non-ascii-signature"),
    "unsigned-payload-notjson": Door(b"payload=notjson" + MARKER.encode(), 401, "none"),
    "unsigned-json-array": Door(b'["%s"]' % MARKER.encode(), 401, "none", JSON),
    "unsigned-deep-nesting": Door(nested(100_000), 401, "none", JSON),
    "unsigned-invalid-utf8": Door(b"payload=\xff\xfe" + MARKER.encode(), 401, "none"),
    "unsigned-oversized": Door(BIG, 401, "none"),
    # Too big, whoever signed it: refused from Content-Length, before reading.
    "oversized": Door(BIG, 413, "wrong-secret"),
    "oversized-signed": Door(BIG, 413),
    # Signed, but not a payload Baton could read: refused before Bolt parses anything.
    "payload-notjson": Door(b"payload=notjson" + MARKER.encode(), 400),
    "payload-null": Door(b"payload=null", 400),
    "payload-array": Door(form_payload([a_click()]), 400),
    "payload-string": Door(form_payload(MARKER), 400),
    "json-array": Door(json.dumps([a_click()]).encode(), 400, content_type=JSON),
    "json-deep-nesting": Door(nested(40_000), 400, content_type=JSON),
    "json-nested-past-the-limit": Door(nested(100), 400, content_type=JSON),
    "json-5000-digit-number": Door(b'{"n": %s}' % (b"9" * 5000), 400, content_type=JSON),
    "json-lone-surrogate": Door(
        json.dumps(a_click(note="\ud800")).encode(), 400, content_type=JSON
    ),
    "invalid-utf8": Door(b"payload=\xff\xfe" + MARKER.encode(), 400),
    "percent-encoded-invalid-utf8": Door(
        b"command=%2Fleads&text=%FF&user_id=" + REP_1.encode(), 400
    ),
    "form-without-fields": Door(MARKER.encode(), 400),
    "repeated-form-field": Door(b"payload=%7B%7D&payload=%7B%7D", 400),
    "plain-text": Door(MARKER.encode(), 415, content_type="text/plain"),
}


# --- what must not change ------------------------------------------------------------------


def row_counts(bot: BatonServer) -> dict[str, int]:
    """Rows in every table: nothing a refused request does may add one."""
    with bot.services.db.read() as session:
        return {
            table.name: session.execute(select(func.count()).select_from(table)).scalar_one()
            for table in Base.metadata.sorted_tables
        }


@dataclass
class Watch:
    """The database, Slack's side and the log from the moment a test starts watching."""

    bot: BatonServer
    slack: SlackEmulator
    caplog: pytest.LogCaptureFixture
    lead_id: int
    rows: dict[str, int] = field(default_factory=dict)
    calls: int = 0
    shown: int = 0

    def __post_init__(self) -> None:
        settled(self.bot)
        self.rows = row_counts(self.bot)
        self.calls = len(self.slack.calls())
        self.shown = self._shown()
        self.caplog.clear()

    def _shown(self) -> int:
        store = self.slack.store
        with store.lock:
            return len(store.ephemerals) + sum(len(m) for m in store.messages.values())

    def rows_added(self) -> dict[str, int]:
        now = row_counts(self.bot)
        return {name: now[name] - count for name, count in self.rows.items() if now[name] != count}

    def calls_made(self) -> list[str]:
        return [call.method for call in self.slack.calls()[self.calls :]]

    def assert_nothing_happened(self, *, log_lines: int = 1) -> None:
        settled(self.bot)
        assert self.rows_added() == {}
        assert self.calls_made() == []
        assert self._shown() == self.shown
        assert_log_clean(self.caplog, log_lines)

    def assert_only_told(self, user_id: str, fragment: str) -> None:
        """The one thing that happened: `user_id` was told, only to them, `fragment`."""
        settled(self.bot)
        assert self.rows_added() == {"slack_outbox": 1}  # the message itself, nothing else
        assert self.calls_made() == ["chat.postEphemeral"]
        (told,) = self.slack.ephemerals(user_id)[-1:]
        assert fragment in told["text"], told["text"]
        assert_plain(told["text"])
        assert_log_clean(self.caplog, 1)


def assert_plain(text: str) -> None:
    """A message a person can read: short, no traceback, not the catch-all apology."""
    assert len(text) < 400 and "Traceback" not in text and "went wrong" not in text, text


def assert_log_clean(caplog: pytest.LogCaptureFixture, lines: int) -> None:
    # The test's own HTTP client and the scheduler's ticks are not the bot's doing.
    records = [r for r in caplog.records if not r.name.startswith(("httpx", "apscheduler"))]
    assert len(records) <= lines, [r.getMessage()[:200] for r in records]
    for record in records:
        message = record.getMessage()
        assert len(message) < 200 and record.exc_info is None, message[:200]
    assert MARKER not in caplog.text
    assert not any(secret in caplog.text for secret in SECRETS)


@pytest.fixture(autouse=True)
def log_everything(caplog: pytest.LogCaptureFixture) -> None:
    """INFO and up, set before the bot starts: Bolt's loggers copy the root's level when built
    (and Bolt logs a refused request's body at INFO)."""
    caplog.set_level(logging.INFO)


@pytest.fixture
def lead_id(bot: BatonServer, slack: SlackEmulator) -> int:
    """An open lead whose card is posted and settled: what a request obeyed would change."""
    lead = send_lead(bot)
    wait_for_card(slack, lead["id"], lambda card: "Claim by" in card_text(card))
    return lead["id"]


@pytest.fixture
def watch(
    bot: BatonServer, slack: SlackEmulator, caplog: pytest.LogCaptureFixture, lead_id: int
) -> Callable[[], Watch]:
    """Start watching (after whatever a test sets up first)."""
    return lambda: Watch(bot, slack, caplog, lead_id)


def post(bot: BatonServer, body: bytes, headers: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{bot.url}/slack/events", content=body, headers=headers, timeout=10)


def post_signed(bot: BatonServer, body: bytes, content_type: str = FORM) -> httpx.Response:
    return post(bot, body, {"Content-Type": content_type, **signed_headers(body)})


# --- the door ------------------------------------------------------------------------------


@pytest.mark.parametrize("case", DOOR.values(), ids=DOOR.keys())
def test_the_door_refuses_at_once_and_changes_nothing(
    bot: BatonServer, watch: Callable[[], Watch], case: Door
) -> None:
    watching = watch()
    response = post(bot, case.body, case.headers())

    assert response.status_code == case.status
    assert MARKER not in response.text
    watching.assert_nothing_happened()


def test_an_endless_chunked_body_is_cut_off_at_the_limit(
    bot: BatonServer, watch: Callable[[], Watch]
) -> None:
    """No Content-Length: the limit holds while streaming, and the body never reaches a log."""
    watching = watch()
    sent = 0

    def chunks() -> Iterator[bytes]:
        nonlocal sent
        chunk = (MARKER * 4096).encode()
        while sent < 64 * MAX_BODY_BYTES:
            sent += len(chunk)
            yield chunk

    headers = {"Content-Type": FORM, **signed_headers(b"whatever")}
    try:
        response = httpx.post(
            f"{bot.url}/slack/events", content=chunks(), headers=headers, timeout=10
        )
    except httpx.TransportError:  # the server may close the connection mid-upload instead
        pass
    else:
        assert response.status_code == 413
    assert sent < 64 * MAX_BODY_BYTES  # the server hung up long before the end
    watching.assert_nothing_happened()


# --- another workspace ---------------------------------------------------------------------

OTHER_TEAM = "T0OTHER0001"


def click_on(lead_id: int, **changes: Any) -> bytes:
    return form_payload(
        a_click(actions=[{"action_id": "lead.accept", "value": str(lead_id)}], **changes)
    )


def reject_submission(lead_id: int, **changes: Any) -> dict[str, Any]:
    """bob submitting the reject form for `lead_id` with a valid reason."""
    view = {
        "id": "V0HOSTILE01",
        "type": "modal",
        "callback_id": "lead.reject.submit",
        "private_metadata": str(lead_id),
        "blocks": [{"type": "input", "block_id": "reason"}, {"type": "input", "block_id": "note"}],
        "state": {
            "values": {
                "reason": {
                    "reason_select": {
                        "type": "static_select",
                        "selected_option": {"value": "no_budget"},
                    }
                },
                "note": {"note_input": {"type": "plain_text_input", "value": MARKER}},
            }
        },
    }
    submission = {
        "type": "view_submission",
        "team": {"id": TEAM, "domain": "baton-demo"},
        "user": {"id": REP_2, "team_id": TEAM},
        "trigger_id": "1.2.3",
        "view": view,
    }
    return {**submission, **changes}


def command(text: str, **changes: str) -> bytes:
    fields = {
        "command": "/leads",
        "text": text,
        "team_id": TEAM,
        "team_domain": "baton-demo",
        "channel_id": SALES_CHANNEL,
        "user_id": MANAGER,
        "trigger_id": "1.2.3",
    }
    return urlencode({**fields, **changes}).encode()


def home_opened(**changes: Any) -> bytes:
    event = {
        "type": "event_callback",
        "team_id": TEAM,
        "event_id": f"Ev{time.monotonic_ns()}",
        "event": {"type": "app_home_opened", "user": REP_1, "tab": "home", "note": MARKER},
        "authorizations": [{"team_id": TEAM, "enterprise_id": None, "is_bot": True}],
    }
    return json.dumps({**event, **changes}).encode()


OTHER_WORKSPACE: dict[str, Callable[[int], tuple[bytes, str]]] = {
    "click-other-team": lambda lead: (click_on(lead, team={"id": OTHER_TEAM}), FORM),
    "click-no-team": lambda lead: (click_on(lead, team=None), FORM),
    "click-other-enterprise": lambda lead: (click_on(lead, enterprise={"id": "E0OTHER01"}), FORM),
    "click-other-installation": lambda lead: (
        click_on(lead, view={"app_installed_team_id": OTHER_TEAM}),
        FORM,
    ),
    "submission-other-team": lambda lead: (
        form_payload(reject_submission(lead, team={"id": OTHER_TEAM})),
        FORM,
    ),
    "command-other-team": lambda lead: (command(f"reopen {lead}", team_id=OTHER_TEAM), FORM),
    "command-other-enterprise": lambda lead: (
        command(f"reopen {lead}", enterprise_id="E0OTHER01"),
        FORM,
    ),
    "event-other-team": lambda lead: (home_opened(team_id=OTHER_TEAM), JSON),
    "event-other-authorization": lambda lead: (
        home_opened(authorizations=[{"team_id": OTHER_TEAM}]),
        JSON,
    ),
}


@pytest.mark.parametrize("make", OTHER_WORKSPACE.values(), ids=OTHER_WORKSPACE.keys())
def test_a_signed_request_for_another_workspace_is_refused(
    bot: BatonServer, watch: Callable[[], Watch], lead_id: int, make: Callable
) -> None:
    body, content_type = make(lead_id)
    watching = watch()

    response = post_signed(bot, body, content_type)

    assert response.status_code == 403
    watching.assert_nothing_happened()


@pytest.mark.parametrize(
    "make",
    [
        lambda lead: (click_on(lead), FORM),
        lambda lead: (form_payload(reject_submission(lead)), FORM),
        lambda lead: (home_opened(), JSON),
    ],
    ids=["click", "submission", "event"],
)
def test_the_same_requests_for_this_workspace_are_obeyed(
    bot: BatonServer, watch: Callable[[], Watch], lead_id: int, make: Callable
) -> None:
    """The refusals above are about the workspace, not about the requests' shape."""
    body, content_type = make(lead_id)
    watching = watch()

    assert post_signed(bot, body, content_type).status_code == 200
    settled(bot)
    assert watching.calls_made()  # a card redrawn, a DM sent, a home published


# --- signed, but not what Slack would send: the person is told plainly ----------------------

CLICKS: dict[str, tuple[Callable[[int], dict[str, Any]], str]] = {
    "no-actions": (lambda lead: a_click(actions=[]), "named no button"),
    "empty-action": (lambda lead: a_click(actions=[{}]), "named no button"),
    "actions-not-a-list": (lambda lead: a_click(actions="lead.accept"), "named no button"),
    "value-superscript-two": (
        lambda lead: a_click(actions=[{"action_id": "lead.accept", "value": "²"}]),
        "is not a lead number",
    ),
    "value-thirty-digits": (
        lambda lead: a_click(actions=[{"action_id": "lead.accept", "value": "9" * 30}]),
        "is not a lead number",
    ),
    "value-hostile-text": (
        lambda lead: a_click(actions=[{"action_id": "lead.accept", "value": "<!channel>"}]),
        "&lt;!channel&gt;` is not a lead number",
    ),
    "value-missing": (
        lambda lead: a_click(actions=[{"action_id": "lead.accept"}]),
        "names no lead",
    ),
    "value-not-text": (
        lambda lead: a_click(actions=[{"action_id": "lead.accept", "value": lead}]),
        "could not read that click",
    ),
    "no-trigger": (
        lambda lead: {k: v for k, v in a_click().items() if k != "trigger_id"},
        "could not read that click",
    ),
    "unknown-button": (
        lambda lead: a_click(actions=[{"action_id": "lead.nosuch", "value": str(lead)}]),
        "does not know this button",
    ),
    "no-such-lead": (
        lambda lead: a_click(actions=[{"action_id": "lead.accept", "value": "999999"}]),
        "Lead 999999 does not exist",
    ),
}


@pytest.mark.parametrize(("make", "told"), CLICKS.values(), ids=CLICKS.keys())
def test_a_malformed_click_is_answered_plainly_and_changes_nothing(
    bot: BatonServer, watch: Callable[[], Watch], lead_id: int, make: Callable, told: str
) -> None:
    watching = watch()

    assert post_signed(bot, form_payload(make(lead_id))).status_code == 200

    watching.assert_only_told(REP_1, told)


def test_a_click_naming_nobody_is_acknowledged_and_told_to_no_one(
    bot: BatonServer, watch: Callable[[], Watch], lead_id: int
) -> None:
    watching = watch()

    assert post_signed(bot, form_payload(a_click(user="U0REP000001"))).status_code == 200

    watching.assert_nothing_happened(log_lines=0)


@pytest.fixture
def reject_form(slack: SlackEmulator, user: Callable[[str], SlackUser], lead_id: int) -> str:
    """bob's reject form for the lead, open in Slack; its view id."""
    card = wait_for_card(slack, lead_id)
    user(REP_2).click(SALES_CHANNEL, card["ts"], "lead.reject")
    (form,) = slack.open_views(REP_2)
    return form["id"]


def _view(**changes: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda view: {**view, **changes}


SUBMISSIONS: dict[str, tuple[Callable[[dict[str, Any]], dict[str, Any]], str]] = {
    "no-state": (
        lambda view: {k: v for k, v in view.items() if k != "state"},
        "could not read this form",
    ),
    "state-values-not-a-map": (_view(state={"values": []}), "could not read this form"),
    "metadata-superscript-two": (_view(private_metadata="²"), "is not a lead number"),
    "metadata-thirty-digits": (_view(private_metadata="9" * 30), "is not a lead number"),
    "metadata-not-text": (_view(private_metadata=7), "which lead"),
    "metadata-no-such-lead": (_view(private_metadata="999999"), "Lead 999999 does not exist"),
    "unknown-form": (_view(callback_id="lead.nosuch"), "does not know this form"),
}


@pytest.mark.parametrize(("change", "told"), SUBMISSIONS.values(), ids=SUBMISSIONS.keys())
def test_a_malformed_submission_keeps_the_form_open_with_the_reason(
    bot: BatonServer,
    slack: SlackEmulator,
    watch: Callable[[], Watch],
    lead_id: int,
    reject_form: str,
    change: Callable,
    told: str,
) -> None:
    submission = reject_submission(lead_id)
    submission["view"] = change({**submission["view"], "id": reject_form})
    watching = watch()

    response = post_signed(bot, form_payload(submission))
    assert response.status_code == 200
    slack.answer_submission(reject_form, response.status_code, response.json())

    assert [view["id"] for view in slack.open_views(REP_2)] == [reject_form]  # not closed
    error = slack.view_errors(reject_form)["reason"]
    assert told in error
    assert_plain(error)
    watching.assert_nothing_happened()


def test_a_submission_without_inputs_is_replaced_by_a_notice(
    bot: BatonServer,
    slack: SlackEmulator,
    watch: Callable[[], Watch],
    lead_id: int,
    reject_form: str,
) -> None:
    submission = reject_submission(lead_id)
    submission["view"] = {"id": reject_form, "callback_id": "lead.reject.submit"}
    watching = watch()

    response = post_signed(bot, form_payload(submission))
    assert response.status_code == 200
    slack.answer_submission(reject_form, response.status_code, response.json())

    (notice,) = slack.open_views(REP_2)
    assert "could not read this form" in card_text(notice)
    watching.assert_nothing_happened(log_lines=0)


COMMANDS: dict[str, tuple[str, str]] = {
    "stats-5000-digit-days": ("stats " + "9" * 5000 + "d", "between 1 and 3660"),
    "stats-too-many-days": ("stats 99999d", "between 1 and 3660"),
    "stats-mention": ("stats <!here>", "`&lt;!here&gt;` is not a period"),
    "reopen-superscript-two": ("reopen ²", "is not a lead number"),
    "reopen-thirty-digits": ("reopen " + "1" * 30, "is not a lead number"),
    "reopen-no-such-lead": ("reopen 999999999999", "Lead 999999999999 does not exist"),
    "unknown-subcommand-link": ("<https://evil.example|Claim>", "is not a /leads command"),
    "trailing-words": ("mine <!channel> now", "does not take `&lt;!channel&gt; now`"),
}


@pytest.mark.parametrize(("text", "told"), COMMANDS.values(), ids=COMMANDS.keys())
def test_a_malformed_command_gets_a_short_clear_reply(
    bot: BatonServer, watch: Callable[[], Watch], text: str, told: str
) -> None:
    watching = watch()

    response = post_signed(bot, command(text))

    assert response.status_code == 200
    reply = response.json()
    assert reply.get("response_type", "ephemeral") == "ephemeral"
    assert told in reply["text"]
    assert_plain(reply["text"])
    assert "<!" not in json.dumps(reply) and "<http" not in json.dumps(reply)
    assert "\n" not in reply["text"]  # one line, not the help
    watching.assert_nothing_happened(log_lines=0)


@pytest.mark.parametrize(
    ("body", "told"),
    [
        (command("mine", user_id=""), "could not read that command"),
        (command("mine", command="/nosuch"), "does not know this command"),
    ],
    ids=["no-user", "unknown-command"],
)
def test_a_command_baton_cannot_read_is_answered(
    bot: BatonServer, watch: Callable[[], Watch], body: bytes, told: str
) -> None:
    watching = watch()

    response = post_signed(bot, body)

    assert response.status_code == 200 and told in response.json()["text"]
    watching.assert_nothing_happened(log_lines=1)


@pytest.mark.parametrize(
    "body",
    [
        home_opened(event_id=None),
        home_opened(event={"type": "app_home_opened", "tab": "home"}),
        home_opened(event={"type": "app_home_opened", "user": MARKER}),
        home_opened(event="app_home_opened"),
        home_opened(event={"type": "reaction_added", "user": REP_1}),
    ],
    ids=["no-event-id", "no-user", "user-not-an-id", "event-not-an-object", "unsubscribed"],
)
def test_an_event_baton_cannot_use_is_acknowledged_and_ignored(
    bot: BatonServer, watch: Callable[[], Watch], body: bytes
) -> None:
    """Events answer no one: acknowledged (so Slack does not retry), nothing else."""
    watching = watch()

    assert post_signed(bot, body, JSON).status_code == 200

    watching.assert_nothing_happened()


# --- what people typed, echoed into a channel ----------------------------------------------


@pytest.mark.parametrize(
    "source",
    ["<!channel>", "<!here>", "<https://evil.example|Claim_your_bonus>", "<@U0REP000001>", "&lt;"],
)
def test_a_shared_reply_echoes_what_was_typed_inert(
    bot: BatonServer, slack: SlackEmulator, user: Callable[[str], SlackUser], source: str
) -> None:
    before = len(slack.messages(SALES_CHANNEL))

    user(MANAGER).slash_command("/leads", f"feedback 30d {source} share")

    (shared,) = slack.messages(SALES_CHANNEL)[before:]
    raw = json.dumps([shared["text"], shared.get("blocks")])
    assert source not in raw
    assert source.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") in raw

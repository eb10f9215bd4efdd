"""Lead card buttons and the reject modal: parse the payload, call one domain function."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import lifecycle, notices, offers
from bot.commands import lead_number
from bot.errors import BatonError, InvalidInput, InvalidTransition, NotAllowed
from bot.lead_details import lead_details
from bot.lifecycle import Action, Actor
from bot.modals import (
    parse_pass_submission,
    parse_reject_submission,
    pass_modal,
    reject_errors,
    reject_modal,
)
from bot.received_clicks import Received
from bot.slack_ids import ASSIGN_BLOCK_PREFIX, REASON_ACTION, REASON_BLOCK, ActionId, ViewId
from bot.slack_text import lead_label
from handlers.click_inbox import ClickInbox
from handlers.roles import AssigneeCheck, RoleResolver
from handlers.services import Services


class TriggerExpired(BatonError):
    """The click's trigger_id outlived its 3 seconds before the modal could be opened."""


def lead_id_of(value: str | None) -> int:
    """Button values and private_metadata carry the lead id; anything else is not ours."""
    if not value:
        raise InvalidInput({"lead": "this button or form names no lead"})
    return lead_number(value)


def open_modal(client: WebClient, body: dict[str, Any], view: dict[str, Any], expired: str) -> None:
    """Open `view` with the click's trigger; a trigger that ran out is told as `expired`."""
    try:
        client.views_open(trigger_id=body["trigger_id"], view=view)
    except SlackApiError as error:
        if error.response.get("error") in ("expired_trigger_id", "invalid_trigger_id"):
            raise TriggerExpired(expired) from error
        raise
    except OSError as error:  # Slack did not answer in time: the trigger is gone by now
        raise TriggerExpired(expired) from error


def register(
    app: App,
    services: Services,
    roles: RoleResolver,
    assignees: AssigneeCheck,
    clicks: ClickInbox,
) -> None:
    """The card buttons that move a lead (Accept, Release, Mark contacted, Reopen) are recorded
    and applied after the acknowledgement (handlers.click_inbox); the others act at once."""
    rules = services.config.rules
    actor = roles.actor

    def clicked(body: dict[str, Any]) -> tuple[int, Actor]:
        return lead_id_of(body["actions"][0].get("value")), actor(body["user"]["id"])

    def recorded(action: Action, body: dict[str, Any]) -> None:
        """Record the click, to be applied once acknowledged (bot.received_clicks)."""
        container = body.get("container") or {}
        in_home = container.get("type") == "view"
        clicks.record(
            Received(
                action=action,
                lead_id=lead_id_of(body["actions"][0].get("value")),
                user_id=body["user"]["id"],
                in_home=in_home,
                channel=None if in_home else container.get("channel_id"),
                message_ts=None if in_home else container.get("message_ts"),
                response_url=None if in_home else body.get("response_url"),
            )
        )

    @app.action(ActionId.ACCEPT)
    def on_lead_accept(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        recorded(Action.ACCEPT, body)

    @app.action(ActionId.RELEASE)
    def on_lead_release(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        recorded(Action.RELEASE, body)

    @app.action(ActionId.MARK_CONTACTED)
    def on_lead_contacted(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        recorded(Action.MARK_CONTACTED, body)

    @app.action(ActionId.PASS)
    def on_lead_pass(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        """The rep a lead is offered to asks to hand it on: the form for an optional reason."""
        ack()
        lead_id, who = clicked(body)
        with services.db.read() as session:
            lead = offers.ensure_offered(session, lead_id=lead_id, actor=who)
            view = pass_modal(lead)
            expired = notices.form_expired(lead, button="Pass", form="the Pass form")
        open_modal(client, body, view, expired)

    @app.view(ViewId.PASS)
    def on_lead_pass_submit(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        """The lead goes to the next rep (bot.offers); a refusal shows in the form."""
        with services.unit_of_work() as session:
            offers.pass_offer(
                session,
                rules=rules,
                directory=services.lifecycle.directory,
                lead_id=lead_id_of(view.get("private_metadata")),
                actor=actor(body["user"]["id"]),
                reason=parse_pass_submission(view["state"]["values"]),
                now=services.clock(),
            )
        ack()

    @app.action(ActionId.REOPEN)
    def on_lead_reopen(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        recorded(Action.REOPEN, body)

    @app.action(ActionId.ASSIGN_TO)
    def on_lead_assign_to(ack: Ack, body: dict[str, Any]) -> None:
        """A manager picked a rep in an escalation: assign in one step, once Slack confirms
        the pick is an active rep (the checks of `/leads assign`)."""
        ack()
        picked = body["actions"][0]
        lead_id = lead_id_of((picked.get("block_id") or "").removeprefix(ASSIGN_BLOCK_PREFIX))
        who, assignee = actor(body["user"]["id"]), picked.get("selected_user")
        refusal = assignees.refusal(assignee, asked_by=who.id) if assignee else None
        if not assignee or refusal is not None:
            with services.db.read() as session:
                label = lead_label(lifecycle.require(session, lead_id))
            if not assignee:
                raise InvalidInput({"assignee": f"pick the rep to assign {label} to"})
            raise NotAllowed(f"{label}: {refusal}")
        with services.unit_of_work() as session:
            services.lifecycle.assign(
                session, lead_id=lead_id, actor=who, assignee=assignee, now=services.clock()
            )

    @app.action(ActionId.UNDO)
    def on_lead_undo(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        event_id = lead_id_of(body["actions"][0].get("value"))  # an event id, shaped alike
        with services.unit_of_work() as session:
            services.lifecycle.undo(
                session,
                event_id=event_id,
                actor=actor(body["user"]["id"]),
                window=rules.undo_window,
                now=services.clock(),
            )

    @app.action(ActionId.REJECT)
    def on_lead_reject(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        lead_id, _ = clicked(body)
        with services.db.read() as session:
            lead = lifecycle.ensure_possible(session, lead_id=lead_id, action=Action.REJECT)
            view = reject_modal(lead, reasons=rules.reasons)
            expired = notices.form_expired(lead)
        open_modal(client, body, view, expired)

    @app.action(ActionId.DETAILS)
    def on_lead_details(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        """Anyone may look, from the channel card, a DM or App Home: nothing changes."""
        ack()
        lead_id, _ = clicked(body)
        with services.db.read() as session:
            lead, view = lead_details(session, lead_id=lead_id, rules=rules, now=services.clock())
            expired = notices.form_expired(lead, button="Details", form="the details")
        open_modal(client, body, view, expired)

    @app.action(REASON_ACTION)
    def on_reject_reason_chosen(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        """Redraw the Reject form for the chosen reason, so its note says whether it is needed.
        The submission is checked either way: a redraw that does not arrive changes no rule."""
        ack()
        view = body["view"]
        chosen = (body["actions"][0].get("selected_option") or {}).get("value")
        with services.db.read() as session:
            lead = lifecycle.ensure_possible(
                session, lead_id=lead_id_of(view.get("private_metadata")), action=Action.REJECT
            )
            redrawn = reject_modal(lead, reasons=rules.reasons, reason=chosen)
        try:
            client.views_update(view_id=view["id"], hash=view.get("hash"), view=redrawn)
        except SlackApiError as error:
            if error.response.get("error") != "hash_conflict":
                raise
            # Chosen again meanwhile: that choice's redraw is the one that counts.

    @app.view(ViewId.REJECT)
    def on_lead_reject_submit(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        reason, note = parse_reject_submission(view["state"]["values"])
        who = actor(body["user"]["id"])
        try:
            with services.unit_of_work() as session:
                services.lifecycle.reject(
                    session,
                    lead_id=lead_id_of(view.get("private_metadata")),
                    actor=who,
                    reason=reason or "",
                    note=note,
                    reasons=rules.reasons,
                    now=services.clock(),
                )
        except InvalidInput as invalid:
            ack(response_action="errors", errors=reject_errors(invalid.errors))
            return
        except InvalidTransition as refused:
            # A modal shows mention syntax raw: the refusal names people in plain words.
            text = notices.refusal(refused, viewer=who.id, in_modal=True)
            ack(response_action="errors", errors={REASON_BLOCK: text})
            return
        ack()

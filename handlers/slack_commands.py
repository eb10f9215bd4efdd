"""`/leads`: parse the text, answer from the domain, reply in the acknowledgement when quick
(through response_url when not: handlers.slow_answers)."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot.commands import Subcommand, UnclearCommand, parse_leads_command
from bot.leads_command import Reply, answer, unclear_reply, writes
from handlers.roles import AssigneeCheck, RoleResolver
from handlers.services import Services
from handlers.slow_answers import reply_body


def register(app: App, services: Services, roles: RoleResolver, assignees: AssigneeCheck) -> None:
    """`assignees` asks Slack through the fast-failing interactive client."""

    @app.command("/leads")
    def on_leads_command(ack: Ack, command: dict[str, Any]) -> None:
        try:
            parsed = parse_leads_command(command.get("text") or "")
        except UnclearCommand as unclear:
            _send(ack, unclear_reply(unclear))
            return
        if parsed.name == Subcommand.ASSIGN and parsed.assignee is not None:
            refusal = assignees.refusal(parsed.assignee, asked_by=command["user_id"])
            if refusal is not None:
                ack(response_type="ephemeral", text=refusal)
                return
        unit = services.unit_of_work if writes(parsed) else services.db.read

        def reply() -> Reply:  # a refusal (BatonError) is answered in words, late or not
            with unit() as session:
                answered = answer(
                    session,
                    parsed,
                    actor=roles.actor(command["user_id"]),
                    rules=services.config.rules,
                    lifecycle=services.lifecycle,
                    now=services.clock(),
                    team_domain=command.get("team_domain"),
                )
            if answered.then_queue is not None:
                with services.unit_of_work() as session:
                    answered.then_queue(session)
            return answered

        assert services.answers is not None  # a web process's services (web_parts)
        services.answers.answer(ack, command.get("response_url"), reply)


def _send(ack: Ack, reply: Reply) -> None:
    ack(**reply_body(reply))

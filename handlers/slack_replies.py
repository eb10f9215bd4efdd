"""Telling the person behind a Slack request something, where they will see it: in a command's
reply, in the form they submitted, or as a message only they see beside what they clicked."""

from __future__ import annotations

from typing import Any

from slack_bolt import BoltResponse
from slack_sdk.models.blocks import MarkdownTextObject, PlainTextObject, SectionBlock
from slack_sdk.models.views import View

from bot import outbox
from handlers.services import Services
from handlers.slack_payloads import channel_of, kind, user_of


def tell(services: Services, body: dict[str, Any], text: str) -> BoltResponse:
    """The acknowledgement that says `text` to whoever made the request `body`."""
    answer = answer_in_acknowledgement(body, text)
    if answer is not None:
        return answer
    user, channel = user_of(body), channel_of(body)
    if user and channel:
        with services.unit_of_work() as session:
            now = services.clock()
            outbox.tell_user(session, user_id=user, channel=channel, text=text, now=now)
    # Nowhere to say it (an event, a click in App Home): Slack still gets an acknowledgement.
    return BoltResponse(status=200, body="")


def answer_in_acknowledgement(body: dict[str, Any], text: str) -> BoltResponse | None:
    """A command's reply or a form's answer saying `text`; None for a request whose
    acknowledgement shows nothing (a click), which needs a message of its own."""
    if kind(body) == "command":
        return BoltResponse(status=200, body={"response_type": "ephemeral", "text": text})
    if kind(body) == "view_submission":
        return BoltResponse(status=200, body=_form_answer(body.get("view"), text))
    return None


def _form_answer(view: Any, text: str) -> dict[str, Any]:
    """Keep the form open with `text` under its first input; a form without inputs (as a
    malformed submission may be) is replaced by a notice, so it never just closes."""
    blocks = view.get("blocks") if isinstance(view, dict) else None
    for block in blocks if isinstance(blocks, list) else []:
        if isinstance(block, dict) and block.get("type") == "input":
            block_id = block.get("block_id")
            if isinstance(block_id, str) and block_id:
                return {"response_action": "errors", "errors": {block_id: text}}
    notice = View(
        type="modal",
        title=PlainTextObject(text="Baton"),
        close=PlainTextObject(text="Close"),
        blocks=[SectionBlock(text=MarkdownTextObject(text=text))],
    )
    return {"response_action": "update", "view": notice.to_dict()}

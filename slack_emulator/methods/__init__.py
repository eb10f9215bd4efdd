"""The Web API methods the emulator answers, by name."""

from slack_emulator.methods import auth, chat, conversations, files, users, views
from slack_emulator.methods.types import Handler

METHODS: dict[str, Handler] = {
    **auth.HANDLERS,
    **chat.HANDLERS,
    **conversations.HANDLERS,
    **files.HANDLERS,
    **users.HANDLERS,
    **views.HANDLERS,
}

"""The shape of a Web API method handler."""

from collections.abc import Callable
from typing import Any

from slack_emulator.errors import Args
from slack_emulator.store import Store

Handler = Callable[[Store, Args], dict[str, Any]]

"""views.* methods: open, push and update modals; publish App Home."""

from typing import Any

from slack_emulator import views
from slack_emulator.errors import Args
from slack_emulator.methods.types import Handler
from slack_emulator.store import Store


def _view(args: Args) -> Any:
    return args.parsed("view", "invalid_arguments")


def _answer(view: dict[str, Any]) -> dict[str, Any]:
    return {"ok": True, "view": view}


def open_(store: Store, args: Args) -> dict[str, Any]:
    return _answer(views.open_modal(store, args.require("trigger_id"), _view(args)))


def push(store: Store, args: Args) -> dict[str, Any]:
    spec = views.check(_view(args), "modal")
    user_id = store.use_trigger(args.require("trigger_id"))
    return _answer(views.push(store, user_id, spec))


def update(store: Store, args: Args) -> dict[str, Any]:
    view = views.update(
        store,
        _view(args),
        view_id=args.text("view_id"),
        external_id=args.text("external_id"),
        hash_=args.text("hash"),
    )
    return _answer(view)


def publish(store: Store, args: Args) -> dict[str, Any]:
    view = views.publish(store, args.require("user_id"), _view(args), args.text("hash"))
    return _answer(view)


HANDLERS: dict[str, Handler] = {
    "views.open": open_,
    "views.push": push,
    "views.update": update,
    "views.publish": publish,
}

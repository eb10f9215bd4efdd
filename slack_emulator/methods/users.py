"""users.info, users.lookupByEmail, users.list and usergroups.users.list."""

from typing import Any

from slack_emulator.errors import Args, SlackError
from slack_emulator.methods.paging import page
from slack_emulator.methods.types import Handler
from slack_emulator.store import Store


def users_info(store: Store, args: Args) -> dict[str, Any]:
    user = store.user(args.text("user"))
    return {"ok": True, "user": user.to_api(store.workspace.team.id, store.clock())}


def users_lookup_by_email(store: Store, args: Args) -> dict[str, Any]:
    """The user whose profile has the email, in any case; deactivated users are not found."""
    email = args.require("email").casefold()
    team = store.workspace.team.id
    for user in store.users.values():
        if not user.deleted and user.email(team).casefold() == email:
            return {"ok": True, "user": user.to_api(team, store.clock())}
    raise SlackError("users_not_found")


def users_list(store: Store, args: Args) -> dict[str, Any]:
    now = store.clock()
    members = [user.to_api(store.workspace.team.id, now) for user in store.users.values()]
    chunk, paging = page(members, args, default_limit=200)
    return {"ok": True, "members": chunk, "cache_ts": int(now), **paging}


def usergroups_users_list(store: Store, args: Args) -> dict[str, Any]:
    group = store.usergroups.get(args.require("usergroup"))
    if group is None:
        raise SlackError("no_such_subteam")
    return {"ok": True, "users": list(group.users)}


HANDLERS: dict[str, Handler] = {
    "users.info": users_info,
    "users.lookupByEmail": users_lookup_by_email,
    "users.list": users_list,
    "usergroups.users.list": usergroups_users_list,
}

"""Who in each routing pool can take a lead now, and if not why (away and until when, a Slack
status, off shift, at capacity), and who the rotation gives the next leads to, for the
manager's App Home: the same reasons and order routing uses."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from bot import reply_blocks
from bot.pools import Pool
from bot.rep_directory import Directory
from bot.rules import Rules
from bot.slack_text import mention

ROSTER_LINES = 15  # reps listed per pool: the section stays well under Slack's text limit
NEXT_UP = 3  # the rotation's next reps shown per pool, in the order they would get leads


def roster_blocks(
    session: Session, *, rules: Rules, directory: Directory, now: datetime
) -> list[dict[str, Any]]:
    """A section per route that picks reps from a pool; nothing when no route does."""
    routes = [route for route in rules.routes if route.assigns and route.pool]
    if not routes:
        return []
    blocks = [{"type": "divider"}, reply_blocks.section("*Who routing can give leads to*")]
    for route in routes:
        pool = Pool(
            session,
            route,
            directory=directory,
            team_timezone=rules.hours.timezone,
            now=now,
            lock_rotation=False,
        )
        shown = route.pool[:ROSTER_LINES]
        lines = [f"• {mention(rep)}: {pool.why_unavailable(rep) or 'available'}" for rep in shown]
        if len(route.pool) > len(shown):
            lines.append(f"• and {len(route.pool) - len(shown)} more")
        title = f"*{route.pool_key}* (`{route.mode}` mode)"
        if route.uses_pool:
            upcoming = pool.next_up(NEXT_UP)
            title += f" · next up: {', '.join(map(mention, upcoming)) or 'nobody available'}"
        blocks.append(reply_blocks.section("\n".join([title, *lines])))
    return blocks

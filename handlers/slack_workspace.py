"""The one Slack workspace Baton serves, learned from auth.test at start-up, and the refusal of
any request, however well signed, that names another team or enterprise.

Baton is installed in one workspace; its signing secret is the app's, not the workspace's, so an
app distributed to a second workspace (or a request naming one) must not act on the first's leads.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from slack_sdk.web import SlackResponse


@dataclass(frozen=True)
class ServedWorkspace:
    team_id: str
    enterprise_id: str | None = None

    @classmethod
    def of_identity(cls, identity: SlackResponse) -> ServedWorkspace:
        """Whose bot token this is, as auth.test said (on Enterprise Grid, with its org)."""
        return cls(team_id=identity["team_id"], enterprise_id=identity.get("enterprise_id"))

    def refusal(self, body: dict[str, Any]) -> str | None:
        """Why `body` is not a request for this workspace; None when it is.

        Every place Slack names the team (or org) a request is for must name this one, and at
        least one must: a request that names none is no one's.
        """
        if body.get("type") == "url_verification" or body.get("ssl_check") == "1":
            return None  # about the app itself (its request URL), not any workspace
        teams = [team for team in _named_teams(body) if team is not None]
        if not teams:
            return "names no workspace"
        if any(team != self.team_id for team in teams):
            return "names another workspace"
        orgs = [org for org in _named_enterprises(body) if org is not None]
        if any(org != self.enterprise_id for org in orgs):
            return "names another enterprise"
        return None


def _named_teams(body: dict[str, Any]) -> Iterator[Any]:
    if "team_id" in body:
        yield body["team_id"]
    team = body.get("team")
    if isinstance(team, dict):
        yield team.get("id")
    elif team is not None:
        yield team
    view = body.get("view")
    if isinstance(view, dict) and "app_installed_team_id" in view:
        yield view["app_installed_team_id"]
    yield from (grant.get("team_id") for grant in _authorizations(body))


def _named_enterprises(body: dict[str, Any]) -> Iterator[Any]:
    for key in ("enterprise_id", "enterprise"):
        value = body.get(key)
        yield value.get("id") if isinstance(value, dict) else value
    team = body.get("team")
    if isinstance(team, dict) and "enterprise_id" in team:
        yield team["enterprise_id"]
    yield from (grant.get("enterprise_id") for grant in _authorizations(body))


def _authorizations(body: dict[str, Any]) -> list[dict[str, Any]]:
    grants = body.get("authorizations")
    if not isinstance(grants, list):
        return []
    # Something that is not an authorization at all names no team Baton could be.
    return [grant if isinstance(grant, dict) else {"team_id": ""} for grant in grants]

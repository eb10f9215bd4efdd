"""`baton webhooks`: the endpoints and their state (the HubSpot write-back's among them), the
deliveries given up on, replaying one, enabling an endpoint a 410 disabled, and sending a test
event. Each prints lines for the operator and returns the exit status (1 when what was asked
did not happen)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import httpx

from bot import hubspot, webhooks
from handlers.config import Config
from handlers.webhook_delivery import post, sync_endpoints
from storage import webhooks as webhook_store
from storage.db import Database

FAILED_SHOWN = 20


def list_endpoints(config: Config, db: Database) -> int:
    """One line per configured endpoint: its URL (without a query, which may hold a key),
    enabled or disabled and why, what it subscribes to, its waiting and failed deliveries."""
    sync_endpoints(config, db)
    with db.read() as session:
        stored = {endpoint.name: endpoint for endpoint in webhook_store.list_endpoints(session)}
        counts = webhook_store.delivery_counts(session)
    if config.settings.hubspot_write_back:
        waiting, failed = counts.get(hubspot.ENDPOINT, (0, 0))
        print(
            f"{hubspot.ENDPOINT}  {config.settings.hubspot_api_url}  HubSpot write-back  "
            f"events: {', '.join(hubspot.EVENT_TYPES)}  {waiting} waiting, {failed} failed"
        )
    elif not config.rules.webhooks:
        print("no webhooks configured ([[webhooks]] in baton.toml)")
    for endpoint in config.rules.webhooks:
        row = stored[endpoint.name]
        state = (
            "enabled"
            if row.disabled_at is None
            else f"DISABLED since {_when(row.disabled_at)} ({row.disabled_reason})"
        )
        waiting, failed = counts.get(endpoint.name, (0, 0))
        print(
            f"{endpoint.name}  {endpoint.url.partition('?')[0]}  {state}  "
            f"events: {', '.join(endpoint.events)}  {waiting} waiting, {failed} failed"
        )
    return 0


def show_failed(db: Database, *, endpoint: str | None) -> int:
    """The deliveries given up on, latest first, with the id `replay` takes."""
    with db.read() as session:
        rows = webhook_store.list_failed(session, limit=FAILED_SHOWN, endpoint=endpoint)
    if not rows:
        print("no failed webhook deliveries")
        return 0
    for row in rows:
        assert row.failed_at is not None
        lead = f"lead {row.lead_id}" if row.lead_id is not None else "no lead"
        print(
            f"#{row.id}  {_when(row.failed_at)}  {row.endpoint}  {row.event_type}  {lead}  "
            f"{row.attempts} tries  {row.last_error}"
        )
    return 0


def replay(config: Config, db: Database, *, delivery_id: int, now: datetime) -> int:
    """Queue a failed delivery again; a running `baton serve` sends it."""
    sync_endpoints(config, db)
    with db.write() as session:
        row = webhook_store.get_delivery(session, delivery_id)
        if row is None or row.failed_at is None:
            return _refused(f"no failed delivery #{delivery_id} (see `baton webhooks failed`)")
        endpoint = webhook_store.get_endpoint(session, row.endpoint)
        configured = row.endpoint in config.webhook_secrets or (
            row.endpoint == hubspot.ENDPOINT and config.settings.hubspot_write_back
        )
        if not configured or endpoint is None:
            return _refused(f"delivery #{delivery_id}: endpoint {row.endpoint!r} is not configured")
        if endpoint.disabled_at is not None:
            name = row.endpoint
            return _refused(f"endpoint {name!r} is disabled: `baton webhooks enable {name}` first")
        webhook_store.replay(session, row, now=now)
    print(
        f"delivery #{delivery_id} ({row.event_type}) queued again for {row.endpoint}, "
        "under its webhook-id; a running `baton serve` sends it"
    )
    return 0


def enable(config: Config, db: Database, *, name: str) -> int:
    """Let a disabled endpoint receive events again (its failed deliveries stay replayable)."""
    sync_endpoints(config, db)
    with db.write() as session:
        if name not in config.webhook_secrets or not webhook_store.enable_endpoint(
            session, name=name
        ):
            return _refused(f"no webhook endpoint named {name!r} is configured")
    print(f"{name}: enabled")
    return 0


def send_test(config: Config, *, name: str, now: datetime) -> int:
    """POST a signed `baton.test` event to the endpoint now, outside the outbox, and say how
    it answered."""
    endpoint = next((e for e in config.rules.webhooks if e.name == name), None)
    if endpoint is None:
        return _refused(f"no webhook endpoint named {name!r} is configured")
    payload = webhooks.body(
        webhooks.TEST_EVENT, data={"message": "A test event from Baton."}, at=now
    )
    message_id = webhooks.new_message_id()
    with httpx.Client(follow_redirects=False) as client:
        answer = post(
            client, endpoint, config.webhook_secrets[name], message_id=message_id, payload=payload
        )
    if answer.delivered:
        print(f"{name}: delivered {message_id} (HTTP {answer.status})")
        return 0
    return _refused(f"{name}: not delivered: {answer.problem}")


def _refused(message: str) -> int:
    print(f"baton: {message}", file=sys.stderr)
    return 1


def _when(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")

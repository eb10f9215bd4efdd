"""Inbound hooks over HTTP: `POST /api/hooks/hubspot` and `POST /api/hooks/{name}`, as
docs/hooks.md documents them. Authenticate the sender on the raw body, map its JSON
(bot.hook_mapping) and hand the lead to the intake as `/api/leads` does."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal
from urllib.parse import unquote

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from bot import hook_mapping, intake, json_input
from bot.errors import InvalidInput
from bot.hook_mapping import HUBSPOT, FieldSource
from handlers.api_requests import (
    DatabaseUnavailable,
    in_thread,
    problem,
    read_json,
    refusal,
    unavailable,
)
from handlers.intake_api import MAX_BODY_BYTES, item_result
from handlers.services import Services

log = logging.getLogger(__name__)

# HubSpot's own limit on a signature's age (its request-validation docs).
MAX_SIGNATURE_AGE = timedelta(minutes=5)


@dataclass(frozen=True)
class Sender:
    """One configured source: its name (the external ids' namespace), mapping and credential."""

    name: str
    fields: Mapping[str, FieldSource]
    auth: Literal["hubspot", "bearer", "standard-webhooks"]
    secret: str | None


class Refused(Exception):
    """The request is not from the sender it claims; the message is for the log, not the body."""


def sender_named(services: Services, name: str) -> Sender | None:
    """The sender `/api/hooks/{name}` stands for; HubSpot is always there."""
    source = services.config.rules.hooks.get(name)
    if name == HUBSPOT:
        overrides = source.fields if source is not None else {}
        return Sender(
            HUBSPOT,
            hook_mapping.hubspot_fields(overrides),
            "hubspot",
            services.config.settings.hubspot_client_secret,
        )
    if source is None or source.auth is None:
        return None
    return Sender(name, source.fields, source.auth, services.config.hook_secrets.get(name))


def router(services: Services) -> APIRouter:
    api = APIRouter(prefix="/api/hooks")

    @api.post("/{name}")
    async def receive_hook(name: str, request: Request) -> JSONResponse:
        sender = sender_named(services, name)
        if sender is None:
            return problem(404, "no such hook: configure it under [hooks.<name>] in baton.toml")
        body = await read_json(request, MAX_BODY_BYTES)  # authenticated on the raw body
        if isinstance(body, JSONResponse):
            return body
        if sender.auth == "hubspot" and _hubspot_signature(request) is None:
            refused = refusal(request, services)  # a workflow sending the intake token
            if refused is not None:
                log.warning("hooks: refused a request to /api/hooks/%s: no valid token", name)
                return refused
            delivery_id = None
        else:
            try:
                delivery_id = _authenticate(sender, request, body, services)
            except Refused as why:
                log.warning("hooks: refused a request to /api/hooks/%s: %s", name, why)
                return problem(401, "missing or wrong signature or token")
        received: intake.Received | InvalidInput
        try:
            received = await in_thread(_store, services, sender, body, delivery_id)
        except json_input.BrokenJson as broken:
            return problem(400, str(broken))
        except InvalidInput as invalid:
            received = invalid
        except DatabaseUnavailable:
            return unavailable()
        status, data = item_result(received)
        location = {"Location": f"/api/leads/{data['id']}"} if status == 201 else None
        return JSONResponse(data, status_code=status, headers=location)

    return api


def _authenticate(sender: Sender, request: Request, body: bytes, services: Services) -> str | None:
    """The delivery's id where the sender gives one; Refused unless the credential holds."""
    if sender.secret is None:
        raise Refused(f"no secret is configured for {sender.name}")
    if sender.auth == "hubspot":
        _check_hubspot(request, body, sender.secret, services)
        return None
    if sender.auth == "bearer":
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            token.strip().encode(), sender.secret.encode()
        ):
            raise Refused("missing or wrong bearer token")
        return None
    try:
        Webhook(sender.secret).verify(body, dict(request.headers), json_parse=False)
    except WebhookVerificationError as error:
        raise Refused(f"Standard Webhooks: {error}") from None
    return request.headers["webhook-id"]


def _hubspot_signature(request: Request) -> str | None:
    return request.headers.get("x-hubspot-signature-v3")


def _check_hubspot(request: Request, body: bytes, secret: str, services: Services) -> None:
    """HubSpot's v3 signature: base64 HMAC-SHA256 of method + URI + body + timestamp (ms),
    refused once older (or further ahead) than five minutes."""
    signature = _hubspot_signature(request) or ""
    timestamp = request.headers.get("x-hubspot-request-timestamp", "")
    if not timestamp.isdigit():
        raise Refused("X-HubSpot-Request-Timestamp is missing or not a number")
    now_ms = services.clock().timestamp() * 1000
    if abs(now_ms - int(timestamp)) > MAX_SIGNATURE_AGE.total_seconds() * 1000:
        raise Refused("the HubSpot signature is stale (timestamp past five minutes)")
    for uri in _signed_uris(request):
        message = request.method.encode() + uri.encode() + body + timestamp.encode()
        digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
        if hmac.compare_digest(base64.b64encode(digest), signature.encode()):
            return
    raise Refused("the HubSpot signature does not match")


def _signed_uris(request: Request) -> list[str]:
    """The URL HubSpot called, as it signs it (URL-decoded). Behind a proxy Baton sees another
    scheme and host: X-Forwarded-Proto and X-Forwarded-Host say which, and https is tried too
    for a proxy that terminates TLS without saying so."""
    host = request.headers.get("x-forwarded-host") or request.headers.get("host", "")
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    schemes = [request.headers.get("x-forwarded-proto", request.url.scheme), "https"]
    return [unquote(f"{scheme}://{host}{target}") for scheme in dict.fromkeys(schemes)]


def _store(
    services: Services, sender: Sender, body: bytes, delivery_id: str | None
) -> intake.Received:
    document = json_input.parse(body)
    if sender.auth == "hubspot":
        document = hook_mapping.hubspot_properties(document)
    payload = hook_mapping.map_document(
        document, sender.fields, source=sender.name, delivery_id=delivery_id
    )
    try:
        lead_input = intake.validate_lead(payload)  # before the write lock is taken
    except InvalidInput as invalid:
        raise hook_mapping.explain(invalid, sender.fields) from None
    with services.unit_of_work() as session:
        now, model = services.clock(), services.config.rules.scoring
        return intake.store(
            session,
            [lead_input],
            sender=sender.name,
            moves=services.lifecycle,
            now=now,
            model=model,
        )[0]

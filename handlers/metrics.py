"""Prometheus metrics: what operators graph and alert on."""

from __future__ import annotations

import json

from prometheus_client import Counter, Gauge

LEADS_RECEIVED = Counter(
    "baton_leads_received_total",
    "Leads offered to the intake API, by result "
    "(created, duplicate, updated, invalid, unavailable).",
    ["result"],
)

SLACK_DELIVERIES = Counter(
    "baton_slack_deliveries_total",
    "Slack side effects delivered from the outbox, by kind.",
    ["kind"],
)
SLACK_DELIVERY_FAILURES = Counter(
    "baton_slack_delivery_failures_total",
    "Failed attempts to deliver a Slack side effect, retried or not, by kind.",
    ["kind"],
)
SLACK_DELIVERIES_GIVEN_UP = Counter(
    "baton_slack_deliveries_given_up_total",
    "Slack side effects recorded as failed and never retried, by kind and reason (Slack's "
    "permanent error code, or retries_exhausted for a reply whose moment passed).",
    ["kind", "reason"],
)

SLA_FIRED = Counter(
    "baton_sla_fired_total",
    "SLA moments that acted on a lead: claim/follow-up reminders and breaches (escalations).",
    ["kind"],
)

# Counted in `baton serve`'s child processes too (delivery, web), which hand their totals to
# the main process (`child_totals`, `add_child_totals`) so that /metrics shows them.
CHILD_COUNTERS: dict[str, Counter] = {
    family.name: counter
    for counter in (
        SLACK_DELIVERIES,
        SLACK_DELIVERY_FAILURES,
        SLACK_DELIVERIES_GIVEN_UP,
        LEADS_RECEIVED,
    )
    for family in counter.collect()
}


def child_totals() -> dict[str, float]:
    """This process's counts so far, keyed by counter and labels (as JSON)."""
    return {
        json.dumps([name, sample.labels], sort_keys=True): sample.value
        for name, counter in CHILD_COUNTERS.items()
        for family in counter.collect()
        for sample in family.samples
        if sample.name == f"{name}_total"
    }


def add_child_totals(previous: dict[str, float], current: dict[str, float]) -> None:
    """Count here what another process counted between two of its `child_totals`."""
    for key, value in current.items():
        delta = value - previous.get(key, 0.0)
        if delta > 0:
            name, labels = json.loads(key)
            CHILD_COUNTERS[name].labels(**labels).inc(delta)


WEBHOOK_DELIVERIES = Counter(
    "baton_webhook_deliveries_total",
    "Webhook events an endpoint took (answered 2xx), by endpoint.",
    ["endpoint"],
)
WEBHOOK_DELIVERY_FAILURES = Counter(
    "baton_webhook_delivery_failures_total",
    "Failed attempts to deliver a webhook event, retried or not, by endpoint and reason (the "
    "HTTP status, timeout or connection).",
    ["endpoint", "reason"],
)
WEBHOOK_DELIVERIES_GIVEN_UP = Counter(
    "baton_webhook_deliveries_given_up_total",
    "Webhook events recorded as failed and no longer retried (replay them with `baton webhooks "
    "replay`), by endpoint and reason (refused, retries_exhausted, endpoint_disabled).",
    ["endpoint", "reason"],
)
WEBHOOK_ENDPOINT_DISABLED = Gauge(
    "baton_webhook_endpoint_disabled",
    "1 while an endpoint is disabled (it answered 410 Gone; `baton webhooks enable` clears it).",
    ["endpoint"],
)

HUBSPOT_WRITES = Counter(
    "baton_hubspot_writes_total",
    "Decisions written back to HubSpot (owner, lead status, note), by event type.",
    ["event"],
)
HUBSPOT_WRITE_FAILURES = Counter(
    "baton_hubspot_write_failures_total",
    "Failed tries to write a decision back to HubSpot, retried or not, by reason (the HTTP "
    "status, timeout or connection).",
    ["reason"],
)
HUBSPOT_WRITES_GIVEN_UP = Counter(
    "baton_hubspot_writes_given_up_total",
    "HubSpot write-backs recorded as failed and no longer retried (see `baton webhooks failed`, "
    "replay with `baton webhooks replay`), by reason (contact_not_found, no_contact, no_owner, "
    "refused, retries_exhausted).",
    ["reason"],
)

"""Prometheus metrics: what operators graph and alert on."""

from __future__ import annotations

from prometheus_client import Counter

LEADS_RECEIVED = Counter(
    "baton_leads_received_total",
    "Leads offered to the intake API, by result (created, duplicate, invalid, unavailable).",
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

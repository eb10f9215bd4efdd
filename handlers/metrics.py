"""Prometheus metrics: what operators graph and alert on."""

from __future__ import annotations

from prometheus_client import Counter

LEADS_RECEIVED = Counter(
    "baton_leads_received_total",
    "Leads offered to the intake API, by result (created, duplicate, invalid).",
    ["result"],
)

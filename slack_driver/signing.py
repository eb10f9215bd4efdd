"""Signing requests as Slack does (v0 HMAC-SHA256), and the ways a test may tamper with them."""

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


@dataclass(frozen=True)
class Delivery:
    """How one request is delivered: a wrong signature, an old timestamp, Slack's retry headers.

    `age` is subtracted from the signing timestamp: more than 300 s makes the request stale.
    """

    bad_signature: bool = False
    age: float = 0.0
    retry_num: int | None = None
    retry_reason: str = "http_timeout"


@dataclass(frozen=True)
class SignedRequest:
    url: str
    body: bytes
    headers: dict[str, str]


def form_body(fields: dict[str, str]) -> tuple[str, str]:
    return urlencode(fields), FORM


def payload_body(payload: dict[str, Any]) -> tuple[str, str]:
    """Interactions arrive as a form with one `payload` field holding JSON."""
    return urlencode({"payload": json.dumps(payload)}), FORM


def json_body(payload: dict[str, Any]) -> tuple[str, str]:
    return json.dumps(payload), JSON


def sign(
    url: str,
    body: str,
    content_type: str,
    *,
    signing_secret: str,
    now: float,
    delivery: Delivery,
) -> SignedRequest:
    timestamp = str(int(now - delivery.age))
    secret = f"{signing_secret}-not" if delivery.bad_signature else signing_secret
    signature = SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body)
    assert signature is not None  # None only without a timestamp
    headers = {
        "Content-Type": content_type,
        "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": signature,
    }
    if delivery.retry_num is not None:
        headers["X-Slack-Retry-Num"] = str(delivery.retry_num)
        headers["X-Slack-Retry-Reason"] = delivery.retry_reason
    return SignedRequest(url, body.encode(), headers)

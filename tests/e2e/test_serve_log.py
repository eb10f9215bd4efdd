"""`baton serve`'s own output: the access log names paths, never query strings, and refused
intake leaves neither the token nor the body behind."""

from __future__ import annotations

import json

import httpx

from tests.e2e.conftest import INTAKE_AUTH, Serve
from tests.factories import lead_payload

TOKEN = INTAKE_AUTH["Authorization"].removeprefix("Bearer ")
NAME = "Dana Whitfield"  # in every body sent below
QUERY_MARK = "q-4f1c9e"


def test_log_holds_paths_and_statuses_but_no_query_token_or_body(serve: Serve) -> None:
    served = serve()
    leads = f"{served.url}/api/leads"
    json_headers = {**INTAKE_AUTH, "Content-Type": "application/json"}

    token_in_url = httpx.post(f"{leads}?token={TOKEN}", json=lead_payload(), timeout=10)
    tagged = httpx.post(f"{leads}?trace={QUERY_MARK}", json=lead_payload(), headers=INTAKE_AUTH)
    surrogate = json.dumps(lead_payload(activities=[{"type": "x", "detail": "\ud800"}]))
    invalid = httpx.post(leads, content=surrogate, headers=json_headers, timeout=10)
    broken = httpx.post(leads, content=json.dumps(lead_payload())[:-9], headers=json_headers)
    past_range = httpx.get(f"{leads}/9223372036854775808?trace={QUERY_MARK}", headers=INTAKE_AUTH)
    served.process.terminate()
    served.process.wait(timeout=15)

    assert [r.status_code for r in (token_in_url, tagged, invalid, broken, past_range)] == [
        401,
        201,
        422,
        400,
        404,
    ]
    log = served.log.read_text(errors="replace")
    for status in (401, 201, 422, 400):
        assert f'"POST /api/leads HTTP/1.1" {status}' in log
    assert '"GET /api/leads/9223372036854775808 HTTP/1.1" 404' in log
    assert "intake token sent in a URL" in log  # the admin learns the token may have leaked
    assert TOKEN not in log
    assert QUERY_MARK not in log
    assert NAME not in log
    assert "Traceback" not in log

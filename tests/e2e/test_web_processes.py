"""`baton serve` with BATON_WEB_PROCESSES=2: a web process beside the main one answers on the
same port; both take leads and signed clicks, a click race across them leaves one owner, a
killed web process is replaced, /metrics counts for both, and SIGTERM stops them all. Real
processes on one database, the Slack emulator over HTTP; each response names the process that
answered (X-Baton-Process)."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path

import httpx

from slack_driver import SlackUser
from slack_emulator import DEFAULT_SIGNING_SECRET, REP_1, REP_2, SALES_CHANNEL, SlackEmulator
from storage import leads as lead_store
from storage.db import Database
from tests.conftest import EXAMPLE_RULES, EXTRA_REPS
from tests.e2e.conftest import (
    INTAKE_AUTH,
    SERVE_STARTUP_SECONDS,
    Serve,
    Served,
    card_redraws_held,
    card_text,
    eventually,
    wait_for_card,
)
from tests.e2e.test_delivery_process import child_pids, running
from tests.factories import lead_payload

TWO = {"BATON_WEB_PROCESSES": "2"}
PROCESS = "X-Baton-Process"
TRIES = 40  # requests until both processes have answered one: each new connection goes to one


def post_lead(served: Served, external_id: str) -> httpx.Response:
    """Send a lead over a new connection; the server's answer (201)."""
    response = httpx.post(
        f"{served.url}/api/leads",
        json=lead_payload(external_id=external_id, name=f"Lead {external_id}"),
        headers=INTAKE_AUTH,
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return response


def send(served: Served, external_id: str) -> tuple[int, int]:
    """Send a lead over a new connection; its id and the process that took it."""
    response = post_lead(served, external_id)
    return int(response.json()["id"]), int(response.headers[PROCESS])


def rep(slack: SlackEmulator, served: Served, user_id: str) -> SlackUser:
    return slack.user(
        user_id, bot_url=f"{served.url}/slack/events", signing_secret=DEFAULT_SIGNING_SECRET
    )


def until_both(answer: Callable[[int], int]) -> set[int]:
    """Call `answer(n)` (the process that answered) until two processes have."""
    seen: set[int] = set()
    for n in range(TRIES):
        seen.add(answer(n))
        if len(seen) == 2:
            break
    return seen


def web_processes(served: Served) -> set[int]:
    """The processes answering HTTP, as the responses name them."""
    return until_both(
        lambda _: int(httpx.get(f"{served.url}/healthz", timeout=10).headers[PROCESS])
    )


def serve_two(serve: Serve, **environment: str) -> Served:
    """`baton serve` with two web processes, once both answer (the second starts after)."""
    served = serve(environment={**TWO, **environment})
    eventually(lambda: len(web_processes(served)) == 2, timeout=SERVE_STARTUP_SECONDS)
    return served


def test_two_web_processes_both_take_leads_and_clicks_and_wake_delivery(
    serve: Serve, slack: SlackEmulator
) -> None:
    served = serve_two(serve)
    takers: set[int] = set()
    clickers: set[int] = set()
    leads = 0
    while leads < TRIES and (len(takers | clickers) < 2 or takers != clickers):
        lead_id, taker = send(served, f"spread-{leads}")
        leads += 1
        takers.add(taker)
        # A commit in either process wakes delivery: the card comes at once, not at a poll.
        card = wait_for_card(slack, lead_id, lambda c: "Claim by" in card_text(c))
        accept = rep(slack, served, REP_1).click(SALES_CHANNEL, card["ts"], "lead.accept")
        clickers.add(int(accept.headers[PROCESS]))
        wait_for_card(slack, lead_id, lambda c: f"Claimed by <@{REP_1}>" in card_text(c))
    assert len(takers) == len(clickers) == 2 and served.process.pid in takers

    # /metrics counts what both took, whichever process answers the scrape.
    created = f'baton_leads_received_total{{result="created"}} {float(leads)}'
    for _ in range(4):
        eventually(lambda: created in httpx.get(f"{served.url}/metrics", timeout=10).text)


def race(served: Served, slack: SlackEmulator, reps: tuple[str, str], n: int) -> bool:
    """Two reps accept a new lead's card at once: one owns it, the other is told; whether two
    processes answered the clicks."""
    lead_id, _ = send(served, f"race-{n}")
    card = wait_for_card(slack, lead_id, lambda c: "Claim by" in card_text(c))
    barrier = threading.Barrier(len(reps))
    answered: dict[str, int] = {}

    def click(user_id: str) -> None:
        driver = rep(slack, served, user_id)
        barrier.wait()
        response = driver.click(SALES_CHANNEL, card["ts"], "lead.accept")
        assert response.status_code == 200
        answered[user_id] = int(response.headers[PROCESS])

    with card_redraws_held(slack):
        threads = [threading.Thread(target=click, args=(user_id,)) for user_id in reps]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    claimed = wait_for_card(slack, lead_id, lambda c: "Claimed by" in card_text(c))
    (owner,) = [user_id for user_id in reps if f"Claimed by <@{user_id}>" in card_text(claimed)]
    (loser,) = set(reps) - {owner}
    notice = f"(#{lead_id}) was already claimed by <@{owner}>"
    told = eventually(lambda: [m for m in slack.ephemerals(loser) if notice in m["text"]])
    assert len(told) == 1
    name = f"Lead race-{n}"
    eventually(lambda: any(name in dm["text"] for dm in slack.dms(owner)))
    assert not any(name in dm["text"] for dm in slack.dms(loser))
    return len(set(answered.values())) == 2


def test_two_reps_clicking_at_once_on_two_processes_leave_one_owner(
    serve: Serve, slack: SlackEmulator
) -> None:
    served = serve_two(serve)
    reps = (REP_2, EXTRA_REPS[0].id)
    crossed = 0
    for n in range(TRIES):
        crossed += race(served, slack, reps, n)
        if crossed == 2:
            break
    assert crossed == 2  # two races whose clicks two different processes answered


def test_a_killed_web_process_is_replaced_and_sigterm_stops_them_all(serve: Serve) -> None:
    served = serve_two(serve)
    main = served.process.pid
    (web,) = web_processes(served) - {main}
    os.kill(web, signal.SIGKILL)

    replaced = eventually(
        lambda: web_processes(served) - {main} - {web}, timeout=SERVE_STARTUP_SECONDS
    )
    assert f"web process {web} exited" in served.log.read_text()
    (replacement,) = replaced
    children = child_pids(main)
    assert replacement in children

    served.process.send_signal(signal.SIGTERM)
    assert served.process.wait(timeout=60) == 0
    assert not any(running(child) for child in children)
    log = served.log.read_text()
    assert "Traceback" not in log, log[max(0, log.index("Traceback") - 500) :][:3000]


def test_a_slack_status_one_process_learns_routes_the_leads_every_process_takes(
    serve: Serve, slack: SlackEmulator, database_url: str, tmp_path: Path
) -> None:
    """Slack sends `user_change` to one process; the others route by it too."""
    rules = tmp_path / "owned.toml"
    rules.write_text(
        EXAMPLE_RULES.read_text()
        + f"""
[[routes]]
name = "owned"
channel = "{SALES_CHANNEL}"
mode = "owner"
fallback = "assign"
pool = ["{REP_1}", "{REP_2}"]
away_statuses = [":palm_tree:"]
"""
    )
    served = serve_two(serve, BATON_CONFIG=str(rules))
    main = served.process.pid
    bob = slack.member(REP_2).email(slack.workspace.team.id)
    db = Database.from_url(database_url)

    def owner_of_lead(n: int) -> tuple[str | None, int]:
        """Send a lead of Bob's; who routing gave it to, and the process that took it."""
        response = httpx.post(
            f"{served.url}/api/leads",
            json=lead_payload(external_id=f"owned-{n}", owner_email=bob),
            headers=INTAKE_AUTH,
            timeout=10,
        )
        assert response.status_code == 201, response.text
        with db.read() as session:
            lead = lead_store.get_lead(session, int(response.json()["id"]))
        return lead.owner_id, int(response.headers[PROCESS])

    try:
        # Each process finds Bob by his email and remembers him as he is: available.
        routed = [owner_of_lead(n) for n in range(TRIES)]
        assert {owner for owner, _ in routed} == {REP_2}
        assert {process for _, process in routed} == {main, *web_processes(served)}

        away = slack.set_profile(REP_2, status_emoji=":palm_tree:", status_text="Vacationing")
        event = rep(slack, served, REP_2).send_event({"type": "user_change", "user": away})
        learner = int(event.headers[PROCESS])
        takers = set()
        for n in range(TRIES, 2 * TRIES):
            owner, process = owner_of_lead(n)
            assert owner == REP_1  # Bob is away, wherever the lead arrived
            takers.add(process)
            if takers - {learner}:
                break
        assert takers - {learner}
    finally:
        db.dispose()

"""Group commit: callers queued behind a write are written together, and a row the database
refuses fails only the caller who sent it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future

import pytest
from sqlalchemy.exc import IntegrityError

from storage import leads as lead_store
from storage.db import Database
from storage.write_groups import WriteGroups
from tests.conftest import NOW


def lead_row(external_id: str, *, status: str = "new") -> dict[str, object]:
    return {
        "external_id": external_id,
        "name": f"Lead {external_id}",
        "status": status,  # anything but a lead status breaks the table's CHECK constraint
        "created_at": NOW,
        "updated_at": NOW,
    }


def wait_for(condition: Callable[[], object], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the callers never queued"
        time.sleep(0.01)


def test_a_refused_row_fails_its_caller_alone(db: Database) -> None:
    groups_written: list[list[str]] = []
    gate = threading.Event()

    def write_all(rows: Sequence[dict[str, object]]) -> list[str]:
        groups_written.append([str(row["external_id"]) for row in rows])
        if rows[0]["external_id"] == "first":
            gate.wait(10)  # holds the turn while the others queue behind it
        with db.write() as session:
            ready = lead_store.lead_rows(rows, db.engine.dialect)
            inserted = lead_store.insert_new_leads(session, ready)
        return [str(inserted[str(row["external_id"])].id) for row in rows]

    groups = WriteGroups(write_all, max_group=100)
    queued = ["good-1", "bad", "good-2", "good-3"]
    first = groups.submit(lead_row("first"))
    wait_for(lambda: groups_written)
    others: dict[str, Future[str]] = {
        name: groups.submit(lead_row(name, status="bogus" if name == "bad" else "new"))
        for name in queued
    }
    wait_for(lambda: groups.waiting == len(queued))
    gate.set()
    assert first.result(timeout=10)
    with pytest.raises(IntegrityError):
        others["bad"].result(timeout=10)
    ids = {name: others[name].result(timeout=10) for name in queued if name != "bad"}

    assert groups_written[1] == queued  # written together first, in order of arrival...
    assert groups_written[2:] == [[name] for name in queued]  # ...then each alone
    assert len(set(ids.values())) == 3
    with db.read() as session:
        stored = {lead.external_id for lead in lead_store.list_leads(session)}
    assert stored == {"first", "good-1", "good-2", "good-3"}


def test_callers_queued_together_share_one_transaction(db: Database) -> None:
    sizes: list[int] = []
    gate = threading.Event()

    def write_all(rows: Sequence[dict[str, object]]) -> list[str]:
        sizes.append(len(rows))
        if len(sizes) == 1:
            gate.wait(10)
        with db.write() as session:
            ready = lead_store.lead_rows(rows, db.engine.dialect)
            inserted = lead_store.insert_new_leads(session, ready)
        return [str(row["external_id"]) for row in rows if str(row["external_id"]) in inserted]

    groups = WriteGroups(write_all, max_group=3)
    first = groups.submit(lead_row("first"))
    wait_for(lambda: sizes)
    rest = [groups.submit(lead_row(f"lead-{n}")) for n in range(7)]
    wait_for(lambda: groups.waiting == 7)
    gate.set()
    results = [first.result(timeout=10)] + [future.result(timeout=10) for future in rest]

    assert results == ["first"] + [f"lead-{n}" for n in range(7)]
    assert sizes == [1, 3, 3, 1]  # at most max_group at once, oldest first


def test_an_item_cancelled_while_queued_is_not_written(db: Database) -> None:
    groups_written: list[list[str]] = []
    gate = threading.Event()

    def write_all(rows: Sequence[dict[str, object]]) -> list[str]:
        groups_written.append([str(row["external_id"]) for row in rows])
        if len(groups_written) == 1:
            gate.wait(10)
        with db.write() as session:
            ready = lead_store.lead_rows(rows, db.engine.dialect)
            inserted = lead_store.insert_new_leads(session, ready)
        return [str(inserted[str(row["external_id"])].id) for row in rows]

    groups = WriteGroups(write_all, max_group=100)
    first = groups.submit(lead_row("first"))
    wait_for(lambda: groups_written)
    gone, kept = groups.submit(lead_row("gone")), groups.submit(lead_row("kept"))
    assert gone.cancel()  # its sender hung up before its group was taken
    gate.set()
    assert first.result(timeout=10) and kept.result(timeout=10)

    assert groups_written == [["first"], ["kept"]]
    with db.read() as session:
        stored = {lead.external_id for lead in lead_store.list_leads(session)}
    assert stored == {"first", "kept"}

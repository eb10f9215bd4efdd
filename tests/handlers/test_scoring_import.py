"""`baton leads import` scores rows as the intake API scores leads, on both databases."""

from __future__ import annotations

from bot.lifecycle import Lifecycle
from bot.rules import Rules
from bot.score_explanation import Score, Verdict
from bot.sla_policy import SlaPolicies
from handlers.csv_import import import_csv
from storage import leads as lead_store
from storage.db import Database
from tests.bot.test_scoring import MODEL
from tests.conftest import NOW

ROWS = """external_id,name,title,company_size,score,activities
c-1,Dana Whitfield,VP Operations,250,55,"[{""type"": ""demo_request""}]"
c-2,Sam Intern,Intern,,90,[]
c-3,Broken Row,,,101,[]
"""


def test_imported_rows_are_stored_with_the_models_score_and_reasons(db: Database) -> None:
    report = import_csv(
        db.write,
        ROWS.encode(),
        moves=Lifecycle(SlaPolicies(Rules())),
        clock=lambda: NOW,
        model=MODEL,
    )

    assert (report.created, [line for line, _ in report.problems]) == (2, [4])
    with db.read() as session:
        leads = {lead.external_id: lead for lead in lead_store.list_leads(session)}
    dana = Score.from_json(leads["c-1"].score_explanation)
    sam = Score.from_json(leads["c-2"].score_explanation)
    assert dana is not None and sam is not None
    assert (leads["c-1"].score, dana.verdict, dana.fast_lane) == (40, Verdict.SQL, "demo request")
    assert (leads["c-2"].score, sam.verdict, sam.sender_score) == (0, Verdict.UNQUALIFIED, 90)

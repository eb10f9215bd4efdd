"""The `baton` command line (also `python -m bot`): serve, db upgrade, leads import, webhooks,
score, check.

Bad settings, files and databases end a command with one line on stderr and exit status 2,
never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from bot import report_facts
from bot.errors import InvalidInput
from bot.periods import parse_period
from bot.reports import feedback_rows
from bot.rules import ConfigError
from bot.sla_policy import SlaPolicies
from handlers import heap, score_command, webhook_commands
from handlers.config import Config, load_config, read_rules, redact_url
from handlers.csv_import import import_csv
from handlers.delivery_process import DeliveryOptions, deliver
from handlers.demo import DEFAULT_LEAD_INTERVAL, FIRST_LEADS, run_demo
from handlers.exports import feedback_csv, feedback_json
from handlers.progress import progress_bar
from handlers.serve import serve
from handlers.services import Services
from handlers.slack_check import check_slack, failed_deliveries
from handlers.text_files import UnreadableFile
from storage import migrate
from storage.db import Database
from storage.errors import DatabaseError, describe_database_error

log = logging.getLogger("baton")


def _number_at_least(low: float, *, above: bool = False) -> Callable[[str], float]:
    """An argparse type: a finite number ≥ `low` (> `low` when `above`), else a one-line error."""

    def parse(text: str) -> float:
        try:
            number = float(text)
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            raise argparse.ArgumentTypeError(f"{text!r} is not a number")
        if number < low or (above and number == low):
            bound = "more than" if above else "at least"
            raise argparse.ArgumentTypeError(f"{text} must be {bound} {low:g}")
        return number

    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="baton",
        description="Baton: the marketing-to-sales lead handoff, in Slack.",
    )
    parser.add_argument("--env-file", default=".env", help="file of environment settings")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve_command = commands.add_parser(
        "serve", help="run the bot: HTTP server, Slack listener, scheduler, Slack delivery"
    )
    serve_command.add_argument(
        "--no-delivery",
        action="store_true",
        help="deliver nothing to Slack here: `baton deliver` runs apart",
    )
    commands.add_parser(
        "deliver", help="run only Slack delivery (beside `baton serve --no-delivery`)"
    )

    demo = commands.add_parser("demo", help="try Baton locally, with a bundled stand-in for Slack")
    demo.add_argument("--port", type=int, default=3000, help="port of the bot (default 3000)")
    demo.add_argument("--leads", type=int, default=12, help="sample leads to send (default 12)")
    demo.add_argument("--database", type=Path, help="SQLite file to keep (default: temporary)")
    demo.add_argument(
        "--ui-port", type=int, default=0, help="port of the web workspace (default: any free one)"
    )
    demo.add_argument("--no-browser", action="store_true", help="print the URL, open no browser")
    demo.add_argument(
        "--speed",
        type=_number_at_least(0, above=True),
        default=1.0,
        help="run the demo clock (SLAs and message times) this many times faster, e.g. 60 "
        "(default 1: real time)",
    )
    demo.add_argument(
        "--lead-interval",
        type=_number_at_least(0),
        default=DEFAULT_LEAD_INTERVAL,
        metavar="SECONDS",
        help=f"real seconds between sample leads after the first {FIRST_LEADS} "
        f"(default {DEFAULT_LEAD_INTERVAL:g}; 0 sends all at once)",
    )

    db = commands.add_parser("db", help="database schema")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_commands.add_parser("upgrade", help="apply migrations up to the newest schema")
    db_commands.add_parser("current", help="print the schema revision in use")

    leads = commands.add_parser("leads", help="lead data")
    leads_commands = leads.add_subparsers(dest="leads_command", required=True, metavar="ACTION")
    importer = leads_commands.add_parser("import", help="import leads from a CSV file")
    importer.add_argument("file", type=Path, help="CSV with a header row of lead field names")

    commands.add_parser("check", help="check the configuration, the database and Slack")

    score = commands.add_parser("score", help="explain the score the scoring model gives a lead")
    score.add_argument(
        "lead", type=Path, nargs="?", help="the lead as JSON, as POST /api/leads takes it"
    )
    score.add_argument(
        "--config", type=Path, help="rules file with the [scoring] model (default: BATON_CONFIG)"
    )
    score.add_argument(
        "--replay",
        action="store_true",
        help="instead of a lead: score the stored leads of --since again, and compare",
    )
    score.add_argument(
        "--since", default="90d", metavar="PERIOD", help="the replay's period (default 90d)"
    )

    hooks = commands.add_parser("webhooks", help="outbound webhooks: endpoints and deliveries")
    hook_commands = hooks.add_subparsers(dest="webhooks_command", metavar="ACTION")
    hook_commands.add_parser("list", help="the endpoints and their state (the default)")
    failed = hook_commands.add_parser("failed", help="deliveries given up on, latest first")
    failed.add_argument("--endpoint", help="only this endpoint's")
    replay = hook_commands.add_parser("replay", help="send a failed delivery again")
    replay.add_argument("delivery", type=int, help="its number, from `baton webhooks failed`")
    enable = hook_commands.add_parser("enable", help="resume an endpoint a 410 disabled")
    enable.add_argument("endpoint", help="its name in baton.toml")
    test = hook_commands.add_parser("test", help="send the endpoint a signed test event now")
    test.add_argument("endpoint", help="its name in baton.toml")

    report = commands.add_parser("report", help="export report data")
    report_commands = report.add_subparsers(dest="report_command", required=True, metavar="REPORT")
    feedback = report_commands.add_parser("feedback", help="one row per rejection, with reasons")
    feedback.add_argument("--since", default="30d", help="period, e.g. 30d, last-month (30d)")
    feedback.add_argument("--format", choices=("csv", "json"), default="csv", help="(csv)")
    feedback.add_argument("--source", help="only leads from this source")
    feedback.add_argument("--output", type=Path, help="file to write (default: standard output)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; anything that stops it before it could start is one line on stderr."""
    args = build_parser().parse_args(argv)
    # Long-running and schema-changing commands narrate; one-shot commands print only results.
    verbose = args.command in ("serve", "deliver", "db")
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    # Alembic names each plugin it sets up as it is first imported, which is now after this
    # (storage.migrate imports it only where a schema may change): nothing a user needs.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    try:
        config = load_config(env_file=Path(args.env_file))
    except ConfigError as error:
        return _stopped(f"configuration error: {error}")
    try:
        return _run(args, config)
    except (ConfigError, migrate.SchemaNotCurrent) as error:
        return _stopped(f"configuration error: {error}")
    except DatabaseError as error:
        url = redact_url(config.settings.database_url)
        return _stopped(f"database error: {url}: {describe_database_error(error)}")


def _stopped(message: str) -> int:
    print(f"baton: {message}", file=sys.stderr)
    return 2


def _run(args: argparse.Namespace, config: Config) -> int:
    if args.command == "serve":
        return serve(config, delivery=not args.no_delivery)
    if args.command == "deliver":
        config.settings.require_delivering()
        return deliver(DeliveryOptions(config))
    if args.command == "demo":
        return run_demo(
            port=args.port,
            leads=args.leads,
            database=args.database,
            ui_port=args.ui_port,
            open_browser=not args.no_browser,
            speed=args.speed,
            lead_interval=args.lead_interval,
        )
    if args.command == "score":
        return _score(args, config)
    db = Database.from_url(config.settings.database_url)
    try:
        if args.command == "db":
            return _db(args, config, db)
        if args.command == "leads":
            return _import(args.file, Services(config=config, db=db))
        if args.command == "report":
            return _report_feedback(args, config, db)
        if args.command == "webhooks":
            return _webhooks(args, config, db)
        return _check(config, db)
    finally:
        db.dispose()


def _db(args: argparse.Namespace, config: Config, db: Database) -> int:
    if args.db_command == "upgrade":
        migrate.upgrade(db.engine, elapsed=report_facts.elapsed_by(SlaPolicies(config.rules)))
    print(f"schema revision: {migrate.current_revision(db.engine) or 'none (empty database)'}")
    return 0


def _import(path: Path, services: Services) -> int:
    """Import a CSV file: its good rows are stored, its bad ones listed; an unreadable file
    (not UTF-8, not CSV, a wrong header) is one line and imports nothing.

    Rows are written as the server writes them; with no delivery worker in this process, a
    running server's worker posts the cards at its next poll."""
    if not path.is_file():
        return _stopped(f"no such file: {path}")
    try:
        data = path.read_bytes()
    except OSError as error:
        return _stopped(f"cannot read {path}: {error.strerror}")
    migrate.ensure_current(services.db.engine, elapsed=report_facts.elapsed_by(services.policies))
    heap.settle()
    began = time.perf_counter()
    try:
        with progress_bar(sys.stderr, unit="rows") as progress:
            report = import_csv(
                services.unit_of_work,
                data,
                progress=progress,
                moves=services.lifecycle,
                model=services.config.rules.scoring,
            )
    except UnreadableFile as error:
        return _stopped(f"{path}:{error.line}: {error.problem}; nothing imported")
    for line, problem in report.problems:
        print(f"{path}:{line}: {problem}", file=sys.stderr)
    rows = report.created + report.duplicates + len(report.problems)
    updated = f" ({report.updated} updated)" if report.updated else ""
    print(
        f"{report.created} created, {report.duplicates} already present{updated}, "
        f"{len(report.problems)} rejected ({rows} rows in {time.perf_counter() - began:.1f} s)"
    )
    return 1 if report.problems else 0


def _score(args: argparse.Namespace, config: Config) -> int:
    """Explain a lead's score under the rules `--config` names, else the configured ones."""
    if args.config is None:
        rules, path = config.rules, config.settings.config_path
    elif not args.config.is_file():
        return _stopped(f"--config: no such file: {args.config}")
    else:
        rules, path = read_rules(args.config, explicit=True), args.config
    now = datetime.now(UTC)
    try:
        if args.replay == (args.lead is not None):
            raise score_command.CannotScore("score: give a lead file, or --replay (not both)")
        if args.replay:
            db = Database.from_url(config.settings.database_url)
            try:
                migrate.ensure_current(
                    db.engine, elapsed=report_facts.elapsed_by(SlaPolicies(config.rules))
                )
                print(score_command.replayed(db, rules, since=args.since, now=now))
            finally:
                db.dispose()
        else:
            print(score_command.explanation(args.lead, rules, config_path=path, now=now))
    except score_command.CannotScore as error:
        return _stopped(str(error))
    return 0


def _report_feedback(args: argparse.Namespace, config: Config, db: Database) -> int:
    """Rejections for marketing's own tools: CSV with a header row, or a JSON list of objects."""
    try:
        period = parse_period(
            args.since, now=datetime.now(UTC), timezone=ZoneInfo(config.rules.hours.timezone)
        )
    except InvalidInput as error:
        print(f"baton: --since: {error.errors['period']}", file=sys.stderr)
        return 2
    migrate.ensure_current(db.engine, elapsed=report_facts.elapsed_by(SlaPolicies(config.rules)))
    with db.read() as session:
        rows = feedback_rows(
            session, period=period, reasons=config.rules.reasons, source=args.source
        )
    text = feedback_json(rows) if args.format == "json" else feedback_csv(rows)
    if args.output is None:
        sys.stdout.write(text)
    else:
        try:
            args.output.write_text(text, encoding="utf-8", newline="")
        except OSError as error:
            return _stopped(f"cannot write {args.output}: {error.strerror}")
        print(f"{len(rows)} rejections ({period.label}) written to {args.output}")
    return 0


def _webhooks(args: argparse.Namespace, config: Config, db: Database) -> int:
    now = datetime.now(UTC)
    if args.webhooks_command == "test":
        return webhook_commands.send_test(config, name=args.endpoint, now=now)
    migrate.ensure_current(db.engine, elapsed=report_facts.elapsed_by(SlaPolicies(config.rules)))
    if args.webhooks_command == "failed":
        return webhook_commands.show_failed(db, endpoint=args.endpoint)
    if args.webhooks_command == "replay":
        return webhook_commands.replay(config, db, delivery_id=args.delivery, now=now)
    if args.webhooks_command == "enable":
        return webhook_commands.enable(config, db, name=args.endpoint)
    return webhook_commands.list_endpoints(config, db)


def _check(config: Config, db: Database) -> int:
    print(
        f"configuration: ok ({config.settings.config_path}, {len(config.rules.sla)} SLA policies)"
    )
    try:
        revision = migrate.current_revision(db.engine)
    except DatabaseError as error:
        print(f"database: unreachable ({describe_database_error(error)})")
        ok = False
    else:
        ok = revision == migrate.head_revision(db.engine)
        advice = "" if ok else ", needs `baton db upgrade`"
        print(f"database: ok ({db.dialect}, schema {revision or 'empty'}{advice})")
        if ok:
            print("\n".join(failed_deliveries(db)))
    slack_ok, slack_message = check_slack(config)
    print(f"slack: {slack_message}")
    return 0 if ok and slack_ok else 1

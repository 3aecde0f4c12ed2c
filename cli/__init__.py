"""The `liaison` command: run the app, validate and deploy packages, drive instances.

Every command prints readable text, or JSON with `--json`. Exit codes: 0 done, 1 refused
(invalid input, conflict, not found, not permitted), 2 unreadable input.
"""

from __future__ import annotations

import json
import sys
from functools import cache
from pathlib import Path

import click
import yaml

from engine import runtime
from engine.config import load_settings
from engine.data import db
from engine.errors import InvalidPackageError, LiaisonError, UnreadableFileError
from engine.packages import archive as package_zip
from engine.packages import deployment as packages
from engine.packages import scenarios
from engine.work import queries

SHIPPED_PROCESSES = Path(__file__).resolve().parent.parent / "processes"


@cache
def _sessions(url: str):
    if url.startswith("sqlite"):
        db.upgrade(url)  # the embedded default needs no separate setup step
    return db.make_session_factory(db.make_engine(url))


def _url(ctx: click.Context) -> str:
    return ctx.obj.get("database_url") or load_settings().database_url


def _emit(as_json: bool, payload, text: str) -> None:
    click.echo(json.dumps(payload, ensure_ascii=False, indent=2, default=str) if as_json else text)


def _fail(exc: Exception, as_json: bool, code: int = 1):
    if as_json:
        payload = {"error": type(exc).__name__, "message": str(exc)}
        if getattr(exc, "errors", None):
            payload["errors"] = exc.errors  # a refused form: messages per field
        click.echo(json.dumps(payload, ensure_ascii=False))
    elif getattr(exc, "errors", None):
        click.echo(f"error: form `{exc.form}` refused the submission:", err=True)
        for path, messages in exc.errors.items():
            click.echo(f"  {path or '-'}: {' '.join(messages)}", err=True)
    else:
        click.echo(f"error: {exc}", err=True)
    sys.exit(code)


def _parse_json(text: str | None, as_json: bool) -> dict:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        _fail(ValueError(f"--data is not valid JSON: {exc}"), as_json, 2)
    if not isinstance(value, dict):
        _fail(ValueError("--data must be a JSON object"), as_json, 2)
    return value


@click.group()
@click.option("--database-url", envvar="LIAISON_DATABASE_URL", default=None,
              help="Database URL (default: SQLite under instance/).")
@click.pass_context
def main(ctx: click.Context, database_url: str | None) -> None:
    """Liaison: workflow and form engine."""
    ctx.ensure_object(dict)
    ctx.obj["database_url"] = database_url


@main.command()
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=5000, type=int)
@click.pass_context
def run(ctx: click.Context, host: str, port: int) -> None:
    """Start the web app (embedded defaults: SQLite, in-process jobs)."""
    from web import create_app

    url = _url(ctx)
    sessions = _sessions(url)
    app = create_app({"DATABASE_URL": url})
    redis_url = load_settings().redis_url
    if redis_url:
        click.echo("jobs: on Redis; run `liaison worker` (as many as needed) to fire timers and send notifications")
    else:
        from engine.jobs.dispatch import InProcessRunner

        InProcessRunner(sessions).start()
        click.echo("jobs: in process (no LIAISON_REDIS_URL)")
    click.echo(f"Liaison on http://{host}:{port}/  (database: {url})")
    app.run(host=host, port=port)


@main.command()
@click.option("--burst", is_flag=True, help="Do what is due now, then exit.")
@click.option("--name", default=None, help="Worker name shown by RQ (default: random).")
@click.pass_context
def worker(ctx: click.Context, burst: bool, name: str | None) -> None:
    """Run a background worker: fire timers and deliver notifications (needs LIAISON_REDIS_URL).

    Run any number of them. It waits and retries while Redis is down; SIGTERM stops it.
    """
    import dataclasses
    import logging

    settings = load_settings()
    if not settings.redis_url:
        click.echo("error: LIAISON_REDIS_URL is not set. A worker takes its jobs from Redis; without "
                   "Redis, `liaison run` runs timers and notifications in process.", err=True)
        sys.exit(2)
    from engine.jobs import queue

    url = _url(ctx)
    _sessions(url)  # an SQLite file is upgraded as for every command
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        sys.exit(queue.run_worker(dataclasses.replace(settings, database_url=url), name=name, burst=burst))
    except LiaisonError as exc:  # --burst with Redis unreachable
        _fail(exc, False)


@main.group("jobs")
def jobs_group() -> None:
    """Background jobs (timers, notifications)."""


@jobs_group.command("run-due")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def jobs_run_due(ctx: click.Context, as_json: bool) -> None:
    """Fire the due timers and deliver the due notifications once, here (no Redis, for debugging)."""
    from engine.jobs import dispatch as jobs

    counts = jobs.run_due(_sessions(_url(ctx.find_root())))
    lines = [f"{key}: {count}" for key, count in sorted(counts.items())]
    _emit(as_json, counts, "\n".join(lines) if lines else "nothing due")


@main.group("db")
def db_group() -> None:
    """Database schema commands."""


@db_group.command("upgrade")
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    """Apply the schema migrations."""
    url = _url(ctx.find_root())
    db.upgrade(url)
    click.echo(f"database is up to date ({db.normalize_url(url).split('@')[-1]})")


@main.command()
@click.argument("path", type=click.Path())
@click.option("--json", "as_json", is_flag=True)
def validate(path: str, as_json: bool) -> None:
    """Check a .bpmn file or a package folder. Prints PATH:LINE: ELEMENT_ID: message."""
    try:
        if Path(path).is_dir():
            packages.load_package(path)
            problems = []
        else:
            if not Path(path).is_file():
                raise UnreadableFileError(path, "no such file")
            problems = packages.check_bpmn_file(path)
    except UnreadableFileError as exc:
        _emit(as_json, {"valid": False, "unreadable": str(exc)}, f"{exc.path}:0: -: {exc.reason}")
        sys.exit(2)
    except InvalidPackageError as exc:
        problems = exc.problems
    errors = [p for p in problems if p.severity == "error"]
    payload = {"valid": not errors, "problems": [
        {"path": p.path, "line": p.line, "element_id": p.element_id, "message": p.message,
         "severity": p.severity} for p in problems]}
    lines = [str(p) if p.severity == "error" else f"{p} (warning)" for p in problems]
    _emit(as_json, payload, "\n".join(lines) if lines else f"{path}: valid")
    sys.exit(1 if errors else 0)


@main.command()
@click.option("--path", "root", default=None, type=click.Path(file_okay=False),
              help="Folder of packages (default: the shipped processes/).")
@click.pass_context
def demo(ctx: click.Context, root: str | None) -> None:
    """Deploy every shipped process package (unchanged ones are left as they are)."""
    folder = Path(root) if root else SHIPPED_PROCESSES
    sessions = _sessions(_url(ctx))
    failed = False
    for path in sorted(p for p in folder.iterdir() if (p / "package.yaml").is_file()):
        try:
            result = packages.deploy_package(sessions, packages.load_package(path), "demo")
        except LiaisonError as exc:
            click.echo(f"{path.name}: not deployed:\n{exc}", err=True)
            failed = True
            continue
        word = "deployed" if result.created else "already deployed"
        click.echo(f"{word}: {result.key} version {result.version}")
    if root is None:
        _demo_accounts(sessions)
    sys.exit(1 if failed else 0)


def _demo_accounts(sessions) -> None:
    """The demo people (processes/_demo/org.csv) and an admin, each with a random password, once."""
    import os
    import secrets

    from sqlalchemy import select

    from engine.config import load_settings
    from engine.data.models import Person, utcnow
    from engine.people import accounts, org_import

    target = load_settings().instance_dir / "demo-accounts.txt"
    with sessions() as session, session.begin():
        if session.scalar(select(Person.id).where(Person.username == "admin")) is not None:
            click.echo(f"demo accounts exist: see {target}")
            return
        plan = org_import.plan_import(session, org_import.read_org_file(SHIPPED_PROCESSES / "_demo" / "org.csv"))
        org_import.apply_import(session, plan)
        passwords = {"admin": secrets.token_urlsafe(12)}
        accounts.create_admin(session, "admin", passwords["admin"], "Administrator", utcnow())
        for person in session.scalars(select(Person).where(Person.username != "admin")):
            passwords[person.username] = secrets.token_urlsafe(12)
            accounts.set_password(session, person.id, passwords[person.username], utcnow())
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write("".join(f"{user}\t{password}\n" for user, password in passwords.items()))
    click.echo("demo accounts (username, password; also in " + str(target) + "):")
    for user, password in passwords.items():
        click.echo(f"  {user:8s} {password}")


@main.command("import-org")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Check the file and print the plan; change nothing.")
@click.option("--deactivate-missing", is_flag=True,
              help="Deactivate active people who are not in the file (super admins are kept).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def import_org_command(ctx: click.Context, file: str, dry_run: bool, deactivate_missing: bool,
                       as_json: bool) -> None:
    """Import people, departments, positions and roles from a CSV or XLSX file.

    Prints the counts and every problem as FILE:ROW: message. Exit 0 when applied (or a clean
    dry run), 1 when the file has errors (nothing is applied), 2 when it cannot be read.
    """
    from engine.people import org_import

    try:
        table = org_import.read_org_file(file)
    except LiaisonError as exc:
        _fail(exc, as_json, 2)
    with _sessions(_url(ctx))() as session, session.begin():
        plan = org_import.plan_import(session, table, deactivate_missing=deactivate_missing)
        applied = plan.ok and not dry_run
        if applied:
            org_import.apply_import(session, plan)
    word = "applied" if applied else ("dry run, nothing changed" if plan.ok else "refused, nothing changed")
    _emit(as_json, {**plan.to_dict(), "applied": applied}, "\n".join([*plan.report(), word]))
    sys.exit(0 if plan.ok else 1)


@main.command("import-formjs")
@click.argument("source", type=click.Path(exists=True, dir_okay=False))
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write the Liaison form here (YAML).")
def import_formjs_command(source: str, output: str | None) -> None:
    """Convert a form-js schema (Camunda Modeler's .form file) into a Liaison form.

    Prints the form as YAML (or writes it to --output) and, on stderr, one line for every
    component that could not be mapped exactly. Exit 0 when converted, 1 when the result does
    not load as a form, 2 when the file is not a form-js document.
    """
    from forms.formjs import import_formjs
    from forms.schema import SchemaError, load_schema
    try:
        result = import_formjs(Path(source).read_bytes())
    except ValueError as exc:
        click.echo(f"{source}: {exc}", err=True)
        sys.exit(2)
    for problem in result.problems:
        click.echo(f"{source}: {problem}", err=True)
    text = yaml.safe_dump(result.schema, allow_unicode=True, sort_keys=False)
    if output:
        Path(output).write_text(text, encoding="utf-8")
    else:
        click.echo(text, nl=False)
    try:
        load_schema(result.schema, name=output or source)
    except SchemaError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)


@main.command("test")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--json", "as_json", is_flag=True)
def test_packages(paths: tuple[str, ...], as_json: bool) -> None:
    """Run the scenario tests (tests/*.yaml) of package folders against a scratch database."""
    results = []
    for path in paths:
        try:
            results.extend(scenarios.run_package_scenarios(path))
        except InvalidPackageError as exc:
            _fail(exc, as_json)
    lines = []
    for r in results:
        lines.append(f"{'PASS' if r.passed else 'FAIL'}  {r.package}/tests/{r.file}: {r.name}")
        lines += [f"      {failure}" for failure in r.failures]
    failed = sum(not r.passed for r in results)
    lines.append(f"{len(results) - failed} passed, {failed} failed")
    payload = [{"package": r.package, "file": r.file, "name": r.name, "passed": r.passed,
                "failures": r.failures} for r in results]
    _emit(as_json, payload, "\n".join(lines))
    sys.exit(1 if failed else 0)


@main.command()
@click.argument("path", type=click.Path(exists=True))
@click.option("--user", default=None)
@click.option("--notes", default=None)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def deploy(ctx: click.Context, path: str, user: str | None, notes: str | None, as_json: bool) -> None:
    """Validate a package (folder or .zip) and deploy it as the next version."""
    try:
        if Path(path).is_file():
            with package_zip.unpacked(path) as folder:
                package = packages.load_package(folder)
        else:
            package = packages.load_package(path)
        result = packages.deploy_package(_sessions(_url(ctx)), package, user, notes)
    except LiaisonError as exc:
        _fail(exc, as_json)
    word = "deployed" if result.created else "unchanged, already deployed as"
    if not as_json:
        for warning in result.warnings:
            click.echo(f"warning: {warning}", err=True)
    _emit(as_json, vars(result), f"{word} {result.key} version {result.version}")


@main.command()
@click.argument("key")
@click.option("--version", "number", type=int, default=None, help="Version number (default: newest).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True)
@click.pass_context
def export(ctx: click.Context, key: str, number: int | None, output: str) -> None:
    """Write a deployed version of a package to a zip file."""
    try:
        with _sessions(_url(ctx))() as session:
            content = package_zip.export_version(session, key, number)
    except LiaisonError as exc:
        _fail(exc, False)
    Path(output).write_bytes(content)
    click.echo(f"wrote {output} ({len(content)} bytes)")


@main.command()
@click.argument("key")
@click.option("--data", default=None, help="Start form data as a JSON object.")
@click.option("--user", default=None)
@click.option("--business-key", default=None)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def start(ctx, key, data, user, business_key, as_json) -> None:
    """Start an instance of the latest version of process KEY."""
    payload = _parse_json(data, as_json)
    try:
        result = runtime.start_instance(_sessions(_url(ctx)), key, payload, user, business_key)
    except LiaisonError as exc:
        _fail(exc, as_json)
    _emit(as_json, vars(result), _describe_step(result))


@main.command()
@click.option("--user", required=True)
@click.option("--group", "groups", multiple=True, help="A group the user belongs to (repeatable).")
@click.option("--status", default="open", type=click.Choice(["open", "completed", "cancelled"]))
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def tasks(ctx, user, groups, status, as_json) -> None:
    """List the tasks of a user (assigned, or offered to them or their groups)."""
    with _sessions(_url(ctx))() as session:
        items = queries.list_tasks(session, user, tuple(groups), status)
    lines = [f"{t.id}  #{t.instance_id} {t.process_key}  {t.element_id} ({t.name or ''})  "
             f"assignee={t.assignee or '-'}" for t in items]
    _emit(as_json, [t.to_dict() for t in items], "\n".join(lines) if lines else "no tasks")


@main.command()
@click.argument("task_id")
@click.option("--user", required=True)
@click.option("--group", "groups", multiple=True)
@click.option("--data", default=None, help="Form data as a JSON object.")
@click.option("--comment", default=None)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def complete(ctx, task_id, user, groups, data, comment, as_json) -> None:
    """Complete a task with form data."""
    payload = _parse_json(data, as_json)
    try:
        result = runtime.complete_task(_sessions(_url(ctx)), task_id, user, payload, tuple(groups), comment)
    except LiaisonError as exc:
        _fail(exc, as_json)
    _emit(as_json, vars(result), _describe_step(result))


@main.command()
@click.argument("instance_id", type=int)
@click.option("--user", default=None)
@click.option("--reason", default=None)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def cancel(ctx, instance_id, user, reason, as_json) -> None:
    """Cancel a running instance."""
    try:
        result = runtime.cancel_instance(_sessions(_url(ctx)), instance_id, user, reason)
    except LiaisonError as exc:
        _fail(exc, as_json)
    _emit(as_json, vars(result), _describe_step(result))


@main.command()
@click.argument("instance_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def show(ctx, instance_id, as_json) -> None:
    """Show an instance: state, data and history."""
    try:
        with _sessions(_url(ctx))() as session:
            view = queries.instance_view(session, instance_id)
    except LiaisonError as exc:
        _fail(exc, as_json)
    _emit(as_json, view, _describe_instance(view))


@main.command("create-admin")
@click.option("--username", required=True)
@click.option("--name", required=True, help="Display name.")
@click.option("--password-stdin", is_flag=True, help="Read the password from one line of standard input.")
@click.pass_context
def create_admin_command(ctx: click.Context, username: str, name: str, password_stdin: bool) -> None:
    """Create a super admin account (the password is prompted twice unless --password-stdin)."""
    from datetime import UTC, datetime

    from engine.people import accounts

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        accounts.check_password_strength(password, username)
        with _sessions(_url(ctx))() as session, session.begin():
            accounts.create_admin(session, username, password, name, datetime.now(UTC))
    except LiaisonError as exc:
        _fail(exc, False)
    click.echo(f"created super admin `{username.strip()}`")


def _describe_step(result) -> str:
    lines = [f"instance {result.instance_id}: {result.status}"
             + (f" at {result.end_event}" if result.end_event else "")]
    lines += [f"  waiting: {t['id']}  {t['element_id']} ({t['name'] or ''}) assignee={t['assignee'] or '-'}"
              for t in result.open_tasks]
    return "\n".join(lines)


def _describe_instance(view: dict) -> str:
    lines = [f"instance {view['id']}  {view['process']} v{view['version']}  {view['status']}"
             + (f" at {view['end_event']}" if view["end_event"] else ""),
             f"initiator: {view['initiator'] or '-'}  business key: {view['business_key'] or '-'}",
             "data: " + json.dumps(view["data"], ensure_ascii=False, default=str)[:2000], "open tasks:"]
    lines += [f"  {t['id']}  {t['element_id']}  assignee={t['assignee'] or '-'}"
              for t in view["tasks"] if t["status"] == "open"] or ["  none"]
    lines.append("history:")
    for h in view["history"]:
        detail = " ".join(x for x in (h["element_id"], h["comment"]) if x)
        lines.append(f"  {h['at'][:19]}  {h['actor'] or '-':<10} {h['action']:<15} {detail}")
    return "\n".join(lines)


@main.group("webhook")
def webhook_group() -> None:
    """Named webhook endpoints that packages' notifications refer to (the secret stays here)."""


@webhook_group.command("add")
@click.argument("name")
@click.argument("url")
@click.option("--format", "fmt", type=click.Choice(["generic", "dingtalk", "feishu", "wecom"]), default="generic")
@click.option("--secret", default=None, help="Signing secret (generic: HMAC key; dingtalk/feishu: robot secret).")
@click.option("--secret-stdin", is_flag=True, help="Read the secret from one line of standard input.")
@click.pass_context
def webhook_add(ctx: click.Context, name: str, url: str, fmt: str, secret: str | None, secret_stdin: bool) -> None:
    """Add endpoint NAME posting to URL."""
    from engine.notify import delivery

    if secret_stdin:
        secret = sys.stdin.readline().rstrip("\r\n")
    try:
        with _sessions(_url(ctx.find_root()))() as session, session.begin():
            delivery.add_endpoint(session, name, url, fmt, secret)
    except LiaisonError as exc:
        _fail(exc, False)
    click.echo(f"added webhook `{name.strip()}` ({fmt})")


@webhook_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def webhook_list(ctx: click.Context, as_json: bool) -> None:
    """List endpoints (URL query strings, which hold robot tokens, are hidden)."""
    from engine.notify import delivery

    with _sessions(_url(ctx.find_root()))() as session:
        rows = delivery.list_endpoints(session)
    lines = [f"{r['name']:<20} {r['format']:<9} {'active' if r['active'] else 'inactive':<9} "
             f"{'signed' if r['has_secret'] else 'unsigned':<9} {r['url']}" for r in rows]
    _emit(as_json, rows, "\n".join(lines) or "no webhook endpoints")


@webhook_group.command("remove")
@click.argument("name")
@click.pass_context
def webhook_remove(ctx: click.Context, name: str) -> None:
    """Remove endpoint NAME (outbox rows still addressed to it fail)."""
    from engine.notify import delivery

    try:
        with _sessions(_url(ctx.find_root()))() as session, session.begin():
            delivery.remove_endpoint(session, name)
    except LiaisonError as exc:
        _fail(exc, False)
    click.echo(f"removed webhook `{name}`")


@main.command("outbox")
@click.option("--retry-failed", is_flag=True, help="Give every failed row a fresh set of attempts first.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def outbox_command(ctx: click.Context, retry_failed: bool, as_json: bool) -> None:
    """Outbox rows per status, and the last 20 failed ones with their errors."""
    from engine.notify import delivery

    if retry_failed:
        with _sessions(_url(ctx))() as session, session.begin():
            count = delivery.retry_failed(session)
        if not as_json:
            click.echo(f"{count} failed row(s) will be sent again")
    with _sessions(_url(ctx))() as session:
        summary = delivery.outbox_summary(session)
    lines = ["  ".join(f"{status}: {count}" for status, count in summary["counts"].items())]
    if summary["failed"]:
        lines.append("last failed:")
        lines += [f"  #{r['id']}  {r['channel']:<7} {r['event']:<17} {r['recipient']}  "
                  f"({r['attempts']} attempts): {r['last_error'] or '-'}" for r in summary["failed"]]
    _emit(as_json, summary, "\n".join(lines))


@main.group("message")
def message_group() -> None:
    """Send messages to waiting processes; list kept ones."""


@message_group.command("send")
@click.argument("name")
@click.option("--key", "correlation_key", default=None, help="Correlation key (business key or the event's key).")
@click.option("--data", default=None, help="Payload as a JSON object.")
@click.option("--sender", default=None, help="Who sends it (shown in the history).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def message_send(ctx: click.Context, name: str, correlation_key: str | None, data: str | None,
                 sender: str | None, as_json: bool) -> None:
    """Send message NAME: delivered to the one instance waiting for it, starts a process, or is kept.

    Exit 1 when it matches two instances or the process refuses early messages.
    """
    from engine.runtime import messages

    payload = _parse_json(data, as_json)
    try:
        result = messages.send_message(_sessions(_url(ctx.find_root())), name, correlation_key, payload, sender)
    except LiaisonError as exc:
        _fail(exc, as_json)
    _emit(as_json, {"status": result.status, "instance_id": result.instance_id, "kept_id": result.buffered_id,
                    "expires_at": result.expires_at}, result.describe(name, correlation_key))


@message_group.command("list")
@click.option("--status", default="waiting", type=click.Choice(["waiting", "consumed", "expired"]))
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def message_list(ctx: click.Context, status: str, as_json: bool) -> None:
    """Kept messages (newest first)."""
    from engine.runtime import messages

    rows = messages.kept_messages(_sessions(_url(ctx.find_root())), status)
    lines = [f"#{r['id']}  {r['message_name']}  key={r['correlation_key']}  received {r['received_at']:%Y-%m-%d %H:%M}"
             f"  expires {r['expires_at']:%Y-%m-%d %H:%M}" + (f"  -> instance {r['instance_id']}" if r['instance_id'] else "")
             for r in rows]
    _emit(as_json, rows, "\n".join(lines) or f"no {status} messages")


# -- approval operations (engine.operations; rules in docs/approvals.md) --------------------------------

@main.group("task")
def task_group() -> None:
    """Operations on one task (transfer)."""


@task_group.command("transfer")
@click.argument("task_id")
@click.option("--to", "to", required=True, help="Username of the person who takes the task over.")
@click.option("--as", "actor", required=True, help="Who transfers it: the assignee or a super admin.")
@click.option("--comment", default=None)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def task_transfer(ctx: click.Context, task_id: str, to: str, actor: str, comment: str | None, as_json: bool) -> None:
    """Give task TASK_ID to another person (转办)."""
    from engine.runtime import operations

    try:
        result = operations.transfer(_sessions(_url(ctx.find_root())), task_id, to, actor=actor, comment=comment)
    except LiaisonError as exc:
        _fail(exc, as_json)
    _emit(as_json, result.to_dict(),
          f"task {task_id}: transferred from {result.from_user or '-'} to {result.to_user}")


@task_group.command("delegate")
@click.argument("task_id")
@click.option("--to", "to", required=True, help="Username of the person who handles it for you.")
@click.option("--as", "actor", required=True, help="The task's assignee.")
@click.option("--comment", default=None)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def task_delegate(ctx: click.Context, task_id: str, to: str, actor: str, comment: str | None, as_json: bool) -> None:
    """Have someone handle TASK_ID for you (委派); it comes back to you when they submit."""
    try:
        runtime.delegate_task(_sessions(_url(ctx.find_root())), task_id, actor, to, comment)
    except LiaisonError as exc:
        _fail(exc, as_json)
    _emit(as_json, {"task_id": task_id, "delegated_to": to, "delegated_by": actor},
          f"task {task_id}: delegated by {actor} to {to}")


@task_group.command("return")
@click.argument("task_id")
@click.option("--to", "target", default="previous", show_default=True,
              help="previous, initiator (the process's rework node), or the id of a node already passed.")
@click.option("--as", "actor", required=True, help="The task's holder.")
@click.option("--comment", required=True, help="Why (required).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def task_return(ctx: click.Context, task_id: str, target: str, actor: str, comment: str, as_json: bool) -> None:
    """Send TASK_ID back (退回)."""
    _move(ctx, task_id, actor, "return", target, comment, as_json)


@task_group.command("take-back")
@click.argument("task_id")
@click.option("--as", "actor", required=True, help="Who completed the node before it.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def task_take_back(ctx: click.Context, task_id: str, actor: str, as_json: bool) -> None:
    """Pull the request back from TASK_ID while nobody acted on it (拿回)."""
    _move(ctx, task_id, actor, "take_back", None, None, as_json)


@task_group.command("jump")
@click.argument("task_id")
@click.option("--to", "target", required=True, help="The id of the node to move the request to.")
@click.option("--as", "actor", required=True, help="A super admin or one of the process's admins.")
@click.option("--comment", required=True, help="Why (required).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def task_jump(ctx: click.Context, task_id: str, target: str, actor: str, comment: str, as_json: bool) -> None:
    """Move the request waiting at TASK_ID to another node (跳转, administrators)."""
    _move(ctx, task_id, actor, "jump", target, comment, as_json)


def _move(ctx, task_id, actor, kind, target, comment, as_json) -> None:
    try:
        result = runtime.move_task(_sessions(_url(ctx.find_root())), task_id, actor, kind, target, comment)
    except LiaisonError as exc:
        _fail(exc, as_json)
    _emit(as_json, {"instance_id": result.instance_id, "open_tasks": result.open_tasks},
          f"instance {result.instance_id} now waits at: "
          + ", ".join(f"{t['element_id']} ({t['assignee'] or 'unassigned'}) {t['id']}" for t in result.open_tasks))


@task_group.command("add-signer")
@click.argument("task_id")
@click.option("--signer", required=True, help="Username of the person to add.")
@click.option("--place", required=True, type=click.Choice(["before", "after", "alongside"]),
              help="before / after me (sequential nodes), alongside (all, any, vote).")
@click.option("--as", "actor", required=True, help="The signer whose turn it is.")
@click.option("--comment", default=None)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def task_add_signer(ctx: click.Context, task_id: str, signer: str, place: str, actor: str, comment: str | None,
                    as_json: bool) -> None:
    """Add a signer to approval node TASK_ID (加签)."""
    try:
        runtime.add_signer(_sessions(_url(ctx.find_root())), task_id, actor, signer, place, comment)
    except LiaisonError as exc:
        _fail(exc, as_json)
    _emit(as_json, {"task_id": task_id, "signer": signer, "place": place},
          f"task {task_id}: {signer} added {place} {actor}")


@task_group.command("remove-signer")
@click.argument("task_id")
@click.option("--signer", required=True, help="Username of the undecided signer to take off.")
@click.option("--as", "actor", required=True, help="Who added them, or a super admin.")
@click.option("--comment", default=None)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def task_remove_signer(ctx: click.Context, task_id: str, signer: str, actor: str, comment: str | None,
                       as_json: bool) -> None:
    """Take an undecided signer off approval node TASK_ID (减签); the node completes if that settles it."""
    try:
        result = runtime.remove_signer(_sessions(_url(ctx.find_root())), task_id, actor, signer, comment)
    except LiaisonError as exc:
        _fail(exc, as_json)
    settled = result is not None
    _emit(as_json, {"task_id": task_id, "signer": signer, "node_completed": settled},
          f"task {task_id}: {signer} removed" + ("; the node is decided" if settled else ""))


@main.group("instance")
def instance_group() -> None:
    """Operations on a running instance: urge, cc, withdraw, terminate."""


@instance_group.command("urge")
@click.argument("instance_id", type=int)
@click.option("--as", "actor", required=True, help="Who urges: the initiator or a super admin.")
@click.option("--comment", default=None)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def instance_urge(ctx: click.Context, instance_id: int, actor: str, comment: str | None, as_json: bool) -> None:
    """Remind the people instance INSTANCE_ID waits for (催办; once per 10 minutes and person)."""
    from engine.runtime import operations

    try:
        result = operations.urge(_sessions(_url(ctx.find_root())), instance_id, actor=actor, comment=comment)
    except LiaisonError as exc:
        _fail(exc, as_json)
    lines = [f"instance {instance_id}: urged"]
    lines += [f"  {t['id']}  {t['name']}: {', '.join(t['recipients'] + t['groups']) or '-'}" for t in result.tasks]
    _emit(as_json, result.to_dict(), "\n".join(lines))


@instance_group.command("cc")
@click.argument("instance_id", type=int)
@click.option("--to", "to", multiple=True, required=True, help="A username to copy to (repeatable).")
@click.option("--as", "actor", required=True, help="Who copies: the initiator, a participant or a super admin.")
@click.option("--comment", default=None)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def instance_cc(ctx: click.Context, instance_id: int, to: tuple[str, ...], actor: str, comment: str | None,
                as_json: bool) -> None:
    """Copy instance INSTANCE_ID to people (抄送), each once."""
    from engine.runtime import operations

    try:
        result = operations.cc(_sessions(_url(ctx.find_root())), instance_id, to, actor=actor, comment=comment)
    except LiaisonError as exc:
        _fail(exc, as_json)
    text = f"instance {instance_id}: copied to {', '.join(result.added) or 'nobody new'}"
    if result.skipped:
        text += f" (already copied before: {', '.join(result.skipped)})"
    _emit(as_json, result.to_dict(), text)


@instance_group.command("withdraw")
@click.argument("instance_id", type=int)
@click.option("--as", "actor", required=True, help="The initiator.")
@click.option("--comment", default=None)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def instance_withdraw(ctx: click.Context, instance_id: int, actor: str, comment: str | None, as_json: bool) -> None:
    """The initiator withdraws running instance INSTANCE_ID (撤回)."""
    from engine.runtime import operations

    try:
        result = operations.withdraw(_sessions(_url(ctx.find_root())), instance_id, actor=actor, comment=comment)
    except LiaisonError as exc:
        _fail(exc, as_json)
    _emit(as_json, vars(result), _describe_step(result))


@instance_group.command("terminate")
@click.argument("instance_id", type=int)
@click.option("--as", "actor", required=True, help="A super admin.")
@click.option("--reason", required=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def instance_terminate(ctx: click.Context, instance_id: int, actor: str, reason: str, as_json: bool) -> None:
    """A super admin ends running instance INSTANCE_ID (终止) with a reason."""
    from engine.runtime import operations

    try:
        result = operations.terminate(_sessions(_url(ctx.find_root())), instance_id, actor=actor, reason=reason)
    except LiaisonError as exc:
        _fail(exc, as_json)
    _emit(as_json, vars(result), _describe_step(result))


if __name__ == "__main__":
    main()

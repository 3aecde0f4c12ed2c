"""Process packages: `validate`, `deploy`, `export`, `test` (scenarios), `demo`, `import-formjs`, `export-formjs`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
import yaml

from cli.common import SHIPPED_PROCESSES, LiaisonCommand, database_url, emit, fail, sessions_for
from cli.rooms import demo_rooms
from engine.config import load_settings
from engine.errors import InvalidPackageError, LiaisonError, UnreadableFileError
from engine.notices.demo import load_demo as load_notice_demo
from engine.packages import archive as package_zip
from engine.packages import deployment as packages
from engine.packages import scenarios
from engine.projects import demo as project_demo
from engine.training import demo as training_demo


@click.command(cls=LiaisonCommand)
@click.argument("path", type=click.Path())
@click.option("--json", "as_json", is_flag=True)
def validate(path: str, as_json: bool) -> None:
    """Check a .bpmn file or a package folder. Prints PATH:LINE: ELEMENT_ID: message."""
    try:
        if Path(path).is_dir():
            problems = packages.load_package(path).notes
        else:
            if not Path(path).is_file():
                raise UnreadableFileError(path, "no such file")
            problems = packages.check_bpmn_file(path)
    except UnreadableFileError as exc:
        emit(as_json, {"valid": False, "unreadable": str(exc)}, f"{exc.path}:0: -: {exc.reason}")
        sys.exit(2)
    except InvalidPackageError as exc:
        problems = exc.problems
    errors = [p for p in problems if p.severity == "error"]
    payload = {"valid": not errors, "problems": [
        {"path": p.path, "line": p.line, "element_id": p.element_id, "message": p.message,
         "severity": p.severity} for p in problems]}
    lines = [str(p) if p.severity == "error" else f"{p} ({p.severity})" for p in problems]
    if not errors:
        lines.append(f"{path}: valid")  # after the warnings and notes, so scripts can still look for it
    emit(as_json, payload, "\n".join(lines))
    sys.exit(1 if errors else 0)


@click.command(cls=LiaisonCommand)
@click.option("--path", "root", default=None, type=click.Path(file_okay=False),
              help="Folder of packages (default: the shipped processes/).")
@click.pass_context
def demo(ctx: click.Context, root: str | None) -> None:
    """Deploy every shipped process package (unchanged ones are left as they are)."""
    folder = Path(root) if root else SHIPPED_PROCESSES
    sessions = sessions_for(database_url(ctx))
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
        _demo_calendar(sessions)
        _demo_parties(sessions)
        demo_rooms(sessions)
        click.echo(training_demo.load_demo(sessions))
        click.echo(load_notice_demo(sessions))  # a notice with a questionnaire from HR to everyone, once
        click.echo(project_demo.load_demo(sessions))  # the product launch project of jiangnan, once
    sys.exit(1 if failed else 0)


DEMO_PARTIES = (  # key: type it in a purchase order's supplier field; the customer submits in the portal
    {"kind": "supplier", "key": "ACME", "name": "艾克米五金有限公司", "name_en": "ACME Hardware Ltd.",
     "contact": "吴经理", "email": "sales@acme.example.com"},
    {"kind": "customer", "key": "HUAXIN", "name": "华信电子有限公司", "name_en": "Huaxin Electronics Co., Ltd.",
     "contact": "陈工", "email": "it@huaxin.example.com"},
)


def _demo_parties(sessions) -> None:
    """A demo supplier and a demo customer, each with one contact, once (through engine.external.parties,
    so keys, names and addresses are checked as an admin's would be)."""
    from engine.data.models import utcnow
    from engine.external import parties

    for demo in DEMO_PARTIES:
        with sessions() as session, session.begin():
            conn = session.connection()
            if parties.party_by_key(conn, demo["key"]) is not None:
                continue
            party_id = parties.create_party(conn, kind=demo["kind"], key=demo["key"], name=demo["name"],
                                            name_en=demo["name_en"], now=utcnow())
            parties.add_contact(conn, party_id, name=demo["contact"], email=demo["email"], locale="zh", now=utcnow())
        click.echo(f"demo {demo['kind']}: {demo['key']} ({demo['email']})")


def _demo_calendar(sessions) -> None:
    """This year's and next year's official holidays and working weekends (调休), where the installed
    chinese-calendar publishes them and the calendar holds nothing for that year yet."""
    from engine.data import calendar
    from engine.data.models import utcnow

    this_year = utcnow().year
    with sessions() as session, session.begin():
        for year in (this_year, this_year + 1):
            if year not in calendar.package_years() or calendar.year_days(session, year):
                continue
            click.echo(str(calendar.load_year(session, year, "demo", utcnow())))


DEMO_ACCOUNTS_SHOWN = 7  # admin and the people the README's walk-throughs sign in as


# The demo org chart's roles by name (its CSV names them by key only), shown wherever a page offers roles.
DEMO_ROLE_NAMES = {"finance": ("财务", "Finance"), "general_manager": ("总经理", "General manager"),
                   "hr": ("人力资源", "HR"), "managers": ("经理", "Managers"), "procurement": ("采购", "Procurement"),
                   "reception": ("前台", "Reception"), "service_desk": ("客服", "Service desk")}


def _demo_accounts(sessions) -> None:
    """The demo people (processes/_demo/org.csv) and an admin, each with a random password, once."""
    import os
    import secrets

    from sqlalchemy import select

    from engine.data.models import Person, Role, utcnow
    from engine.people import accounts, org_import

    target = load_settings().instance_dir / "demo-accounts.txt"
    with sessions() as session, session.begin():
        if session.scalar(select(Person.id).where(Person.username == "admin")) is not None:
            click.echo(f"demo accounts exist: see {target}")
            return
        plan = org_import.plan_import(session, org_import.read_org_file(SHIPPED_PROCESSES / "_demo" / "org.csv"))
        org_import.apply_import(session, plan)
        for role in session.scalars(select(Role).where(Role.key.in_(DEMO_ROLE_NAMES))):  # the org file has keys only
            role.name, role.name_en = DEMO_ROLE_NAMES[role.key]
        passwords = {"admin": secrets.token_urlsafe(12)}
        accounts.create_admin(session, "admin", passwords["admin"], "Administrator", utcnow())
        for person in session.scalars(select(Person).where(Person.username != "admin")):
            passwords[person.username] = secrets.token_urlsafe(12)
            accounts.set_password(session, person.id, passwords[person.username], utcnow())
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write("".join(f"{user}\t{password}\n" for user, password in passwords.items()))
    click.echo("demo accounts (username, password; all of them in " + str(target) + "):")
    shown = list(passwords.items())[:DEMO_ACCOUNTS_SHOWN]
    for user, password in shown:
        click.echo(f"  {user:8s} {password}")
    if len(passwords) > len(shown):
        click.echo(f"  ... and {len(passwords) - len(shown)} more people of the demo org chart")


@click.command("import-formjs", cls=LiaisonCommand)
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


@click.command("export-formjs", cls=LiaisonCommand)
@click.argument("source", type=click.Path(exists=True, dir_okay=False))
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write the form-js document here.")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="en", show_default=True,
              help="The language of the labels (form-js has one).")
def export_formjs_command(source: str, output: str | None, lang: str) -> None:
    """Convert a Liaison form (YAML or JSON) into a form-js document for Camunda Modeler.

    Prints the document (or writes it to --output) and, on stderr, one line for every field form-js
    cannot hold. Exit 0 when converted, 2 when the file is not a form.
    """
    from forms.formjs_export import export_formjs
    from forms.schema import SchemaError, read_document
    try:
        schema = read_document(Path(source).read_text(encoding="utf-8"))
    except (SchemaError, UnicodeDecodeError) as exc:
        click.echo(f"{source}: {exc}", err=True)
        sys.exit(2)
    if not isinstance(schema, dict):
        click.echo(f"{source}: not a form (a mapping with `fields`)", err=True)
        sys.exit(2)
    result = export_formjs(schema, lang)
    for problem in result.problems:
        click.echo(f"{source}: {problem}", err=True)
    text = json.dumps(result.document, ensure_ascii=False, indent=2) + "\n"
    if output:
        Path(output).write_text(text, encoding="utf-8")
    else:
        click.echo(text, nl=False)


@click.command("test", cls=LiaisonCommand)
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--json", "as_json", is_flag=True)
def test_packages(paths: tuple[str, ...], as_json: bool) -> None:
    """Run the scenario tests (tests/*.yaml) of package folders against a scratch database."""
    results = []
    for path in paths:
        try:
            results.extend(scenarios.run_package_scenarios(path))
        except InvalidPackageError as exc:
            fail(exc, as_json)
    lines = []
    for r in results:
        lines.append(f"{'PASS' if r.passed else 'FAIL'}  {r.package}/tests/{r.file}: {r.name}")
        lines += [f"      {failure}" for failure in r.failures]
    failed = sum(not r.passed for r in results)
    lines.append(f"{len(results) - failed} passed, {failed} failed")
    payload = [{"package": r.package, "file": r.file, "name": r.name, "passed": r.passed,
                "failures": r.failures} for r in results]
    emit(as_json, payload, "\n".join(lines))
    sys.exit(1 if failed else 0)


@click.command(cls=LiaisonCommand)
@click.argument("path", type=click.Path(exists=True))
@click.option("--as", "--user", "user", default=None)
@click.option("--notes", default=None)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def deploy(ctx: click.Context, path: str, user: str | None, notes: str | None, as_json: bool) -> None:
    """Validate a package (folder, .zip or a lone .bpmn) and deploy it as the next version."""
    try:
        if Path(path).is_file() and Path(path).suffix.lower() == ".bpmn":
            package = packages.load_package(path)  # a lone diagram: a package of one process
        elif Path(path).is_file():
            with package_zip.unpacked(path) as folder:
                package = packages.load_package(folder)
        else:
            package = packages.load_package(path)
        result = packages.deploy_package(sessions_for(database_url(ctx)), package, user, notes)
    except LiaisonError as exc:
        fail(exc, as_json)
    word = "deployed" if result.created else "unchanged, already deployed as"
    if not as_json:
        for warning in result.warnings:
            click.echo(f"warning: {warning}", err=True)
    emit(as_json, vars(result), f"{word} {result.key} version {result.version}")


@click.command(cls=LiaisonCommand)
@click.argument("key")
@click.option("--version", "number", type=int, default=None, help="Version number (default: newest).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True)
@click.pass_context
def export(ctx: click.Context, key: str, number: int | None, output: str) -> None:
    """Write a deployed version of a package to a zip file."""
    try:
        with sessions_for(database_url(ctx))() as session:
            content = package_zip.export_version(session, key, number)
    except LiaisonError as exc:
        fail(exc, False)
    Path(output).write_bytes(content)
    click.echo(f"wrote {output} ({len(content)} bytes)")

COMMANDS = [validate, demo, import_formjs_command, export_formjs_command, test_packages, deploy, export]

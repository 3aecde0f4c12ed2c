"""People: `import-org` (CSV/XLSX org chart), `create-admin`, and `people invite` (a link to set a password)."""

from __future__ import annotations

import sys

import click

from cli.common import LiaisonCommand, LiaisonGroup, database_url, emit, fail, sessions_for
from engine.errors import LiaisonError


@click.command("import-org", cls=LiaisonCommand)
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
        fail(exc, as_json, 2)
    with sessions_for(database_url(ctx))() as session, session.begin():
        plan = org_import.plan_import(session, table, deactivate_missing=deactivate_missing)
        applied = plan.ok and not dry_run
        if applied:
            org_import.apply_import(session, plan)
    word = "applied" if applied else ("dry run, nothing changed" if plan.ok else "refused, nothing changed")
    emit(as_json, {**plan.to_dict(), "applied": applied}, "\n".join([*plan.report(), word]))
    sys.exit(0 if plan.ok else 1)


@click.command("create-admin", cls=LiaisonCommand)
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
        with sessions_for(database_url(ctx))() as session, session.begin():
            accounts.create_admin(session, username, password, name, datetime.now(UTC))
    except LiaisonError as exc:
        fail(exc, False)
    click.echo(f"created super admin `{username.strip()}`")


@click.group("people", cls=LiaisonGroup)
def people_group() -> None:
    """People's accounts."""


@people_group.command("invite")
@click.argument("username")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def invite_command(ctx: click.Context, username: str, as_json: bool) -> None:
    """Issue a one-time link with which USERNAME chooses a password (an invitation, or a reset when
    they have one). It is e-mailed when the person has an address, and printed here once; an earlier
    unused link of theirs stops working. Links use LIAISON_BASE_URL."""
    from datetime import UTC, datetime

    from engine.config import load_settings
    from engine.people import invitations

    with sessions_for(database_url(ctx))() as session, session.begin():
        issued = invitations.issue(session, None, username, datetime.now(UTC), load_settings().base_url)
    word = "invitation" if issued.purpose == "invite" else "reset link"
    sent = f"e-mailed to {issued.emailed_to}" if issued.emailed_to else "no e-mail address: pass it on yourself"
    emit(as_json, {"username": issued.username, "purpose": issued.purpose, "link": issued.link,
                   "expires_at": issued.expires_at.isoformat(), "emailed_to": issued.emailed_to},
         f"{word} for `{issued.username}` ({sent}), valid once until {issued.expires_at:%Y-%m-%d %H:%M} UTC:\n"
         f"{issued.link}")


COMMANDS = [import_org_command, create_admin_command, people_group]

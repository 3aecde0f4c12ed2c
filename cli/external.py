"""External access: `external import` (parties and contacts), `external link` / `external code` (issue a
grant, printed once), `external revoke` (a party, a contact or a grant, with their sessions)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta

import click

from cli.common import LiaisonGroup, database_url, emit, fail, sessions_for
from engine.errors import LiaisonError, NotFoundError, NotPermittedError, msg

DEFAULT_DAYS = 14  # as package.yaml `portal.link_days` defaults
MAX_DAYS = 365  # `portal_checks.MAX_LINK_DAYS` and `invitations.MAX_CODE_DAYS` (a test holds them equal)


@click.group("external", cls=LiaisonGroup)
def external_group() -> None:
    """Suppliers, customers and visitors: parties, links, codes."""


@external_group.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--apply", "apply_", is_flag=True, help="Write the parties and contacts (default: a dry run).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def import_command(ctx: click.Context, file: str, apply_: bool, as_json: bool) -> None:
    """Import parties and contacts from a CSV or XLSX file (one row per contact). Without --apply only
    checks it. Exit 1 when a row has errors (nothing written), 2 when the file cannot be read."""
    from engine.external import party_import

    try:
        table = party_import.read_party_file(file)
    except LiaisonError as exc:
        fail(exc, as_json, 2)
    with sessions_for(database_url(ctx))() as session, session.begin():
        plan = party_import.plan_party_import(session.connection(), table)
        applied = plan.ok and apply_
        if applied:
            party_import.apply_party_import(session.connection(), plan, datetime.now(UTC))
    counts = ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in plan.counts().items() if v)
    lines = [f"{file}:{e.row}: {e.message}" for e in plan.errors + plan.warnings]
    word = "applied" if applied else ("dry run, nothing changed (add --apply)" if plan.ok else "refused, nothing changed")
    emit(as_json, {**plan.to_dict(), "applied": applied}, "\n".join([counts or "no rows", *lines, word]))
    sys.exit(0 if plan.ok else 1)


def _instance(conn, instance_id: int) -> None:
    from sqlalchemy import select

    from engine.data.models import ProcessInstance

    if conn.scalar(select(ProcessInstance.id).where(ProcessInstance.id == instance_id)) is None:
        raise NotFoundError(msg("There is no instance %(id)s.", id=instance_id))


def _process(conn, key: str) -> None:
    from sqlalchemy import select

    from engine.data.models import ProcessDefinition

    if conn.scalar(select(ProcessDefinition.id).where(ProcessDefinition.key == key)) is None:
        raise NotFoundError(msg("There is no process %(key)s.", key=key))


def _person(conn, username: str) -> None:
    from sqlalchemy import select

    from engine.data.models import Person

    if conn.scalar(select(Person.id).where(Person.username == username, Person.active.is_(True))) is None:
        raise NotFoundError(msg("There is no active person %(username)s.", username=username))


@external_group.command("link")
@click.option("--instance", "instance_id", type=int, required=True, help="The instance the link opens.")
@click.option("--days", type=click.IntRange(1, MAX_DAYS), default=DEFAULT_DAYS, show_default=True)
@click.option("--label", help="Who it is for (shown to admins and in history).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def link_command(ctx: click.Context, instance_id: int, days: int, label: str | None, as_json: bool) -> None:
    """Issue a link to view and fill INSTANCE's external step; printed once (only its digest is kept).
    Links use LIAISON_BASE_URL."""
    from engine.config import load_settings
    from engine.external import grants

    now = datetime.now(UTC)
    with sessions_for(database_url(ctx))() as session, session.begin():
        _instance(session.connection(), instance_id)
        grant_id, token = grants.issue_link(session.connection(), scopes=["view", "fill", "upload"],
                                            valid_until=now + timedelta(days=days), instance_id=instance_id,
                                            label=label, now=now)
    url = grants.link_url(load_settings().base_url, token)
    until = now + timedelta(days=days)
    emit(as_json, {"grant_id": grant_id, "link": url, "valid_until": until.isoformat()},
         f"link {grant_id} for instance {instance_id}, valid until {until:%Y-%m-%d %H:%M} UTC (shown once):\n{url}")


@external_group.command("code")
@click.option("--process", "process_key", help="A code to submit a new request of this process.")
@click.option("--instance", "instance_id", type=int, help="A code to view and fill this instance.")
@click.option("--party", "party_key", help="Bind the code to this party (its kind and name).")
@click.option("--days", type=click.IntRange(1, MAX_DAYS), default=DEFAULT_DAYS, show_default=True)
@click.option("--label", help="Who it is for (shown to admins and in history).")
@click.option("--as", "--user", "issuer", help="The employee issuing it: a visit asked for with the code has them "
                                                "as its host (required for such a process).")
@click.option("--host", help="The employee being visited, when --as issues the code on their behalf (reception, "
                             "an admin: engine.work.invitations.may_name_host).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def code_command(ctx: click.Context, process_key: str | None, instance_id: int | None, party_key: str | None,
                 days: int, label: str | None, issuer: str | None, host: str | None, as_json: bool) -> None:
    """Issue an invitation code (ABCD-EFGH) for --process KEY or --instance ID; printed once."""
    from engine.external import grants, parties, scope
    from engine.work import invitations

    if (process_key is None) == (instance_id is None):
        raise click.UsageError("give exactly one of --process KEY and --instance ID")
    now = datetime.now(UTC)
    with sessions_for(database_url(ctx))() as session, session.begin():
        conn = session.connection()
        if instance_id is not None:
            _instance(conn, instance_id)
        else:
            _process(conn, process_key)
            if scope.portal_settings(scope.latest_package(conn, process_key)).get("host_field") and not issuer:
                raise click.UsageError(f"{process_key} makes whoever issued the code the host: give --as USERNAME")
        if issuer:
            _person(conn, issuer)
        if host and host != issuer:
            if not issuer or process_key is None:
                raise click.UsageError("--host needs --process KEY and --as USERNAME (who issues it on their behalf)")
            _person(conn, host)
            if not invitations.may_name_host(session, issuer, process_key):
                raise NotPermittedError(msg("You may not issue invitation codes on behalf of somebody else."))
        party = parties.party_by_key(conn, party_key) if party_key else None
        if party_key and party is None:
            raise NotFoundError(msg("There is no party %(key)s.", key=party_key))
        if process_key is not None:  # a process filing requests under a company takes codes for one (the pages' rule)
            invitations.party_of_code(session, process_key, party_key)
        scopes = ["view", "fill", "upload"] if instance_id is not None else ["view", "upload", "submit"]
        grant_id, code = grants.issue_code(conn, scopes=scopes, valid_until=now + timedelta(days=days),
                                           instance_id=instance_id, process_key=process_key,
                                           party_id=party.id if party else None, label=label, created_by=issuer,
                                           host=host, now=now)
    target = f"instance {instance_id}" if instance_id is not None else f"process {process_key}"
    until = now + timedelta(days=days)
    emit(as_json, {"grant_id": grant_id, "code": code, "valid_until": until.isoformat()},
         f"code {grant_id} for {target}, valid until {until:%Y-%m-%d %H:%M} UTC (shown once): {code}")


@external_group.command("revoke")
@click.option("--party", "party_key", help="Revoke a party: its contacts, grants and sessions.")
@click.option("--contact", "email", help="Revoke every contact with this e-mail address.")
@click.option("--grant", "grant_id", type=int, help="Withdraw one link, code or pass.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def revoke_command(ctx: click.Context, party_key: str | None, email: str | None, grant_id: int | None,
                   as_json: bool) -> None:
    """Revoke at once: the party, contact or grant is refused from now on and its portal sessions end."""
    from engine.external import grants, parties

    if sum(x is not None for x in (party_key, email, grant_id)) != 1:
        raise click.UsageError("give exactly one of --party KEY, --contact EMAIL and --grant ID")
    now = datetime.now(UTC)
    with sessions_for(database_url(ctx))() as session, session.begin():
        conn = session.connection()
        if party_key is not None:
            party = parties.party_by_key(conn, party_key)
            if party is None:
                raise NotFoundError(msg("There is no party %(key)s.", key=party_key))
            done = parties.revoke_party(conn, party.id, None, now)
            text = f"revoked party {party.key}: {done.grants} grants withdrawn, {done.sessions} sessions ended"
            payload = {"party": party.key, "grants": done.grants, "sessions": done.sessions}
        elif email is not None:
            contacts = parties.contacts_by_email(conn, email)
            if not contacts:
                raise NotFoundError(msg("No contact has the address %(email)s.", email=email))
            results = [parties.revoke_contact(conn, c.id, None, now) for c in contacts]
            payload = {"contacts": [c.id for c in contacts], "grants": sum(r.grants for r in results),
                       "sessions": sum(r.sessions for r in results)}
            text = (f"revoked {len(contacts)} contact(s) with {email.strip().lower()}: {payload['grants']} grants "
                    f"withdrawn, {payload['sessions']} sessions ended")
        else:
            if not grants.grant_exists(conn, grant_id):
                raise NotFoundError(msg("There is no grant %(id)s.", id=grant_id))
            withdrawn = grants.revoke_grant(conn, grant_id, None, now)
            text = f"withdrew grant {grant_id}" if withdrawn else f"grant {grant_id} was already withdrawn"
            payload = {"grant": grant_id, "withdrawn": withdrawn}
    emit(as_json, payload, text)


COMMANDS = [external_group]

"""The designer's commands: `diff KEY V1 V2` (what changed between two versions) and `migrate KEY --from N
--to M` (move running instances, with `--dry-run` first)."""

from __future__ import annotations

import click

from cli.common import LiaisonCommand, database_url, emit, sessions_for
from engine.errors import InvalidTaskDataError


@click.command("diff", cls=LiaisonCommand)
@click.argument("key")
@click.argument("a", type=int)
@click.argument("b")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def diff_command(ctx: click.Context, key: str, a: int, b: str, as_json: bool) -> None:
    """What changed in process KEY from version A to version B (a number, or `draft`: the designer's
    draft): elements added, removed and changed (with each changed property), layout-only changes and
    package files."""
    from engine.packages.diff import diff_draft, diff_versions

    if b != "draft" and not b.isdigit():
        raise click.BadParameter("a version number or `draft`", param_hint="B")
    with sessions_for(database_url(ctx.find_root()))() as session:
        result = diff_draft(session, key, a, saved_only=True) if b == "draft" else diff_versions(session, key, a, int(b))
    emit(as_json, result, diff_text(result))


def _element(e: dict) -> str:
    return f"{e['id']} ({e['type']}{', ' + e['name'] if e['name'] else ''})"


def diff_text(result: dict) -> str:
    """The diff as lines of text."""
    lines = [f"{result['key']}: version {result['a']} -> {result['b']}"]
    lines += [f"+ {_element(e)}" for e in result["added"]]
    lines += [f"- {_element(e)}" for e in result["removed"]]
    for element in result["changed"]:
        lines.append(f"~ {_element(element)}")
        lines += [f"    {c['property']}: {c['old'] if c['old'] is not None else '-'} -> "
                  f"{c['new'] if c['new'] is not None else '-'}" for c in element["changes"]]
    lines += [f"  renamed? {r['old']} -> {r['new']}" for r in result["renamed"]]
    if result["layout"]:
        lines.append("layout only: " + ", ".join(result["layout"]))
    for file in result["files"]:
        keys = ", ".join(file["summary"].get("keys", []))
        lines.append(f"file {file['status']}: {file['file']}" + (f" ({keys})" if keys else ""))
    if len(lines) == 1:
        lines.append("no differences")
    return "\n".join(lines)


def _mapping(pairs: tuple[str, ...]) -> dict[str, str]:
    mapping = {}
    for pair in pairs:
        old, sep, new = pair.partition("=")
        if not sep or not old.strip() or not new.strip():
            raise InvalidTaskDataError(f"--map takes OLD=NEW (element ids), not `{pair}`")
        mapping[old.strip()] = new.strip()
    return mapping


@click.command("migrate", cls=LiaisonCommand)
@click.argument("key")
@click.option("--from", "from_n", type=int, required=True, help="The version the instances run on.")
@click.option("--to", "to_m", type=int, required=True, help="The version to move them to.")
@click.option("--map", "pairs", multiple=True, help="OLD=NEW: an element renamed in the new version (repeatable).")
@click.option("--instance", "instance_ids", type=int, multiple=True, help="Only this instance (repeatable).")
@click.option("--dry-run", is_flag=True, help="Only say which instances would move and why the others cannot.")
@click.option("--as", "--user", "actor", default=None,
              help="Who migrates (checked: a super admin or one of the process's admins; recorded in the history).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def migrate_command(ctx: click.Context, key: str, from_n: int, to_m: int, pairs: tuple[str, ...],
                    instance_ids: tuple[int, ...], dry_run: bool, actor: str | None, as_json: bool) -> None:
    """Move the running instances of process KEY from one version to another; each moves in a transaction
    of its own, those that cannot move stay where they are (say why with --dry-run)."""
    from engine.packages.migration import migrate_instances, plan_migration

    mapping = _mapping(pairs)
    sessions = sessions_for(database_url(ctx.find_root()))
    if dry_run:
        with sessions() as session:
            plans = plan_migration(session, key, from_n, to_m, mapping, actor=actor)
        if instance_ids:
            plans = [p for p in plans if p.instance_id in set(instance_ids)]
    else:
        plans = migrate_instances(sessions, actor, key, from_n, to_m, mapping, list(instance_ids) or None)
    payload = {"key": key, "from": from_n, "to": to_m, "dry_run": dry_run, "mapping": mapping,
               "instances": [_plan_dict(p) for p in plans]}
    emit(as_json, payload, _plan_text(payload))


def _plan_dict(plan) -> dict:
    return {"instance_id": plan.instance_id, "business_key": plan.business_key, "initiator": plan.initiator,
            "waiting": [w["element_id"] for w in plan.waiting], "movable": plan.movable, "moved": plan.moved,
            "reasons": [str(r) for r in plan.reasons]}


def _plan_text(payload: dict) -> str:
    verb = "would move" if payload["dry_run"] else "moved"
    lines = [f"{payload['key']}: version {payload['from']} -> {payload['to']}"
             + (" (dry run)" if payload["dry_run"] else "")]
    for p in payload["instances"]:
        where = ", ".join(p["waiting"]) or "-"
        done = p["movable"] if payload["dry_run"] else p["moved"]
        lines.append(f"instance {p['instance_id']} at {where}: " + (verb if done else "stays: " + "; ".join(p["reasons"])))
    if not payload["instances"]:
        lines.append(f"no running instances on version {payload['from']}")
    return "\n".join(lines)


COMMANDS = [diff_command, migrate_command]

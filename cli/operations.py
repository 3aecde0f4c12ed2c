"""Approval operations (rules: docs/approvals.md): `task transfer|delegate|return|take-back|jump|add-signer|remove-signer`, `instance urge|cc|withdraw|terminate`."""

from __future__ import annotations

import click

from cli.common import LiaisonGroup, database_url, describe_step, emit, fail, sessions_for
from engine import runtime
from engine.errors import LiaisonError


@click.group("task", cls=LiaisonGroup)
def task_group() -> None:
    """Operations on one task (transfer)."""


@task_group.command("transfer")
@click.argument("task_id")
@click.option("--to", "to", required=True, help="Username of the person who takes the task over.")
@click.option("--as", "--user", "actor", required=True, help="Who transfers it: the assignee or a super admin.")
@click.option("--comment", default=None)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def task_transfer(ctx: click.Context, task_id: str, to: str, actor: str, comment: str | None, as_json: bool) -> None:
    """Give task TASK_ID to another person (转办)."""
    from engine.runtime import operations

    try:
        result = operations.transfer(sessions_for(database_url(ctx.find_root())), task_id, to, actor=actor, comment=comment)
    except LiaisonError as exc:
        fail(exc, as_json)
    emit(as_json, result.to_dict(),
          f"task {task_id}: transferred from {result.from_user or '-'} to {result.to_user}")


@task_group.command("delegate")
@click.argument("task_id")
@click.option("--to", "to", required=True, help="Username of the person who handles it for you.")
@click.option("--as", "--user", "actor", required=True, help="The task's assignee.")
@click.option("--comment", default=None)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def task_delegate(ctx: click.Context, task_id: str, to: str, actor: str, comment: str | None, as_json: bool) -> None:
    """Have someone handle TASK_ID for you (委派); it comes back to you when they submit."""
    try:
        runtime.delegate_task(sessions_for(database_url(ctx.find_root())), task_id, actor, to, comment)
    except LiaisonError as exc:
        fail(exc, as_json)
    emit(as_json, {"task_id": task_id, "delegated_to": to, "delegated_by": actor},
          f"task {task_id}: delegated by {actor} to {to}")


@task_group.command("return")
@click.argument("task_id")
@click.option("--to", "target", default="previous", show_default=True,
              help="previous, initiator (the process's rework node), or the id of a node already passed.")
@click.option("--as", "--user", "actor", required=True, help="The task's holder.")
@click.option("--comment", required=True, help="Why (required).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def task_return(ctx: click.Context, task_id: str, target: str, actor: str, comment: str, as_json: bool) -> None:
    """Send TASK_ID back (退回)."""
    _move(ctx, task_id, actor, "return", target, comment, as_json)


@task_group.command("take-back")
@click.argument("task_id")
@click.option("--as", "--user", "actor", required=True, help="Who completed the node before it.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def task_take_back(ctx: click.Context, task_id: str, actor: str, as_json: bool) -> None:
    """Pull the request back from TASK_ID while nobody acted on it (拿回)."""
    _move(ctx, task_id, actor, "take_back", None, None, as_json)


@task_group.command("jump")
@click.argument("task_id")
@click.option("--to", "target", required=True, help="The id of the node to move the request to.")
@click.option("--as", "--user", "actor", required=True, help="A super admin or one of the process's admins.")
@click.option("--comment", required=True, help="Why (required).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def task_jump(ctx: click.Context, task_id: str, target: str, actor: str, comment: str, as_json: bool) -> None:
    """Move the request waiting at TASK_ID to another node (跳转, administrators)."""
    _move(ctx, task_id, actor, "jump", target, comment, as_json)


def _move(ctx, task_id, actor, kind, target, comment, as_json) -> None:
    try:
        result = runtime.move_task(sessions_for(database_url(ctx.find_root())), task_id, actor, kind, target, comment)
    except LiaisonError as exc:
        fail(exc, as_json)
    emit(as_json, {"instance_id": result.instance_id, "open_tasks": result.open_tasks},
          f"instance {result.instance_id} now waits at: "
          + ", ".join(f"{t['element_id']} ({t['assignee'] or 'unassigned'}) {t['id']}" for t in result.open_tasks))


@task_group.command("add-signer")
@click.argument("task_id")
@click.option("--signer", required=True, help="Username of the person to add.")
@click.option("--place", required=True, type=click.Choice(["before", "after", "alongside"]),
              help="before / after me (sequential nodes), alongside (all, any, vote).")
@click.option("--as", "--user", "actor", required=True, help="The signer whose turn it is.")
@click.option("--comment", default=None)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def task_add_signer(ctx: click.Context, task_id: str, signer: str, place: str, actor: str, comment: str | None,
                    as_json: bool) -> None:
    """Add a signer to approval node TASK_ID (加签)."""
    try:
        runtime.add_signer(sessions_for(database_url(ctx.find_root())), task_id, actor, signer, place, comment)
    except LiaisonError as exc:
        fail(exc, as_json)
    emit(as_json, {"task_id": task_id, "signer": signer, "place": place},
          f"task {task_id}: {signer} added {place} {actor}")


@task_group.command("remove-signer")
@click.argument("task_id")
@click.option("--signer", required=True, help="Username of the undecided signer to take off.")
@click.option("--as", "--user", "actor", required=True, help="Who added them, or a super admin.")
@click.option("--comment", default=None)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def task_remove_signer(ctx: click.Context, task_id: str, signer: str, actor: str, comment: str | None,
                       as_json: bool) -> None:
    """Take an undecided signer off approval node TASK_ID (减签); the node completes if that settles it."""
    try:
        result = runtime.remove_signer(sessions_for(database_url(ctx.find_root())), task_id, actor, signer, comment)
    except LiaisonError as exc:
        fail(exc, as_json)
    settled = result is not None
    emit(as_json, {"task_id": task_id, "signer": signer, "node_completed": settled},
          f"task {task_id}: {signer} removed" + ("; the node is decided" if settled else ""))


@click.group("instance", cls=LiaisonGroup)
def instance_group() -> None:
    """Operations on a running instance: urge, cc, withdraw, terminate."""


@instance_group.command("urge")
@click.argument("instance_id", type=int)
@click.option("--as", "--user", "actor", required=True, help="Who urges: the initiator or a super admin.")
@click.option("--comment", default=None)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def instance_urge(ctx: click.Context, instance_id: int, actor: str, comment: str | None, as_json: bool) -> None:
    """Remind the people instance INSTANCE_ID waits for (催办; once per 10 minutes and person)."""
    from engine.runtime import operations

    try:
        result = operations.urge(sessions_for(database_url(ctx.find_root())), instance_id, actor=actor, comment=comment)
    except LiaisonError as exc:
        fail(exc, as_json)
    lines = [f"instance {instance_id}: urged"]
    lines += [f"  {t['id']}  {t['name']}: {', '.join(t['recipients'] + t['groups']) or '-'}" for t in result.tasks]
    emit(as_json, result.to_dict(), "\n".join(lines))


@instance_group.command("cc")
@click.argument("instance_id", type=int)
@click.option("--to", "to", multiple=True, required=True, help="A username to copy to (repeatable).")
@click.option("--as", "--user", "actor", required=True, help="Who copies: the initiator, a participant or a super admin.")
@click.option("--comment", default=None)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def instance_cc(ctx: click.Context, instance_id: int, to: tuple[str, ...], actor: str, comment: str | None,
                as_json: bool) -> None:
    """Copy instance INSTANCE_ID to people (抄送), each once."""
    from engine.runtime import operations

    try:
        result = operations.cc(sessions_for(database_url(ctx.find_root())), instance_id, to, actor=actor, comment=comment)
    except LiaisonError as exc:
        fail(exc, as_json)
    text = f"instance {instance_id}: copied to {', '.join(result.added) or 'nobody new'}"
    if result.skipped:
        text += f" (already copied before: {', '.join(result.skipped)})"
    emit(as_json, result.to_dict(), text)


@instance_group.command("withdraw")
@click.argument("instance_id", type=int)
@click.option("--as", "--user", "actor", required=True, help="The initiator.")
@click.option("--comment", default=None)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def instance_withdraw(ctx: click.Context, instance_id: int, actor: str, comment: str | None, as_json: bool) -> None:
    """The initiator withdraws running instance INSTANCE_ID (撤回)."""
    from engine.runtime import operations

    try:
        result = operations.withdraw(sessions_for(database_url(ctx.find_root())), instance_id, actor=actor, comment=comment)
    except LiaisonError as exc:
        fail(exc, as_json)
    emit(as_json, vars(result), describe_step(result))


@instance_group.command("terminate")
@click.argument("instance_id", type=int)
@click.option("--as", "--user", "actor", required=True, help="A super admin.")
@click.option("--reason", required=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def instance_terminate(ctx: click.Context, instance_id: int, actor: str, reason: str, as_json: bool) -> None:
    """A super admin ends running instance INSTANCE_ID (终止) with a reason."""
    from engine.runtime import operations

    try:
        result = operations.terminate(sessions_for(database_url(ctx.find_root())), instance_id, actor=actor, reason=reason)
    except LiaisonError as exc:
        fail(exc, as_json)
    emit(as_json, vars(result), describe_step(result))

COMMANDS = [task_group, instance_group]

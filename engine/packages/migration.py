"""Migration of a package's running instances from version N to version M (issue 14, item 5): who may,
the dry run and the run over the instances (each instance moves in a transaction of its own:
`engine.runtime.migration`)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine.data.models import ProcessDefinition, ProcessVersion
from engine.errors import InvalidTaskDataError, NotFoundError, TaskConflictError, msg
from engine.packages import designer_access
from engine.runtime import migration as runtime_migration
from engine.runtime.migration import InstancePlan, VersionRef


def plan_migration(session: Session, key: str, from_n: int, to_m: int, mapping: dict[str, str] | None = None,
                   actor: str | None = None) -> list[InstancePlan]:
    """The dry run: for each running instance of version `from_n`, whether it can move to `to_m` (with the
    `{old id: new id}` mapping for renamed elements) and why not; with `actor`, checks they may migrate."""
    if actor is not None:
        designer_access.require(session, actor, key, "migrate")
    source, target = _versions(session, key, from_n, to_m)
    conn = session.connection()
    return [runtime_migration.plan_instance(conn, instance_id, source, target, dict(mapping or {}))
            for instance_id in runtime_migration.running_instance_ids(conn, source.id)]


def migrate_instances(sessions: sessionmaker[Session], actor: str | None, key: str, from_n: int, to_m: int,
                      mapping: dict[str, str] | None = None, instance_ids: list[int] | None = None) -> list[InstancePlan]:
    """Move the running instances of version `from_n` (or only `instance_ids` among them) to `to_m`, one
    transaction each; those that cannot move stay untouched. Returns each instance's plan (`moved`).
    `actor` None: the command line's operator, who holds the database itself (no one is checked)."""
    with sessions() as session:
        if actor is not None:
            designer_access.require(session, actor, key, "migrate")
        source, target = _versions(session, key, from_n, to_m)
        ids = runtime_migration.running_instance_ids(session.connection(), source.id)
    if instance_ids is not None:
        wanted = set(instance_ids)
        ids = [i for i in ids if i in wanted]
    return [_migrate_one(sessions, instance_id, source, target, dict(mapping or {}), actor) for instance_id in ids]


def _migrate_one(sessions, instance_id: int, source: VersionRef, target: VersionRef, mapping: dict,
                 actor: str | None) -> InstancePlan:
    """One instance; one that finished or kept changing meanwhile stays, with the reason, and the others go on."""
    try:
        return runtime_migration.migrate_instance(sessions, instance_id, source, target, mapping, actor)
    except TaskConflictError as exc:
        return InstancePlan(instance_id, None, None, reasons=[exc.args[0] if exc.args else msg("it changed meanwhile")])


def _versions(session: Session, key: str, from_n: int, to_m: int) -> tuple[VersionRef, VersionRef]:
    if from_n == to_m:
        raise InvalidTaskDataError(msg("choose two different versions"))
    numbers = [n for n in (from_n, to_m) if 0 < n < 2**31]  # past the column's range: none such
    rows = {number: VersionRef(vid, number, checksum) for vid, number, checksum in session.execute(
        select(ProcessVersion.id, ProcessVersion.number, ProcessVersion.checksum).join(ProcessDefinition)
        .where(ProcessDefinition.key == key, ProcessVersion.number.in_(numbers)))}
    for number in (from_n, to_m):
        if number not in rows or not 0 < number < 2**31:
            raise NotFoundError(msg("process %(key)s has no version %(version)s", key=key, version=number))
    return rows[from_n], rows[to_m]

"""Simulating a draft (issue 15): step through it with the real engine in a throwaway sandbox database.

`begin` makes a sandbox — a SQLite file under the system temp dir keyed by a random id — deploys the
draft there and copies the directory (departments, positions, people without their passwords, roles,
memberships, the work calendar) from the main database, so approver rules resolve as in production.
Then `start`, `act` (complete a task as someone, with approve / reject / complete), `fire_timer` and
`send_message` run the engine in the sandbox; each step is appended to the session's log, which
`engine.packages.simulation_scenario` turns into a scenario test. `end` removes the sandbox; `sweep`
removes sandboxes older than `MAX_AGE`.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import tempfile
import time
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path, PurePosixPath

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import runtime
from engine.data import db
from engine.data.models import (
    CalendarDay,
    Department,
    MessageSubscription,
    Person,
    PersonRole,
    Position,
    Role,
    Timer,
    WorkTask,
)
from engine.errors import InvalidPackageError, InvalidTaskDataError, NotFoundError, NotPermittedError, msg
from engine.packages import designer_access as access
from engine.packages.deployment import deploy
from engine.packages.draft_checks import editor_context, has_errors, load_draft
from engine.packages.drafts import current_draft
from engine.runtime import messages, timers
from engine.work import queries

ROOT = Path(tempfile.gettempdir()) / "liaison-simulations"
MAX_AGE = timedelta(hours=6)
ACTIONS = ("complete", "approve", "reject")
_ID = re.compile(r"^[0-9a-f]{32}$")
# the directory copied into a sandbox, parents before children; `person` without its secrets
_DIRECTORY = (Department, Position, Person, Role, PersonRole, CalendarDay)
_SECRET_COLUMNS = {"password_hash", "failed_logins", "locked_until", "password_changed_at", "last_sign_in_at"}


def begin(session: Session, username: str, key: str) -> str:
    """A new sandbox with the draft of `key` deployed and the directory copied; returns its id.
    InvalidPackageError when the draft has errors; the draft's `edit` permission is needed."""
    access.require(session, username, key, "edit")
    draft = current_draft(session, key)
    package, problems = load_draft(session, draft)
    if package is None or has_errors(problems):
        raise InvalidPackageError(problems)
    sweep()
    sim_id = secrets.token_hex(16)
    folder = ROOT / sim_id
    folder.mkdir(parents=True)
    try:
        url = _url(sim_id)
        db.upgrade(url)
        with _sandbox(sim_id) as sessions:
            _copy_directory(session, sessions)
            with sessions() as sandbox, sandbox.begin():
                deploy(sandbox, package, username, notes="simulation")
        context = {lang: editor_context(session, draft, lang) for lang in ("zh", "en")}
        _write_meta(sim_id, {"key": key, "owner": username, "revision": draft.revision, "created": time.time(),
                             "instance_id": None, "log": [],
                             "forms": {lang: c["forms"] for lang, c in context.items()},
                             "access": _form_access(draft.files),
                             "start_fields": {lang: c["start_fields"] for lang, c in context.items()}})
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return sim_id


def start(sim_id: str, username: str, initiator: str, data: dict | None, business_key: str | None = None,
          lang: str = "en") -> dict:
    """Start the sandbox's process as `initiator` with start-form `data` (once per session); a refused form
    (FormInvalidError) lists its fields' messages in `lang`."""
    meta = _meta(sim_id, username)
    if meta["instance_id"] is not None:
        raise InvalidTaskDataError(msg("the simulation has already started"))
    data = dict(data or {})
    with _sandbox(sim_id) as sessions:
        _require_person(sessions, initiator)
        result = runtime.start_instance(sessions, meta["key"], data, initiator, business_key or None, lang)
    meta["instance_id"] = result.instance_id
    meta["log"].append({"kind": "start", "user": initiator, "data": data, "business_key": business_key or None})
    _write_meta(sim_id, meta)
    return meta


def act(sim_id: str, username: str, task_id: str, user: str, action: str, data: dict | None,
        comment: str | None = None, lang: str = "en") -> dict:
    """Complete the open task `task_id` as `user`: `approve` / `reject` set `approved`, `complete` sends
    `data` as it is. The person's roles are their groups, as when they sign in."""
    meta = _started(sim_id, username)
    if action not in ACTIONS:
        raise InvalidTaskDataError(msg("unknown action %(action)s", action=action))
    data = dict(data or {})
    if action != "complete":
        data["approved"] = action == "approve"
    with _sandbox(sim_id) as sessions:
        groups = _require_person(sessions, user)
        with sessions() as sandbox:
            task = sandbox.get(WorkTask, task_id)
            if task is None or task.instance_id != meta["instance_id"]:
                raise NotFoundError(msg("no task %(task)s", task=task_id))
            element = task.element_id
        runtime.complete_task(sessions, task_id, user, data, tuple(groups), comment or None, lang)
    meta["log"].append({"kind": "task", "task": element, "user": user, "groups": groups, "data": data,
                        "action": action, **({"comment": comment} if comment else {})})
    _write_meta(sim_id, meta)
    return meta


def fire_timer(sim_id: str, username: str, timer_id: int) -> dict:
    """Fire a pending timer of the simulated instance now, whatever its due time."""
    meta = _started(sim_id, username)
    with _sandbox(sim_id) as sessions:
        with sessions() as sandbox:
            timer = sandbox.get(Timer, int(timer_id))
            if timer is None or timer.instance_id != meta["instance_id"] or timer.status != "pending":
                raise NotFoundError(msg("no waiting timer %(timer)s", timer=timer_id))
            element = timer.element_id
        outcome = timers.fire(sessions, int(timer_id))
    if outcome != "fired":
        raise InvalidTaskDataError(msg("the timer did not fire (%(outcome)s)", outcome=outcome))
    meta["log"].append({"kind": "timer", "element_id": element})
    _write_meta(sim_id, meta)
    return meta


def send_message(sim_id: str, username: str, name: str, correlation_key: str | None, payload: dict | None) -> dict:
    """Send message `name` (with its correlation key and payload) into the sandbox."""
    meta = _started(sim_id, username)
    with _sandbox(sim_id) as sessions:
        messages.send_message(sessions, name, correlation_key or None, dict(payload or {}), username)
    meta["log"].append({"kind": "message", "name": name, "key": correlation_key or None,
                        "payload": dict(payload or {})})
    _write_meta(sim_id, meta)
    return meta


def state(sim_id: str, username: str, lang: str = "en") -> dict:
    """Where the simulation stands: the log (with `names`: display names of its people), the start form's
    fields and, once started, the instance
    (status, data, history), its open tasks with who may act and their form's fields, the pending
    timers and message subscriptions, and `tokens`: the element ids where the process waits."""
    meta = _meta(sim_id, username)
    body = {"id": sim_id, "key": meta["key"], "log": meta["log"], "started": meta["instance_id"] is not None,
            "start_fields": meta["start_fields"].get(lang, [])}
    with _sandbox(sim_id) as sessions, sessions() as sandbox:
        names = _names(sandbox, lang)
        body["names"] = {e["user"]: names.get(e["user"], e["user"]) for e in meta["log"] if e.get("user")}
        if meta["instance_id"] is None:
            return body
        forms = meta["forms"].get(lang, {})
        view = queries.instance_view(sandbox, meta["instance_id"], lang)
        path = queries.path_taken(sandbox, meta["instance_id"])
        open_rows = {t.id: t for t in sandbox.scalars(select(WorkTask).where(
            WorkTask.instance_id == meta["instance_id"], WorkTask.status == "open"))}
        tasks = [{"id": t["id"], "element_id": t["element_id"], "name": t["name"],
                  "fields": _node_fields(meta, forms, open_rows[t["id"]]),
                  "people": _may_act(sandbox, open_rows[t["id"]], names)}
                 for t in view["tasks"] if t["id"] in open_rows]
        waiting_timers = [{"id": r.id, "element_id": r.element_id, "kind": r.kind}
                          for r in sandbox.scalars(select(Timer).where(
                              Timer.instance_id == meta["instance_id"], Timer.status == "pending",
                              Timer.kind.in_(("event", "timeout"))).order_by(Timer.id))]
        subscriptions = [{"name": r.message_name, "key": r.correlation_key, "element_id": r.element_id}
                    for r in sandbox.scalars(select(MessageSubscription).where(
                        MessageSubscription.instance_id == meta["instance_id"]).order_by(MessageSubscription.id))]
    tokens = sorted({t["element_id"] for t in tasks} | {t["element_id"] for t in waiting_timers if t["element_id"]}
                    | {m["element_id"] for m in subscriptions if m["element_id"]})
    return {**body, "status": view["status"], "end_event": view["end_event"], "data": view["data"],
            "history": view["history"], "path": path, "tasks": tasks, "timers": waiting_timers,
            "messages": subscriptions, "tokens": tokens}


def outcome(sim_id: str, username: str) -> dict:
    """The log and the instance's end state (status, end event, path, data, open tasks) for a scenario."""
    meta = _started(sim_id, username)
    with _sandbox(sim_id) as sessions, sessions() as sandbox:
        view = queries.instance_view(sandbox, meta["instance_id"])
        path = queries.path_taken(sandbox, meta["instance_id"])
        assignees = sorted({t.assignee for t in sandbox.scalars(select(WorkTask).where(
            WorkTask.instance_id == meta["instance_id"])) if t.assignee})
    return {"key": meta["key"], "log": meta["log"], "status": view["status"], "end_event": view["end_event"],
            "path": path, "data": view["data"], "assignees": assignees,
            "open_tasks": sorted(t["element_id"] for t in view["tasks"] if t["status"] == "open")}


def key_of(sim_id: str, username: str) -> str:
    """The process key the simulation `sim_id` runs (NotFoundError / NotPermittedError as for its steps)."""
    return _meta(sim_id, username)["key"]


def revision_of(sim_id: str, username: str) -> int:
    """The draft revision the simulation was begun on."""
    return int(_meta(sim_id, username)["revision"])


def end(sim_id: str, username: str) -> None:
    """Remove the sandbox."""
    _meta(sim_id, username)
    shutil.rmtree(ROOT / sim_id, ignore_errors=True)


def sweep(max_age: timedelta = MAX_AGE) -> int:
    """Remove sandboxes older than `max_age`; returns how many."""
    removed = 0
    cutoff = time.time() - max_age.total_seconds()
    for folder in ROOT.glob("*") if ROOT.is_dir() else ():
        if _ID.match(folder.name) and folder.stat().st_mtime < cutoff:
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed


def exists(sim_id: str) -> bool:
    """Whether the sandbox `sim_id` is still there."""
    return bool(_ID.match(str(sim_id))) and (ROOT / sim_id / "meta.json").is_file()


# -- the sandbox -----------------------------------------------------------------------------


def _url(sim_id: str) -> str:
    return f"sqlite:///{ROOT / sim_id / 'sandbox.db'}"


@contextmanager
def _sandbox(sim_id: str):
    engine = db.make_engine(_url(sim_id))
    try:
        yield db.make_session_factory(engine)
    finally:
        engine.dispose()


def _meta(sim_id: str, username: str) -> dict:
    if not exists(sim_id):
        raise NotFoundError(msg("the simulation has ended; start a new one"))
    meta = json.loads((ROOT / sim_id / "meta.json").read_text(encoding="utf-8"))
    if meta["owner"] != username:
        raise NotPermittedError(msg("this simulation is someone else's"))
    return meta


def _started(sim_id: str, username: str) -> dict:
    meta = _meta(sim_id, username)
    if meta["instance_id"] is None:
        raise InvalidTaskDataError(msg("start the simulation first"))
    return meta


def _write_meta(sim_id: str, meta: dict) -> None:
    target = ROOT / sim_id / "meta.json"
    temporary = target.with_suffix(".tmp")
    temporary.write_text(json.dumps(meta, ensure_ascii=False, default=str), encoding="utf-8")
    temporary.replace(target)


def _copy_directory(session: Session, sessions) -> None:
    """Copy the org chart rows into the sandbox (foreign keys checked at commit, so order is free)."""
    with sessions.kw["bind"].begin() as conn:
        conn.exec_driver_sql("PRAGMA defer_foreign_keys=ON")
        for model in _DIRECTORY:
            table = model.__table__
            columns = [c for c in table.columns if c.name not in _SECRET_COLUMNS]
            rows = [dict(row._mapping) for row in session.execute(select(*columns))]
            if rows:
                conn.execute(table.insert(), rows)


def _require_person(sessions, username: str) -> list[str]:
    """The person's role keys (their groups); NotFoundError when the directory has nobody so named."""
    with sessions() as sandbox:
        person = sandbox.scalar(select(Person).where(Person.username == str(username or "")))
        if person is None:
            raise NotFoundError(msg("nobody is called %(user)s", user=username))
        return list(sandbox.scalars(select(Role.key).join(PersonRole, PersonRole.role_id == Role.id)
                                    .where(PersonRole.person_id == person.id).order_by(Role.key)))


def _form_access(files: dict[str, str]) -> dict[str, dict]:
    """Each form's `access` block (node -> editable / hidden field names), as the draft's files have it."""
    found = {}
    for path, text in files.items():
        if path.startswith("forms/") and path.endswith((".yaml", ".yml", ".json")):
            try:
                schema = yaml.safe_load(text)
            except yaml.YAMLError:
                continue
            access_rules = schema.get("access") if isinstance(schema, dict) else None
            if isinstance(access_rules, dict):
                found[PurePosixPath(path).stem] = access_rules
    return found


def _node_fields(meta: dict, forms: dict, task: WorkTask) -> list[dict]:
    """The task's form fields the node may edit (all of them when the form sets no access for it)."""
    fields = forms.get(task.form or "", [])
    rule = (meta.get("access") or {}).get(task.form or "", {}).get(task.element_id)
    if not isinstance(rule, dict):
        return fields
    editable, hidden = rule.get("editable"), set(rule.get("hidden") or ())
    return [f for f in fields if f["name"] not in hidden and (editable is None or f["name"] in editable)]


def _names(session: Session, lang: str) -> dict[str, str]:
    return {p.username: (p.name_en if lang == "en" and p.name_en else p.name)
            for p in session.scalars(select(Person).where(Person.active.is_(True)))}


def _may_act(session: Session, task: WorkTask, names: dict[str, str]) -> list[dict]:
    """Who may act on an open task: its assignee alone, or its candidate users and the members of its
    candidate groups (display names)."""
    if task.assignee:
        users = [task.assignee]
    else:
        users = list(task.candidate_users or [])
        if task.candidate_groups:
            users += session.scalars(select(Person.username).join(PersonRole, PersonRole.person_id == Person.id)
                                     .join(Role, Role.id == PersonRole.role_id)
                                     .where(Role.key.in_(list(task.candidate_groups)))
                                     .order_by(Person.sort_key, Person.username))
    seen = dict.fromkeys(u for u in users if u)
    return [{"username": u, "name": names.get(u, u)} for u in seen]

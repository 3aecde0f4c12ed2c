"""Who will approve, before the request is submitted (DingTalk's 审批流程 on the start form).

`approval_chain(session, key, username, data)` walks the latest version of process `key` from its
start event with the start form's `data` (`engine.bpmn.paths`: gateways decided where their
conditions can be evaluated now, a branch that cannot be decided yet said so) and resolves each
user task met with the SAME function the runtime uses when it creates the task
(`runtime.new_tasks.resolve_node`: the node's `liaison:approvers` rule with its empty and
self-approval options), or, for a node without a rule, its `assignee` / `candidateUsers` /
`candidateGroups` as the runtime reads them. Nothing is written. Scripts and service tasks on the
way are not run, so a condition over what a script would compute reads as undecided.

`initiator_defaults(session, username)` gives the start form's `default_from: initiator.*` values
(the person's username, manager, department).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.bpmn import paths, sandbox
from engine.data import store
from engine.data.models import Department, Person, Role
from engine.errors import LiaisonError, NotFoundError
from engine.people import directory
from engine.results import element_label, element_names
from engine.runtime.external_tasks import external_kind
from engine.runtime.new_tasks import resolve_node, signers_of
from engine.runtime.versions import version_package, version_specs


@dataclass
class ChainStep:
    """One upcoming approval node and the people it resolves to now."""

    element_id: str
    name: str | None
    people: list[dict] = field(default_factory=list)  # [{"username", "label"}] in order
    groups: list[dict] = field(default_factory=list)  # [{"key", "label"}] roles offered the task
    mode: str | None = None  # sequential | all | any | vote (approvals.MODES), None: one person
    conditional: dict | None = None  # {"id", "name"} of the undecided gateway this step lies behind
    skipped: bool = False  # the rule says skip for this data (nobody, or only the initiator)
    problem: str | None = None  # the step would fail: nobody to give it to
    external: str | None = None  # supplier | customer | visitor: an outsider does it in the portal


@dataclass
class Chain:
    steps: list[ChainStep] = field(default_factory=list)
    undecided: list[dict] = field(default_factory=list)  # [{"id", "name"}] gateways the walk stopped at
    opaque: list[dict] = field(default_factory=list)  # [{"id", "name"}] subprocesses not looked into

    def to_dict(self) -> dict:
        return {"steps": [vars(step) for step in self.steps], "undecided": self.undecided, "opaque": self.opaque}


def approval_chain(session: Session, key: str, username: str | None, data: dict, lang: str = "zh") -> Chain:
    """The approval nodes an instance of `key` started by `username` with `data` would reach, in order,
    with their people by display name in `lang`. NotFoundError when `key` is not deployed."""
    version = store.latest_version(session, key)
    if version is None:
        raise NotFoundError(f"no process `{key}` is deployed")
    spec, _subspecs = version_specs(session, *version)
    return approval_chain_for(session, spec, version_package(session, *version), username, data, lang)


def approval_chain_for(session: Session, spec, package: dict, username: str | None, data: dict,
                       lang: str = "zh") -> Chain:
    """`approval_chain` on any parsed process `spec` with its stored-style `package` (`{"meta", ...}`):
    the deployed version's, or a designer draft's (the chain editor's preview)."""
    meta = package.get("meta") or {}
    names = element_names(package)
    walk = paths.upcoming_user_tasks(spec, data, sandbox.evaluate)
    chain = Chain(undecided=[_named(entry, names, lang) for entry in walk.undecided],
                  opaque=[_named(entry, names, lang) for entry in walk.opaque])
    for task in walk.tasks:
        step = ChainStep(task.element_id, element_label(names, task.element_id, lang, task.name),
                         mode=task.attributes.get("mode"),
                         conditional=_named(task.conditional, names, lang) if task.conditional else None)
        step.external = external_kind(task.attributes)
        if step.external:  # offered to ext:KIND when it is reached: nobody of the org chart
            chain.steps.append(step)
            continue
        try:
            users, groups = _people(session, task, username, data, meta, step)
        except LiaisonError as exc:
            step.problem = str(exc)
            users, groups = [], []
        except Exception as exc:  # noqa: BLE001 - an expression over data not complete yet
            step.problem = f"cannot be worked out yet: {exc}"
            users, groups = [], []
        step.people = _labels(session, users, lang)
        step.groups = _role_labels(session, groups, lang)
        chain.steps.append(step)
    return chain


def _named(entry: dict, names: dict, lang: str) -> dict:
    """An `{"id", "name"}` entry (a gateway, a subprocess) with the package's name for it in `lang`."""
    return {**entry, "name": element_label(names, entry.get("id"), lang, entry.get("name"))}


def _people(session, task: paths.Upcoming, username, data, meta, step: ChainStep) -> tuple[list[str], list[str]]:
    resolution = resolve_node(session, task.attributes, initiator=username, data=data, meta=meta,
                              element_id=task.element_id)
    plain = paths.plain_people(task.attributes, data, sandbox.evaluate) if resolution is None else None
    if resolution is not None and resolution.skipped:
        step.skipped = True
        return [], []
    if step.mode:
        return signers_of(session, resolution, plain["candidate_users"] if plain else []), []
    if resolution is not None:
        return resolution.users, resolution.groups
    users = [plain["assignee"]] if plain["assignee"] else plain["candidate_users"]
    return users, plain["candidate_groups"]


def _labels(session, usernames: list[str], lang: str) -> list[dict]:
    hits = {hit.username: hit for hit in directory.display_people(session, usernames)}
    return [{"username": name, "label": hits[name].label(lang) if name in hits else name,
             "department": hits[name].department_label(lang) if name in hits else ""} for name in usernames]


def _role_labels(session, keys: list[str], lang: str) -> list[dict]:
    if not keys:
        return []
    names = {row.key: (row.name_en if lang == "en" and row.name_en else row.name)
             for row in session.execute(select(Role.key, Role.name, Role.name_en).where(Role.key.in_(keys)))}
    return [{"key": key, "label": names.get(key) or key} for key in keys]


def initiator_defaults(session: Session, username: str | None) -> dict:
    """`{"username", "manager", "department"}` of the person (None where they have none): what a start
    form's `default_from: initiator.manager` (etc.) reads."""
    if not username:
        return {}
    person = session.scalar(select(Person).where(Person.username == username))
    if person is None:
        return {"username": username, "manager": None, "department": None}
    manager = session.get(Person, person.manager_id) if person.manager_id else None
    department = session.get(Department, person.department_id) if person.department_id else None
    return {"username": username,
            "manager": manager.username if manager is not None and manager.active else None,
            "department": department.code if department is not None else None}

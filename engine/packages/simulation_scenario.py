"""A simulation session as a scenario test (`engine.packages.scenarios` format), saved into the draft.

The start and each completed task become the scenario's `start` and `steps` (with the person's
groups, so candidate-group tasks pass in the runner's directory, which has people but no roles);
`expect` is what the sandbox reached: status, end event, path, the final values of the fields the
session entered, the tasks still open. Timers fired and messages sent have no step in the runner's
format: a session with them is refused (`UnsavableSimulationError`) rather than saved as a test that
cannot pass.
"""

from __future__ import annotations

import re

import yaml
from sqlalchemy.orm import Session

from engine.data.models import PackageDraft
from engine.errors import InvalidTaskDataError, msg
from engine.packages import simulation
from engine.packages.drafts import current_draft, save_draft

_NAME = re.compile(r"^[A-Za-z0-9_\-]{1,60}$")


class UnsavableSimulationError(InvalidTaskDataError):
    """The session holds steps a scenario test cannot replay (timers, messages) or none at all."""


def as_scenario(outcome: dict, title: str) -> dict:
    """The scenario (a dict in the runner's format) that replays a simulation's `outcome`
    (`simulation.outcome`)."""
    log = outcome["log"]
    kinds = {entry["kind"] for entry in log}
    if kinds & {"timer", "message"}:
        raise UnsavableSimulationError(msg("a session that fired timers or sent messages cannot be saved as a "
                                           "test yet: scenario tests only complete tasks"))
    first = log[0]
    start = {"user": first["user"], "data": first["data"]}
    if first.get("business_key"):
        start["business_key"] = first["business_key"]
    steps, entered, people = [], set(first["data"]), set(outcome.get("assignees") or ())
    for entry in log[1:]:
        step = {"task": entry["task"], "user": entry["user"]}
        if entry.get("groups"):
            step["groups"] = list(entry["groups"])
        if entry.get("data"):
            step["data"] = entry["data"]
        if entry.get("comment"):
            step["comment"] = entry["comment"]
        steps.append(step)
        entered |= set(entry.get("data") or {})
    people -= {first["user"], *(s["user"] for s in steps)}
    expect = {"status": outcome["status"]}
    if outcome.get("end_event"):
        expect["end_event"] = outcome["end_event"]
    expect["path"] = list(outcome["path"])
    expect["data"] = {name: outcome["data"][name] for name in sorted(entered) if name in outcome["data"]}
    expect["open_tasks"] = list(outcome["open_tasks"])
    scenario = {"name": title, "start": start, "steps": steps, "expect": expect}
    if people:
        scenario["people"] = sorted(people)
    return scenario


def scenario_yaml(scenario: dict) -> str:
    """The scenario as the YAML text of a `tests/*.yaml` file."""
    return yaml.safe_dump(scenario, allow_unicode=True, sort_keys=False, default_flow_style=False)


def save_as_test(session: Session, username: str, key: str, revision: int, sim_id: str, name: str,
                 title: str | None = None) -> tuple[PackageDraft, str]:
    """Save the simulation as the draft's `tests/NAME.yaml` (a new draft revision; DraftConflictError
    when `revision` is not the draft's); returns the draft and the file's path."""
    name = str(name or "").strip()
    if not _NAME.match(name):
        raise InvalidTaskDataError(msg("a test's name is letters, digits, _ and - (at most 60)"))
    outcome = simulation.outcome(sim_id, username)
    if outcome["key"] != key:
        raise InvalidTaskDataError(msg("this simulation is of another process"))
    text = scenario_yaml(as_scenario(outcome, str(title or name).strip() or name))
    draft = current_draft(session, key)
    path = f"tests/{name}.yaml"
    draft = save_draft(session, username, key, revision, {**draft.files, path: text})
    return draft, path

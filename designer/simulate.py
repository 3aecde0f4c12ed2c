"""Step through the draft with the real engine in a sandbox database; save the session as a scenario test (issue 15).

Page: `/designer/KEY/simulate` (browser code `designer/static/simulate/*.js`). JSON, every answer the
session's state (`engine.packages.simulation.state`) in the user's language:
`POST /designer/KEY/simulate/sessions` (a new sandbox), `GET .../simulate/SIM`, `POST .../SIM/start`
`{initiator, data}`, `POST .../SIM/act` `{task, user, action, data}`, `POST .../SIM/timer` `{timer}`,
`POST .../SIM/message` `{name, key, payload}`, `POST .../SIM/save` `{name, revision}` (the draft's
`tests/NAME.yaml`), `DELETE .../SIM` (the sandbox removed).
"""

from __future__ import annotations

from flask import jsonify, render_template, request
from flask_babel import gettext as _
from flask_login import current_user

from designer import bp
from designer.editor import _json_refusals, _lang, _sessions
from engine.errors import InvalidTaskDataError, NotFoundError, msg
from engine.packages import designer_access, drafts, simulation, simulation_scenario


@bp.get("/<key>/simulate")
def simulate(key: str):
    """The simulation page: choose the initiator and start data, then step through the draft."""
    with _sessions() as session, session.begin():
        draft = drafts.open_draft(session, current_user.username, key)
        name = draft.name.get(_lang()) or draft.name.get("zh") or key
    return render_template("designer/simulate.html", key=key, name=name, lang=_lang(), labels=_labels())


@bp.post("/<key>/simulate/sessions")
@_json_refusals
def begin_simulation(key: str):
    """A new sandbox with the draft deployed (422 with the problems when the draft has errors)."""
    with _sessions() as session, session.begin():
        sim = simulation.begin(session, current_user.username, key)
        revision = drafts.get_draft(session, key).revision
    return jsonify({**simulation.state(sim, current_user.username, _lang()), "revision": revision})


@bp.get("/<key>/simulate/<sim>")
@_json_refusals
def simulation_state(key: str, sim: str):
    """Where the simulation stands."""
    return jsonify(simulation.state(_own(key, sim), current_user.username, _lang()))


@bp.post("/<key>/simulate/<sim>/start")
@_json_refusals
def start_simulation(key: str, sim: str):
    """Start the process as the chosen initiator with the start form's data."""
    body = _body()
    simulation.start(_own(key, sim), current_user.username, str(body.get("initiator") or ""), _dict(body, "data"),
                     str(body.get("business_key") or "") or None, _lang())
    return _state(sim)


@bp.post("/<key>/simulate/<sim>/act")
@_json_refusals
def act_in_simulation(key: str, sim: str):
    """Complete an open task as the chosen person with an action and the task's form data."""
    body = _body()
    simulation.act(_own(key, sim), current_user.username, str(body.get("task") or ""), str(body.get("user") or ""),
                   str(body.get("action") or "complete"), _dict(body, "data"), str(body.get("comment") or "") or None,
                   _lang())
    return _state(sim)


@bp.post("/<key>/simulate/<sim>/timer")
@_json_refusals
def fire_simulated_timer(key: str, sim: str):
    """Fire a waiting timer now."""
    body = _body()
    try:
        timer = int(body.get("timer"))
    except (TypeError, ValueError):
        raise InvalidTaskDataError(msg("no waiting timer %(timer)s", timer=body.get("timer"))) from None
    simulation.fire_timer(_own(key, sim), current_user.username, timer)
    return _state(sim)


@bp.post("/<key>/simulate/<sim>/message")
@_json_refusals
def send_simulated_message(key: str, sim: str):
    """Send a message by name (and correlation key) into the sandbox."""
    body = _body()
    simulation.send_message(_own(key, sim), current_user.username, str(body.get("name") or ""),
                            str(body.get("key") or "") or None, _dict(body, "payload"))
    return _state(sim)


@bp.post("/<key>/simulate/<sim>/save")
@_json_refusals
def save_simulation(key: str, sim: str):
    """Save the session as the draft's scenario test `tests/NAME.yaml` (409 when the draft changed)."""
    body = _body()
    revision = body.get("revision")
    if not isinstance(revision, int):
        revision = simulation.revision_of(_own(key, sim), current_user.username)
    with _sessions() as session, session.begin():
        draft, path = simulation_scenario.save_as_test(session, current_user.username, key, revision, _own(key, sim),
                                                       str(body.get("name") or ""), str(body.get("title") or ""))
        new_revision = draft.revision
    return jsonify(path=path, revision=new_revision, message=_("Saved as the test %(path)s.", path=path))


@bp.delete("/<key>/simulate/<sim>")
@_json_refusals
def end_simulation(key: str, sim: str):
    """Remove the sandbox."""
    simulation.end(_own(key, sim), current_user.username)
    return jsonify(ended=True)


def _own(key: str, sim: str) -> str:
    """`sim` when it is the user's simulation of `key` (the edit permission still held)."""
    with _sessions() as session:
        designer_access.require(session, current_user.username, key, "edit")
    if simulation.key_of(sim, current_user.username) != key:
        raise NotFoundError(msg("the simulation has ended; start a new one"))
    return sim


def _state(sim: str):
    return jsonify(simulation.state(sim, current_user.username, _lang()))


def _body() -> dict:
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else {}


def _dict(body: dict, name: str) -> dict:
    value = body.get(name)
    return value if isinstance(value, dict) else {}


def _labels() -> dict:
    """The page script's texts in the user's language."""
    return {
        "loading": _("Loading…"), "failed": _("The request failed: %(reason)s"),
        "begin": _("New simulation"), "started": _("Started by"), "step": _("Run this step"), "action": _("Action"),
        "noTasks": _("No task is waiting."), "mayAct": _("Who may act"),
        "complete": _("Complete (send the data as typed)"), "approve": _("Approve (approved = true)"),
        "reject": _("Reject (approved = false)"), "fire": _("Fire now"), "send": _("Send the message"),
        "saved": _("Saved"), "nobody": _("Choose a person first."),
        "status": {"running": _("Still running"), "completed": _("Completed"), "cancelled": _("Cancelled")},
        "ended": _("The simulation has ended."), "diagramFailed": _("The diagram could not be shown."),
    }

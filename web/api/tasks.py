"""Tasks over the API: lists by scope with each task's form, one task, completing it, and every approval
operation on it (claim, unclaim, transfer, delegate, return, take-back, add-signer, remove-signer), each
through the engine function the task page and `liaison task ...` call."""

from __future__ import annotations

from flask_babel import gettext as _

from engine import runtime
from engine.errors import InvalidTaskDataError, LiaisonError, msg
from engine.runtime import operations
from engine.runtime.outcome import DECISION_KEY
from engine.work import api_reads, inbox

from ..i18n import current_language
from . import schemas as s
from .core import ApiError, decode_cursor, encode_cursor, endpoint, identity, sessions, viewer
from .instances import step_payload

ACTIONS = {"approve": True, "reject": False}


@endpoint("GET", "/tasks", scope="read", query=s.TaskQuery, response=s.page_schema(s.Loose, "TaskPage"),
          tags=["tasks"], links=s.TASK_LIST_LINKS)
def list_tasks(args: dict):
    """The token person's tasks: `mine` (to do: assigned, or offered and unclaimed), `pool` (offered only),
    `done` (completed by them, or transferred by them: `transferred_to`), `cc` (requests copied to them); open
    tasks carry their form schema."""
    user, lang, limit = identity().user, current_language(), args["limit"]
    offset = decode_cursor(args["cursor"])
    page = offset // limit + 1
    if offset % limit:
        raise ApiError(400, "bad_cursor", _("Use the cursor with the limit it was made for."))
    with sessions()() as session:
        if args["scope"] in ("mine", "pool"):
            found = inbox.todo(session, user.username, user.groups, page=page, per_page=limit, lang=lang)
            listed = [item for item in found.items if args["scope"] == "mine" or item.offered]
            forms = api_reads.form_schemas(session, [item.task_id for item in listed])
            items = [{**item.to_dict(), "id": item.task_id, "form": forms.get(item.task_id)} for item in listed]
        elif args["scope"] == "done":
            found = inbox.done(session, user.username, page=page, per_page=limit, lang=lang)
            items = [item.to_dict() for item in found.items]
        else:
            found = operations.cc_for(session, user.username, page=page, per_page=limit)
            items = [item.to_dict() for item in found.items]
    more = found.total > offset + limit
    return {"items": items, "next_cursor": encode_cursor(offset + limit) if more else None}


@endpoint("GET", "/tasks/<task_id>", scope="read", response=s.Task, tags=["tasks"], links=s.TASK_LINKS)
def get_task(task_id: str):
    """One task with its form schema and whether the token's person may complete it now."""
    with sessions()() as session:
        return api_reads.task_for(session, viewer(), task_id, current_language())


def _visible(task_id: str) -> None:
    with sessions()() as session:
        api_reads.visible_task(session, viewer(), task_id)


@endpoint("POST", "/tasks/<task_id>/complete", scope="work", body=s.CompleteBody, response=s.Step,
          idempotent=True, tags=["tasks"], links=s.STEP_LINKS)
def complete_task(task_id: str, body: dict):
    """Complete a task with form `data` and an optional `comment`.

    `action` approve / reject sets the form's decision. 422: the form refused the data (messages per
    field in the Accept-Language's language); 409: someone completed the task first; 403: not yours."""
    data = dict(body["data"])
    if body["action"] is not None:
        if body["action"] not in ACTIONS:
            _visible(task_id)
            raise InvalidTaskDataError(msg("unknown action %(action)s (approve or reject)", action=body["action"]))
        data[DECISION_KEY] = ACTIONS[body["action"]]
    user = identity().user
    try:
        result = runtime.complete_task(sessions(), task_id, user.username, data, groups=user.groups,
                                       comment=body["comment"], lang=current_language())
    except LiaisonError:
        # the visibility check only when refused (then 404 for a task the person may not see, whatever
        # the refusal): a completion the engine accepts was by someone who may act on it, so may see it
        _visible(task_id)
        raise
    return step_payload(result)


def _done(**extra) -> dict:
    return {"ok": True, **extra}


@endpoint("POST", "/tasks/<task_id>/claim", scope="work", response=s.Done, tags=["task operations"])
def claim(task_id: str):
    """Take a task offered to you or your group: it becomes yours alone (409 when someone was first)."""
    _visible(task_id)
    user = identity().user
    runtime.claim_task(sessions(), task_id, user.username, user.groups)
    return _done()


@endpoint("POST", "/tasks/<task_id>/unclaim", scope="work", response=s.Done, tags=["task operations"])
def unclaim(task_id: str):
    """Give a claimed task back to its pool."""
    _visible(task_id)
    runtime.unclaim_task(sessions(), task_id, identity().user.username)
    return _done()


@endpoint("POST", "/tasks/<task_id>/transfer", scope="work", body=s.ToBody, response=s.Loose,
          tags=["task operations"])
def transfer(task_id: str, body: dict):
    """Give the task to another person (转办): its assignee or a super admin."""
    _visible(task_id)
    return operations.transfer(sessions(), task_id, body["to"], actor=identity().user.username,
                               comment=body["comment"]).to_dict()


@endpoint("POST", "/tasks/<task_id>/delegate", scope="work", body=s.ToBody, response=s.Done,
          tags=["task operations"])
def delegate(task_id: str, body: dict):
    """Have someone handle the task for you (委派); it comes back to you when they submit."""
    _visible(task_id)
    runtime.delegate_task(sessions(), task_id, identity().user.username, body["to"], body["comment"])
    return _done(delegated_to=body["to"])


@endpoint("POST", "/tasks/<task_id>/return", scope="work", body=s.ReturnBody, response=s.Step,
          tags=["task operations"], links=s.STEP_LINKS)
def return_task(task_id: str, body: dict):
    """Send the request back (退回) to the previous node, the initiator, or a node already passed."""
    _visible(task_id)
    user = identity().user
    result = runtime.move_task(sessions(), task_id, user.username, "return", body["to"], comment=body["comment"],
                               groups=user.groups)
    return {"id": result.instance_id, "status": "running", "tasks": result.open_tasks}


@endpoint("POST", "/tasks/<task_id>/take-back", scope="work", response=s.Step, tags=["task operations"])
def take_back(task_id: str):
    """Whoever completed the node before pulls the request back while nobody acted on it (拿回)."""
    _visible(task_id)
    result = runtime.move_task(sessions(), task_id, identity().user.username, "take_back")
    return {"id": result.instance_id, "status": "running", "tasks": result.open_tasks}


@endpoint("POST", "/tasks/<task_id>/add-signer", scope="work", body=s.SignerBody, response=s.Done,
          tags=["task operations"])
def add_signer(task_id: str, body: dict):
    """Add a signer to an approval node (加签): before / after you (sequential), or alongside."""
    _visible(task_id)
    runtime.add_signer(sessions(), task_id, identity().user.username, body["signer"], body["place"],
                       comment=body["comment"])
    return _done()


@endpoint("POST", "/tasks/<task_id>/remove-signer", scope="work", body=s.SignerBody, response=s.Done,
          tags=["task operations"])
def remove_signer(task_id: str, body: dict):
    """Take an undecided signer off an approval node (减签); the node completes if that settles it."""
    _visible(task_id)
    result = runtime.remove_signer(sessions(), task_id, identity().user.username, body["signer"],
                                   comment=body["comment"])
    return _done(node_completed=result is not None)

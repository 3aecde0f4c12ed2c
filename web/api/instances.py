"""Instances over the API: start, read, list, and the operations on a running one (withdraw, terminate,
jump, urge, cc), each through the engine function the pages and the CLI call."""

from __future__ import annotations

from flask import abort

from engine import runtime
from engine.errors import NotFoundError, NotPermittedError, msg
from engine.people import starting
from engine.runtime import operations
from engine.runtime.visibility import may_view_instance
from engine.work import api_reads, queries
from engine.work import pages as work_pages

from ..i18n import current_language
from . import schemas as s
from .core import decode_cursor, endpoint, identity, page_of, sessions, viewer


def step_payload(result) -> dict:
    """A start's or completion's outcome: the instance, its status and the tasks open now."""
    return {"id": result.instance_id, "status": result.status, "revision": result.revision,
            "end_event": result.end_event, "tasks": result.open_tasks}


@endpoint("POST", "/processes/<key>/instances", scope="start", body=s.StartBody, response=s.Step, status=201,
          idempotent=True, tags=["instances"], links=s.STEP_LINKS)
def start_instance(key: str, body: dict):
    """Start an instance of the latest version of a process.

    `data` is checked against the start form (422 with messages per field); the token's person must be
    allowed to start the process (403)."""
    user = identity().user
    with sessions()() as session:
        try:
            info = work_pages.start_info(session, key)  # the latest version, from one query and the caches
        except NotFoundError:
            raise NotFoundError(msg("no process `%(key)s` is deployed", key=key)) from None
        if not starting.may_start(session, user.username, key, user=user, starters=info.starters):
            raise NotPermittedError(msg("you may not start the process %(key)s", key=key))
    result = runtime.start_instance(sessions(), key, body["data"], user.username, body["business_key"],
                                    lang=current_language(), version=(info.version_id, info.checksum),
                                    directory_version=user.directory_version)
    return step_payload(result)


@endpoint("GET", "/instances", scope="read", query=s.InstanceQuery,
          response=s.page_schema(s.InstanceSummary, "InstancePage"), tags=["instances"], links=s.INSTANCE_LIST_LINKS)
def list_instances(args: dict):
    """Instances the token's person may see, newest first (filters: process, status, business_key, started_by)."""
    offset = decode_cursor(args["cursor"])
    with sessions()() as session:
        items = api_reads.list_instances(session, viewer(), process=args["process"], status=args["status"],
                                         business_key=args["business_key"], started_by=args["started_by"],
                                         limit=args["limit"] + 1, offset=offset)
    return page_of(items, offset, args["limit"])


@endpoint("GET", "/instances/<int:instance_id>", scope="read", response=s.Instance, tags=["instances"], links=s.INSTANCE_LINKS)
def get_instance(instance_id: int):
    """One instance: status, the data the caller may see, its tasks and history (404 when not visible)."""
    with sessions()() as session:
        return api_reads.instance_for(session, viewer(), instance_id, current_language())


def _visible(instance_id: int) -> None:
    with sessions()() as session:
        if not may_view_instance(session, instance_id, *_who()):
            abort(404)


def _who():
    user = identity().user
    return user.username, user.groups, user.is_super_admin


@endpoint("POST", "/instances/<int:instance_id>/withdraw", scope="work", body=s.CommentBody, response=s.Step,
          tags=["instances"])
def withdraw(instance_id: int, body: dict):
    """The initiator withdraws their running request (撤回)."""
    _visible(instance_id)
    return step_payload(operations.withdraw(sessions(), instance_id, actor=identity().user.username,
                                            comment=body["comment"]))


@endpoint("POST", "/instances/<int:instance_id>/terminate", scope="admin", body=s.TerminateBody, response=s.Step,
          tags=["instances"])
def terminate(instance_id: int, body: dict):
    """A super admin ends a running instance with a reason (终止)."""
    _visible(instance_id)
    return step_payload(operations.terminate(sessions(), instance_id, actor=identity().user.username,
                                             reason=body["reason"]))


@endpoint("POST", "/instances/<int:instance_id>/jump", scope="admin", body=s.JumpBody, response=s.Step,
          tags=["instances"])
def jump(instance_id: int, body: dict):
    """A super admin or a process admin moves the request waiting at `task_id` to node `to` (跳转)."""
    _visible(instance_id)
    with sessions()() as session:
        task = queries.get_task(session, body["task_id"])
    if task.instance_id != instance_id:
        raise NotFoundError(msg("no task %(id)s", id=body["task_id"]))
    result = runtime.move_task(sessions(), body["task_id"], identity().user.username, "jump", body["to"],
                               comment=body["comment"])
    return {"id": result.instance_id, "status": "running", "tasks": result.open_tasks}


@endpoint("POST", "/instances/<int:instance_id>/urge", scope="work", body=s.CommentBody, response=s.Loose,
          tags=["instances"])
def urge(instance_id: int, body: dict):
    """Remind the people the request waits for (催办); again within 10 minutes is 429 with Retry-After."""
    _visible(instance_id)
    return operations.urge(sessions(), instance_id, actor=identity().user.username,
                           comment=body["comment"]).to_dict()


@endpoint("POST", "/instances/<int:instance_id>/cc", scope="work", body=s.CcBody, response=s.Loose,
          tags=["instances"])
def cc(instance_id: int, body: dict):
    """Copy the request to people (抄送), each once: `added` and `skipped` usernames."""
    _visible(instance_id)
    return operations.cc(sessions(), instance_id, body["to"], actor=identity().user.username,
                         comment=body["comment"]).to_dict()

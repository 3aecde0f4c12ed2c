"""External tasks on the instance page: what waits for an outside worker, what a worker reported when
it ran out of retries (an incident), and the super admin's "Retry" (`worker_tasks.retry_incident`,
which the API and `liaison external-task retry` call too)."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from engine.errors import LiaisonError
from engine.runtime import worker_tasks

from .auth import current_account, require_super_admin
from .errors import translated

bp = Blueprint("external_tasks", __name__, url_prefix="/external-tasks")


def _sessions():
    return current_app.extensions["liaison_sessions"]


@bp.app_context_processor
def _incidents() -> dict:
    """`external_work(id)` for the instance page (which only people who may see it reach): its external
    tasks not done yet, incidents included."""
    def external_work(instance_id: int) -> list[dict]:
        with current_app.extensions["liaison_read_sessions"]() as session:  # a read: autocommit
            return worker_tasks.waiting_of(session.connection(), instance_id)

    return {"external_work": external_work}


FILTERS = ("live", "incident", "open", "locked", "completed", "cancelled")
PER_PAGE = 100


@bp.get("/")
@require_super_admin
def index():
    """Super admins: the external tasks of every process (not done yet by default), newest first, each
    with its instance, so an incident is found and retried on the instance's page."""
    status = request.args.get("status", "live")
    status = status if status in FILTERS else "live"
    with _sessions()().connection() as conn:
        tasks = worker_tasks.list_tasks(conn, status=status, limit=PER_PAGE)
    return render_template("admin/external_tasks.html", tasks=tasks, status=status, filters=FILTERS)


@bp.post("/<int:external_id>/retry")
def retry(external_id: int):
    """A super admin puts the incident back in the pool (one more retry); back to the instance page."""
    account = current_account()
    instance_id = request.form.get("instance_id", type=int)
    try:
        worker_tasks.retry_incident(_sessions(), external_id, account.username)
    except LiaisonError as exc:
        flash(translated(exc), "error")
    else:
        flash(_("The task is offered to the workers again."), "success")
    if instance_id is None:
        return redirect(url_for("home.index"))
    return redirect(url_for("work.instance", instance_id=instance_id))

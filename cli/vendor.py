"""Vendor selection from the command line (`liaison vendor ...`): the same engine functions as the pages
(`engine.work.vendor_scoring`): `ranking ID`, `score TASK --as USER --scores JSON`, `recommend TASK --as USER
--vendor N`."""

from __future__ import annotations

import json

import click

from cli.common import LiaisonCommand, LiaisonGroup, database_url, describe_step, emit, fail, sessions_for
from engine.work import vendor_scoring


@click.group(cls=LiaisonGroup)
def vendor() -> None:
    """Vendor selection: ranking, score sheets, recommendation."""


@vendor.command(cls=LiaisonCommand)
@click.argument("instance_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def ranking(ctx, instance_id, as_json) -> None:
    """The vendors ranked by their weighted totals averaged over the scorers."""
    with sessions_for(database_url(ctx))() as session:
        result = vendor_scoring.ranking(session, instance_id)
    rows = [{"rank": v.rank, "vendor": v.name, "total": v.total, "per_criterion": v.per_criterion}
            for v in result.vendors]
    lines = [f"{result.setup.title}  (scored by: {', '.join(result.scored_by) or '-'};"
             f" waiting for: {', '.join(result.waiting_for) or '-'})"]
    lines += [f"{row['rank'] or '-':>3}  {row['vendor']}  {row['total'] if row['total'] is not None else '-'}"
              for row in rows]
    emit(as_json, {"vendors": rows, "scored_by": result.scored_by, "waiting_for": result.waiting_for},
         "\n".join(lines))


@vendor.command(cls=LiaisonCommand)
@click.argument("task_id")
@click.option("--as", "--user", "user", required=True)
@click.option("--scores", required=True,
              help='JSON: a list per vendor of the scores per criterion, e.g. [[80, 70], [90, 60]].')
@click.option("--comment", default=None)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def score(ctx, task_id, user, scores, comment, as_json) -> None:
    """Fill in a scorer's sheet and complete their score task."""
    try:
        matrix = json.loads(scores)
        cells = {f"v{v}c{c}": value for v, row in enumerate(matrix) for c, value in enumerate(row)}
    except (json.JSONDecodeError, TypeError) as exc:
        fail(ValueError(f"--scores must be a JSON list of lists: {exc}"), as_json, 2)
    result = vendor_scoring.submit_scores(sessions_for(database_url(ctx)), task_id, user, cells, comment=comment)
    emit(as_json, vars(result), describe_step(result))


@vendor.command(cls=LiaisonCommand)
@click.argument("task_id")
@click.option("--as", "--user", "user", required=True)
@click.option("--vendor", "vendor_number", required=True, type=int, help="The candidate's position, from 0.")
@click.option("--reason", default="")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def recommend(ctx, task_id, user, vendor_number, reason, as_json) -> None:
    """Recommend a candidate; it goes to the manager's approval."""
    result = vendor_scoring.recommend(sessions_for(database_url(ctx)), task_id, user, vendor_number, reason)
    emit(as_json, vars(result), describe_step(result))


COMMANDS = [vendor]

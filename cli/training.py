"""Training assessment from the command line: `training assign|scores`, as the web's HR pages do
(the same engine functions, the same refusals)."""

from __future__ import annotations

from datetime import datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from cli.common import LiaisonGroup, database_url, emit, fail, sessions_for
from engine.config import load_settings
from engine.errors import LiaisonError


@click.group("training", cls=LiaisonGroup)
def training_group() -> None:
    """Assign courses and read the score table (HR and super admins)."""


def _acting(sessions, username: str) -> tuple[tuple[str, ...], bool]:
    from engine.people import org

    with sessions() as session:
        return org.groups_of(session, username), org.is_super_admin(session, username)


@training_group.command("assign")
@click.argument("course_id", type=int)
@click.option("--as", "--user", "actor", required=True, help="HR or a super admin.")
@click.option("--users", default="", help="Usernames, comma-separated.")
@click.option("--departments", default="", help="Department codes, comma-separated (with their subtrees).")
@click.option("--due", default=None, help="Due day YYYY-MM-DD (18:00 company time); default: the course's days.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def training_assign(ctx, course_id: int, actor: str, users: str, departments: str, due: str | None,
                    as_json: bool) -> None:
    """Assign course COURSE_ID; people who have it already are left as they are."""
    from engine.training import assignments

    sessions = sessions_for(database_url(ctx.find_root()))
    groups, is_super = _acting(sessions, actor)
    due_at = None
    if due:
        try:
            due_at = datetime.combine(datetime.strptime(due, "%Y-%m-%d").date(), time(18),
                                      ZoneInfo(load_settings().timezone))
        except ValueError:
            fail(LiaisonError(f"--due `{due}` is not a day written YYYY-MM-DD"), as_json)
    try:
        result = assignments.assign(sessions, actor, groups, is_super, course_id,
                                    usernames=[u for u in users.split(",") if u.strip()],
                                    departments=[d for d in departments.split(",") if d.strip()], due_at=due_at)
    except LiaisonError as exc:
        fail(exc, as_json)
    emit(as_json, {"assigned": result.assigned, "already": result.already},
         f"assigned: {len(result.assigned)}; had it already: {len(result.already)}")


@training_group.command("scores")
@click.option("--as", "--user", "actor", required=True, help="HR or a super admin.")
@click.option("--course", "course_id", type=int, default=None)
@click.option("--department", default=None, help="A department code (with its subtree).")
@click.option("--outcome", type=click.Choice(["passed", "failed", "open"]), default=None)
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh")
@click.option("--xlsx", "xlsx_path", type=click.Path(dir_okay=False), default=None, help="Write the XLSX here.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def training_scores(ctx, actor: str, course_id: int | None, department: str | None, outcome: str | None,
                    lang: str, xlsx_path: str | None, as_json: bool) -> None:
    """The score table's totals (and the table as XLSX with --xlsx)."""
    from engine.training import scores

    sessions = sessions_for(database_url(ctx.find_root()))
    groups, is_super = _acting(sessions, actor)
    try:
        with sessions() as session:
            table = scores.score_table(session, groups, is_super, course_id, department, outcome, lang)
    except LiaisonError as exc:
        fail(exc, as_json)
    if xlsx_path:
        Path(xlsx_path).write_bytes(scores.export_xlsx(table, lang, ZoneInfo(load_settings().timezone)))
    summary = {"people": len(table.rows), "passed": table.passed, "pass_rate": table.pass_rate,
               "distribution": dict(zip(scores.BUCKETS, table.distribution, strict=True)),
               "most_missed": [{"question": q.question, "wrong_share": q.wrong_share} for q in table.questions[:5]]}
    emit(as_json, summary, f"{summary['people']} people, {table.passed} passed, pass rate {table.pass_rate}%; "
                           f"distribution {summary['distribution']}")


COMMANDS = [training_group]

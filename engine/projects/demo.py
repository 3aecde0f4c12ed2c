"""Demo data of task collaboration (`liaison demo`): the product launch project 新品发布 of the product
director (jiangnan) with the product and marketing departments as members, five tasks with owners and due
dates, one in progress and one done, a comment with a mention. Once: nothing happens when it exists.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine.config import load_settings
from engine.data.models import Department, Person, utcnow
from engine.data.project_models import Project
from engine.projects import discussion, projects, tasks
from engine.projects.projects import ProjectInput
from engine.projects.tasks import TaskInput

OWNER = "jiangnan"
TASKS = (  # title, owner, days to the due date, labels, status
    ("竞品与市场调研", "youxin", 3, ["调研"], "done"),
    ("产品定价方案", "shenyue", 5, ["定价"], "in_progress"),
    ("发布会筹备", "qinlei", 12, ["发布会"], "open"),
    ("宣传物料设计", "xuli", 9, ["物料"], "open"),
    ("上线检查清单", "hanmei", 14, ["上线"], "open"),
)


def load_demo(sessions: sessionmaker[Session]) -> str:
    """The demo project; a line saying what was done."""
    with sessions() as session, session.begin():
        if session.scalar(select(Project.id).where(Project.name == "新品发布")) is not None:
            return "demo project: exists"
        wanted = {OWNER} | {t[1] for t in TASKS}
        found = set(session.scalars(select(Person.username).where(Person.username.in_(wanted), Person.active)))
        codes = dict(session.execute(select(Department.name, Department.code)).all())
        if found != wanted or not {"产品部", "市场部"} <= set(codes):
            return "demo project: the demo org chart is not imported"
        project_id = projects.create_project(session, OWNER, ProjectInput(
            name="新品发布", description="市场部与产品部共同推进新品上市：调研、定价、物料、发布会。",
            departments=[codes["产品部"], codes["市场部"]]))
    zone = ZoneInfo(load_settings().timezone)
    today = utcnow().astimezone(zone).date()
    for title, owner, days, labels, status in TASKS:  # due at 18:00 company time, as the pages' date fields mean
        due = datetime.combine(today + timedelta(days=days), time(18), tzinfo=zone)
        task_id = tasks.create_task(sessions, OWNER, project_id, TaskInput(
            title=title, owner=owner, labels=labels, due_at=due))
        if status in ("in_progress", "done"):
            tasks.move_task(sessions, owner, task_id, "in_progress")
        if status == "done":
            tasks.move_task(sessions, owner, task_id, "done")
            discussion.add_comment(sessions, owner, task_id, "@沈悦 调研报告已上传，定价可以参考。")
    return f"demo project: 新品发布 with {len(TASKS)} tasks"

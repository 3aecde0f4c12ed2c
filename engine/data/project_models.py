"""Tables of task collaboration (任务协作): projects with their members, the tasks of a project (with
subtasks, checklist, labels, collaborators and linked instances), files, discussion and each task's
history.

A task's life (open -> in progress -> done / cancelled) runs as an instance of the shipped package
`processes/project_task` (`life_instance_id`); these rows are the record the project pages read
(`engine.projects`). Every change of a task is a `project_history` row.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engine.data.models import Base, utcnow


class Project(Base):
    """A task pool: its owner, who may see it (`members` or the whole `company`), archived (read-only)."""

    __tablename__ = "project"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    owner: Mapped[str] = mapped_column(String(100), index=True)  # a username
    visibility: Mapped[str] = mapped_column(String(10), default="members")  # members | company
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProjectMember(Base):
    """One member entry: a person (`username`), a department with its subtree (`code`) or a role (`key`)."""

    __tablename__ = "project_member"

    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(12), primary_key=True)  # person | department | role
    ref: Mapped[str] = mapped_column(String(100), primary_key=True)


class ProjectTask(Base):
    """A task (or a subtask: `parent_id`) of a project."""

    __tablename__ = "project_task"
    __table_args__ = (Index("ix_project_task_project", "project_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("project_task.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")  # markdown, rendered without raw HTML
    owner: Mapped[str] = mapped_column(String(100), index=True)
    collaborators: Mapped[list] = mapped_column(JSON, default=list)  # usernames
    status: Mapped[str] = mapped_column(String(12), default="open")  # open | in_progress | done | cancelled
    priority: Mapped[str] = mapped_column(String(8), default="normal")  # low | normal | high | urgent
    labels: Mapped[list] = mapped_column(JSON, default=list)
    checklist: Mapped[list] = mapped_column(JSON, default=list)  # [{"text": ..., "done": bool}]
    links: Mapped[list] = mapped_column(JSON, default=list)  # process instance ids
    start_on: Mapped[date | None] = mapped_column(Date)
    due_at: Mapped[datetime | None] = mapped_column()
    life_instance_id: Mapped[int | None] = mapped_column(Integer)  # its `project_task` instance
    waiting_instance_id: Mapped[int | None] = mapped_column(Integer)  # a process waiting until it is done
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column()


class ProjectFile(Base):
    """An upload (`engine.runtime.uploads`) attached to a task; downloaded by whoever sees the task."""

    __tablename__ = "project_file"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("project_task.id", ondelete="CASCADE"), index=True)
    upload_id: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    size: Mapped[int] = mapped_column(Integer)
    added_by: Mapped[str] = mapped_column(String(100))
    added_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProjectComment(Base):
    """A message of a task's discussion; `mentions` are the usernames it notified."""

    __tablename__ = "project_comment"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("project_task.id", ondelete="CASCADE"), index=True)
    author: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text)
    mentions: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProjectHistory(Base):
    """One change of a task: who, when, what (`action`) and its details (old and new values)."""

    __tablename__ = "project_history"
    __table_args__ = (Index("ix_project_history_task", "task_id", "id"),
                      Index("ix_project_history_project", "project_id", "at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"))
    task_id: Mapped[int | None] = mapped_column(ForeignKey("project_task.id", ondelete="CASCADE"))
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(20))
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
    at: Mapped[datetime] = mapped_column(default=utcnow)

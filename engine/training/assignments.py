"""Assigning a course to people and departments (with their subtrees): one `training_assignment` row
and one `training_assessment` instance per person, started as the HR person who assigns.

The instance's start data names the course (zh, en), the person (`trainee`, the task's assignee, and
their display names for the notifications), their manager (told once the due date has passed), the
due date and the reminder time (`REMIND_BEFORE` earlier).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from engine import runtime
from engine.data.models import Person, utcnow
from engine.data.training_models import TrainingAssignment, TrainingCourse
from engine.errors import NotFoundError, msg
from engine.people import org
from engine.training.courses import InvalidCourseError, check_may_manage, get_course

PROCESS_KEY = "training_assessment"
REMIND_BEFORE = timedelta(days=3)


@dataclass
class AssignResult:
    """Who got the course now, and who already had it (left as they were)."""

    assigned: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)


def people_to_assign(session: Session, usernames=(), departments=()) -> list[Person]:
    """Active people named, plus the active members of each department's subtree; InvalidCourseError
    naming the usernames or department codes that do not exist."""
    wanted = [u.strip() for u in usernames if u and u.strip()]
    people = {p.username: p for p in session.scalars(select(Person).where(Person.username.in_(wanted),
                                                                             Person.active))}
    unknown = [u for u in wanted if u not in people]
    if unknown:
        raise InvalidCourseError(msg("no active person has the username %(names)s", names=", ".join(unknown)))
    for code in [d.strip() for d in departments if d and d.strip()]:
        if not org.subtree_ids(session, code):
            raise InvalidCourseError(msg("no department has the code `%(code)s`", code=code))
        people.update({p.username: p for p in org.members(session, code, include_subdepartments=True)})
    if not people:
        raise InvalidCourseError(msg("choose at least one person or department"))
    return sorted(people.values(), key=lambda p: (p.sort_key, p.username))  # pinyin order of the names


def assign(sessions: sessionmaker[Session], actor: str, groups, is_super_admin: bool, course_id: int,
           usernames=(), departments=(), due_at: datetime | None = None, now: datetime | None = None
           ) -> AssignResult:
    """Assign the course; each new person's instance starts at once (their task is in their inbox).
    People who already have the course keep their assignment. A refusal assigns nobody."""
    check_may_manage(groups, is_super_admin)
    now = now or utcnow()
    with sessions() as session:
        course = get_course(session, course_id)
        due = due_at or now + timedelta(days=course.due_days)
        if due <= now:
            raise InvalidCourseError(msg("the due date must be in the future"))
        people = people_to_assign(session, usernames, departments)
        have = set(session.scalars(select(TrainingAssignment.username).where(
            TrainingAssignment.course_id == course_id)))
        managers = {p.username: _manager(session, p.username) for p in people if p.username not in have}
        names = {p.username: (p.name, p.name_en or p.name) for p in people}
        titles = (course.title, course.title_en)
        attempt_limit = course.attempt_limit
    result = AssignResult(already=sorted(have & {p.username for p in people}))
    for username, manager in managers.items():
        _start(sessions, actor, course_id, titles, attempt_limit, username, names[username], manager, due, now)
        result.assigned.append(username)
    return result


def _manager(session: Session, username: str) -> str | None:
    person = org.manager_of(session, username)
    return person.username if person is not None else None


def _start(sessions, actor, course_id, titles, attempt_limit, username, names, manager, due, now) -> None:
    """The assignment row, then its instance; a failed start takes the row back out."""
    with sessions() as session, session.begin():
        row = TrainingAssignment(course_id=course_id, username=username, due_at=due, status="open",
                                 assigned_by=actor, assigned_at=now)
        session.add(row)
        session.flush()
        assignment_id = row.id
    data = {"course_id": course_id, "course": titles[0], "course_en": titles[1], "trainee": username,
            "trainee_name": names[0], "trainee_name_en": names[1], "manager": manager,
            "due_at": due.isoformat(), "remind_at": max(now, due - REMIND_BEFORE).isoformat(),
            "attempt_limit": attempt_limit, "attempts": 0, "passed": False}
    try:
        started = runtime.start_instance(sessions, PROCESS_KEY, data, user=actor,
                                         business_key=f"TA-{assignment_id}")
    except Exception:
        with sessions() as session, session.begin():
            session.execute(delete(TrainingAssignment).where(TrainingAssignment.id == assignment_id))
        raise
    with sessions() as session, session.begin():
        session.execute(update(TrainingAssignment).where(TrainingAssignment.id == assignment_id)
                        .values(instance_id=started.instance_id))


def assignment_of(session: Session, assignment_id: int, username: str | None = None) -> TrainingAssignment:
    """The assignment (only if it is `username`'s, when given), or NotFoundError."""
    row = session.get(TrainingAssignment, assignment_id)
    if row is None or (username is not None and row.username != username):
        raise NotFoundError(msg("no training assignment %(id)s", id=assignment_id))
    return row


def my_assignments(session: Session, username: str) -> list[tuple[TrainingAssignment, TrainingCourse]]:
    """The person's assignments with their courses, open ones first, then by due date."""
    query = (select(TrainingAssignment, TrainingCourse)
             .join(TrainingCourse, TrainingCourse.id == TrainingAssignment.course_id)
             .where(TrainingAssignment.username == username)
             .order_by((TrainingAssignment.status != "open"), TrainingAssignment.due_at))
    return [(a, c) for a, c in session.execute(query)]

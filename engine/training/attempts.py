"""Taking a course's quiz: one attempt at a time, up to the course's limit. An attempt is graded by
`forms.quiz.score`, recorded with each question's correctness, and sent to the person's instance as
the message `training_graded` (keyed `TA-<assignment id>`), which ends the open `take_assessment` task;
the process loops back for a retake while attempts are left. Only this module sends that message, so
completing the task from the inbox never counts as an attempt. A pass issues
the certificate and grants the course's role.

Order of writes: the attempt row first (unique per assignment and attempt number, so a double
submission records once), then the message; if the message is refused the attempt is taken back
out, so a recorded attempt always reached its instance. The certificate and the role come last, only
after the delivery.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from engine.data.models import Person, PersonRole, Role, WorkTask, utcnow
from engine.data.training_models import (
    TrainingAnswer,
    TrainingAssignment,
    TrainingAttempt,
    TrainingCertificate,
)
from engine.errors import NotPermittedError, TaskConflictError, msg
from engine.runtime import messages
from engine.training.assignments import assignment_of
from engine.training.courses import get_course
from forms.quiz import score

TASK_ELEMENT = "take_assessment"
GRADED_MESSAGE = "training_graded"  # its payload `outcome`: {attempts, score, passed}


@dataclass(frozen=True)
class AttemptOutcome:
    """A graded attempt as the person sees it right after submitting (`review` holds the answer key)."""

    attempt_id: int
    attempt_no: int
    score: float
    passed: bool
    attempts_left: int
    review: dict
    certificate_id: int | None


def open_task_id(session: Session, assignment: TrainingAssignment) -> str | None:
    """The id of the assignment's open `take_assessment` task, or None."""
    if assignment.instance_id is None:
        return None
    return session.scalar(select(WorkTask.id).where(WorkTask.instance_id == assignment.instance_id,
                                                    WorkTask.element_id == TASK_ELEMENT,
                                                    WorkTask.status == "open"))


def attempts_of(session: Session, assignment_id: int) -> list[TrainingAttempt]:
    """The assignment's attempts, first first."""
    return list(session.scalars(select(TrainingAttempt).where(TrainingAttempt.assignment_id == assignment_id)
                                .order_by(TrainingAttempt.attempt_no)))


def _attempt_count(session: Session, assignment_id: int) -> int:
    return session.scalar(select(func.count()).select_from(TrainingAttempt)
                          .where(TrainingAttempt.assignment_id == assignment_id)) or 0


def submit_attempt(sessions: sessionmaker[Session], username: str, groups, assignment_id: int,
                   answers: dict[str, Any], now: datetime | None = None) -> AttemptOutcome:
    """Grade and record `username`'s attempt on their assignment and complete their open task.
    Refused (nothing recorded) when the assignment is finished, no attempt is left or none is open."""
    now = now or utcnow()
    with sessions() as session:
        assignment = assignment_of(session, assignment_id, username)
        course = get_course(session, assignment.course_id)
        done = _attempt_count(session, assignment_id)
        if assignment.status == "passed":
            raise TaskConflictError(msg("this assessment is already passed"))
        if done >= course.attempt_limit or assignment.status == "failed":
            raise NotPermittedError(msg("no attempts left: the limit is %(limit)s", limit=course.attempt_limit))
        task_id = open_task_id(session, assignment)
        if task_id is None:  # finished, or between two steps of its instance
            raise TaskConflictError(msg("no attempt is open for this assessment"))
        graded = score(course.quiz, {q["name"]: answers.get(q["name"]) for q in course.quiz},
                       {"pass_mark": course.pass_mark})
        limit, course_id, grant_role = course.attempt_limit, course.id, course.grant_role
    number, points = done + 1, float(graded.percent)
    status = "passed" if graded.passed else "failed" if number >= limit else "open"
    attempt_id = _record(sessions, assignment_id, course_id, username, number, points, graded, status, now)
    try:
        sent = messages.send_message(sessions, GRADED_MESSAGE, f"TA-{assignment_id}", {"outcome": {
            "attempts": number, "score": points, "passed": graded.passed}}, sender=username, now=now)
        if sent.status != "delivered":
            raise TaskConflictError(msg("no attempt is open for this assessment"))
    except Exception:
        with sessions() as session, session.begin():
            session.execute(delete(TrainingAnswer).where(TrainingAnswer.attempt_id == attempt_id))
            session.execute(delete(TrainingAttempt).where(TrainingAttempt.id == attempt_id))
            session.execute(update(TrainingAssignment).where(TrainingAssignment.id == assignment_id)
                            .values(status="open"))
        raise
    certificate_id = _on_pass(sessions, assignment_id, attempt_id, username, grant_role, now) \
        if graded.passed else None
    return AttemptOutcome(attempt_id, number, points, graded.passed, max(0, limit - number),
                          graded.to_dict(), certificate_id)


def _record(sessions, assignment_id, course_id, username, number, points, graded, status, now) -> int:
    """The attempt and its answers, and the assignment's new status, in one transaction."""
    try:
        with sessions() as session, session.begin():
            attempt = TrainingAttempt(assignment_id=assignment_id, course_id=course_id, username=username,
                                      attempt_no=number, score=points, passed=graded.passed,
                                      review=graded.to_dict(), submitted_at=now)
            session.add(attempt)
            session.flush()
            session.add_all([TrainingAnswer(attempt_id=attempt.id, question=q.name, course_id=course_id,
                                            correct=q.correct is True) for q in graded.questions])
            session.execute(update(TrainingAssignment).where(TrainingAssignment.id == assignment_id)
                            .values(status=status))
            return attempt.id
    except IntegrityError as exc:  # the same attempt submitted twice at once: the first one counts
        raise TaskConflictError(msg("this attempt was already submitted")) from exc


def _on_pass(sessions, assignment_id, attempt_id, username, grant_role, now) -> int:
    """The certificate (serial `TC-YYYY-NNNNNN`) and the course's role, once."""
    with sessions() as session, session.begin():
        certificate = TrainingCertificate(serial=f"TC-{now.year}-{attempt_id:06d}", assignment_id=assignment_id,
                                          attempt_id=attempt_id, username=username, issued_at=now)
        session.add(certificate)
        session.flush()
        if grant_role:
            grant(session, username, grant_role)
        return certificate.id


def grant(session: Session, username: str, role_key: str) -> bool:
    """Give `username` the role (False when they already have it or it no longer exists)."""
    person_id = session.scalar(select(Person.id).where(Person.username == username))
    role_id = session.scalar(select(Role.id).where(Role.key == role_key))
    if person_id is None or role_id is None:
        return False
    if session.get(PersonRole, (person_id, role_id)) is not None:
        return False
    session.add(PersonRole(person_id=person_id, role_id=role_id))
    return True

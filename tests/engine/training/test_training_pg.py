"""Attempts submitted at the same moment on PostgreSQL: each recorded attempt has its own number, and
the instance counted exactly the attempts that were recorded (a loser is told, nothing half-written);
the score table's queries on PostgreSQL."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.data import db
from engine.data.models import Person, PersonRole, Role
from engine.data.training_models import TrainingAttempt
from engine.errors import LiaisonError
from engine.packages import deployment as packages
from engine.training import assignments, attempts, courses, scores
from engine.work import queries

ROOT = Path(__file__).resolve().parents[3]
QUIZ = [{"name": "q1", "kind": "single", "question": "1 + 1?", "options": ["1", "2"], "answer": "2", "points": 10}]


@pytest.fixture
def sessions(postgres_url):
    engine = db.make_engine(postgres_url)
    yield db.make_session_factory(engine)
    engine.dispose()


def test_simultaneous_submissions_never_share_an_attempt_number(sessions):
    packages.deploy_package(sessions, packages.load_package(ROOT / "processes" / "training_assessment"), "admin")
    with sessions() as session, session.begin():
        session.add_all([Person(username="hu", name="胡人事"), Person(username="ann", name="安")])
        role = Role(key="hr", name="人事")
        session.add(role)
        session.flush()
        session.add(PersonRole(person_id=session.scalar(select(Person.id).where(Person.username == "hu")),
                               role_id=role.id))
        course_id = courses.save_course(session, "hu", ("hr",), False, courses.CourseInput(
            title="测验", title_en="Quiz", quiz=QUIZ, attempt_limit=5))
    assignments.assign(sessions, "hu", ("hr",), False, course_id, usernames=["ann"])
    with sessions() as session:
        assignment = assignments.my_assignments(session, "ann")[0][0]
    outcomes: list = []
    start = threading.Barrier(4)

    def submit():
        start.wait()
        try:
            outcomes.append(attempts.submit_attempt(sessions, "ann", (), assignment.id, {"q1": "1"}))
        except LiaisonError as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    recorded = [o for o in outcomes if not isinstance(o, Exception)]
    with sessions() as session:
        numbers = list(session.scalars(select(TrainingAttempt.attempt_no).where(
            TrainingAttempt.assignment_id == assignment.id).order_by(TrainingAttempt.attempt_no)))
        data = queries.instance_view(session, assignment.instance_id)["data"]
    assert len(outcomes) == 4  # every submission was answered: recorded, or refused with a reason
    assert recorded and numbers == list(range(1, len(recorded) + 1))
    assert sorted(o.attempt_no for o in recorded) == numbers
    assert data["attempts"] == len(numbers)
    with sessions() as session:  # the score table's queries on PostgreSQL too
        table = scores.score_table(session, ("hr",), False, course_id=course_id)
    assert [(r.attempts, r.best, r.status) for r in table.rows] == [(len(numbers), 0.0, "open")]
    assert table.distribution == [1, 0, 0, 0, 0] and table.questions[0].wrong == len(numbers)

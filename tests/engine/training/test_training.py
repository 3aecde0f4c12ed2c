"""Training assessment end to end at engine level: 30 people take a course twice; the score table,
pass rate, distribution and per-question statistics agree with plain SQL; certificates, role grants,
the retake limit and refusals. One SQLite database for the module (built once, ~4 s)."""

from __future__ import annotations

import io
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import func, select, text

from engine.data import db
from engine.data.models import CcRecord, Department, Notification, Person, PersonRole, Role, WorkTask, utcnow
from engine.data.training_models import TrainingAttempt, TrainingCourse
from engine.errors import NotFoundError, NotPermittedError, TaskConflictError
from engine.packages import deployment as packages
from engine.people import org
from engine.runtime import timers
from engine.training import assignments, attempts, certificates, courses, scores

ROOT = Path(__file__).resolve().parents[3]
QUIZ = [
    {"name": "q1", "kind": "single", "question": {"zh": "密码最少几位?", "en": "Minimum password length?"},
     "options": ["6", "8", "12"], "answer": "12", "points": 20},
    {"name": "q2", "kind": "multiple", "question": {"zh": "哪些是钓鱼迹象?", "en": "Signs of phishing?"},
     "options": ["a", "b", "c", "d"], "answer": ["a", "c"], "points": 20},
    {"name": "q3", "kind": "true_false", "question": {"zh": "可以共享账号", "en": "Accounts may be shared"},
     "answer": False, "points": 20},
    {"name": "q4", "kind": "short_answer", "question": {"zh": "报告给谁?", "en": "Report to whom?"},
     "answer": ["security", "安全部"], "points": 20},
    {"name": "q5", "kind": "single", "question": {"zh": "锁屏快捷键?", "en": "Lock screen shortcut?"},
     "options": ["win+l", "ctrl+c"], "answer": "win+l", "points": 20},
]
RIGHT = {"q1": "12", "q2": ["a", "c"], "q3": "false", "q4": "Security", "q5": "win+l"}
WRONG = {"q1": "6", "q2": ["a"], "q3": "true", "q4": "nobody", "q5": "ctrl+c"}
PEOPLE = [f"p{i:02d}" for i in range(1, 31)]


def answers(person: int, right: int) -> dict:
    """`right` questions answered right, starting at a different question for each person."""
    names = [f"q{(person + k) % 5 + 1}" for k in range(5)]
    return {name: (RIGHT if k < right else WRONG)[name] for k, name in enumerate(names)}


@pytest.fixture(scope="module")
def world(tmp_path_factory, sqlite_template):
    path = tmp_path_factory.mktemp("training") / "liaison.db"
    shutil.copy(sqlite_template, path)
    engine = db.make_engine(f"sqlite:///{path}")
    sessions = db.make_session_factory(engine)
    with sessions() as session, session.begin():
        packages.deploy(session, packages.load_package(ROOT / "processes" / "training_assessment"), "admin")
        session.add_all([Department(id=1, code="HQ", name="总部", path="/1/"),
                         Department(id=2, code="RD", name="研发部", name_en="R&D", parent_id=1, path="/1/2/"),
                         Department(id=3, code="PLT", name="平台组", parent_id=2, path="/1/2/3/"),
                         Department(id=4, code="OPS", name="运营部", parent_id=1, path="/1/4/"),
                         Department(id=5, code="HR", name="人力资源部", parent_id=1, path="/1/5/")])
        boss = Person(username="boss", name="老板", name_en="Boss", department_id=1)
        hu = Person(username="hu", name="胡人事", department_id=5)
        session.add_all([boss, hu])
        session.flush()
        for index, username in enumerate(PEOPLE):
            session.add(Person(username=username, name=f"员工{index + 1:02d}", name_en=f"Employee {index + 1:02d}",
                               department_id=(2, 3, 4)[index % 3], manager_id=boss.id))
        roles = {key: Role(key=key, name=key) for key in ("hr", "process_owners")}
        session.add_all(roles.values())
        session.flush()
        session.add(PersonRole(person_id=hu.id, role_id=roles["hr"].id))
    with sessions() as session, session.begin():
        course_id = courses.save_course(session, "hu", ("hr",), False, courses.CourseInput(
            title="信息安全培训", title_en="Information security basics", quiz=QUIZ, attempt_limit=2,
            grant_role="process_owners"))
    result = assignments.assign(sessions, "hu", ("hr",), False, course_id, departments=["RD", "OPS"])
    outcomes = {}
    for index, username in enumerate(PEOPLE):
        first = attempts.submit_attempt(sessions, username, (), _assignment(sessions, username),
                                        answers(index, index % 4))
        second = attempts.submit_attempt(sessions, username, (), _assignment(sessions, username),
                                         answers(index, index % 6))
        outcomes[username] = (first, second)
    yield sessions, course_id, result, outcomes
    engine.dispose()


def _assignment(sessions, username: str) -> int:
    with sessions() as session:
        return assignments.my_assignments(session, username)[0][0].id


def test_a_department_assignment_reaches_every_member_of_the_subtrees(world):
    _sessions, _course, result, _ = world
    assert result.assigned == PEOPLE and result.already == []


def test_assigning_again_keeps_the_existing_assignments(world):
    sessions, course_id, _, _ = world
    again = assignments.assign(sessions, "hu", ("hr",), False, course_id, usernames=["p01"])
    assert again.assigned == [] and again.already == ["p01"]


def test_the_score_table_agrees_with_sql(world):
    sessions, course_id, _, _ = world
    with sessions() as session:
        table = scores.score_table(session, ("hr",), False, course_id=course_id, lang="en")
        expected = {row.username: (float(row.best), float(row.last), row.n) for row in session.execute(text(
            "SELECT a.username, MAX(t.score) AS best, COUNT(*) AS n, "
            "(SELECT score FROM training_attempt l WHERE l.assignment_id = a.id ORDER BY attempt_no DESC LIMIT 1)"
            " AS last FROM training_assignment a JOIN training_attempt t ON t.assignment_id = a.id "
            "GROUP BY a.id, a.username"))}
        passed = session.scalar(text("SELECT COUNT(*) FROM training_assignment WHERE status = 'passed'"))
    assert {r.username: (r.best, r.last, r.attempts) for r in table.rows} == expected
    assert len(table.rows) == 30 and all(r.attempts == 2 for r in table.rows)
    assert passed == 10 and table.passed == 10
    assert table.pass_rate == round(100 * passed / 30, 1) == 33.3
    assert {r.status for r in table.rows} == {"passed", "failed"}
    assert table.rows[0].name.startswith("Employee")


def test_the_distribution_counts_best_scores_per_bucket_as_sql_does(world):
    sessions, course_id, _, _ = world
    with sessions() as session:
        table = scores.score_table(session, ("hr",), False, course_id=course_id)
        rows = session.execute(text(
            "SELECT CASE WHEN best < 60 THEN 0 WHEN best < 70 THEN 1 WHEN best < 80 THEN 2 WHEN best < 90 THEN 3 "
            "ELSE 4 END AS b, COUNT(*) FROM (SELECT MAX(score) AS best FROM training_attempt GROUP BY assignment_id)"
            " s GROUP BY b")).all()
    expected = [0] * 5
    for index, count in rows:
        expected[index] = count
    assert table.distribution == expected and sum(expected) == 30


def test_question_statistics_put_the_most_missed_first_as_sql_counts(world):
    sessions, course_id, _, _ = world
    with sessions() as session:
        table = scores.score_table(session, ("hr",), False, course_id=course_id, lang="en")
        sql = {q: (n, wrong) for q, n, wrong in session.execute(text(
            "SELECT question, COUNT(*), SUM(CASE WHEN correct THEN 0 ELSE 1 END) FROM training_answer "
            "GROUP BY question"))}
    assert {s.question: (s.answered, s.wrong) for s in table.questions} == sql
    shares = [s.wrong_share for s in table.questions]
    assert shares == sorted(shares, reverse=True) and all(s.answered == 60 for s in table.questions)
    assert table.questions[0].label in {q["question"]["en"] for q in QUIZ}


def test_filters_by_department_subtree_and_outcome(world):
    sessions, course_id, _, _ = world
    with sessions() as session:
        rd = scores.score_table(session, ("hr",), False, course_id=course_id, department="RD")
        rd_people = {p.username for p in org.members(session, "RD", include_subdepartments=True)}
        failed = scores.score_table(session, ("hr",), False, outcome="failed")
    assert {r.username for r in rd.rows} == rd_people and len(rd_people) == 20
    assert len(failed.rows) == 20 and all(r.status == "failed" for r in failed.rows)
    assert {name for name, *_ in rd.departments} == {"研发部", "平台组"}


def test_only_hr_and_admins_see_the_score_table(world):
    sessions, _, _, _ = world
    with sessions() as session, pytest.raises(NotPermittedError):
        scores.score_table(session, ("managers",), False)
    with sessions() as session:
        assert len(scores.score_table(session, (), True).rows) == 30


def test_the_export_is_a_workbook_of_the_table(world):
    sessions, course_id, _, _ = world
    with sessions() as session:
        table = scores.score_table(session, ("hr",), False, course_id=course_id)
    book = load_workbook(io.BytesIO(scores.export_xlsx(table, "zh")))
    assert book.sheetnames == ["成绩", "题目"]
    assert book["成绩"].max_row == 31 and book["成绩"]["A1"].value == "姓名"
    assert book["题目"].max_row == 6
    assert {row[6] for row in book["成绩"].iter_rows(min_row=2, values_only=True)} <= {"已通过", "未通过", "进行中"}
    english = load_workbook(io.BytesIO(scores.export_xlsx(table, "en")))["Scores"]
    assert {row[6] for row in english.iter_rows(min_row=2, values_only=True)} <= {"Passed", "Failed", "In progress"}


def test_a_pass_issues_a_certificate_whose_pdf_names_the_person_and_score(world):
    sessions, _, _, outcomes = world
    first, second = outcomes["p05"]  # person index 4: 4 % 6 = 4 right on the second attempt
    assert not first.passed and second.passed and second.score == 80.0 and second.certificate_id
    with sessions() as session:
        view = certificates.certificate_view(session, second.certificate_id, "p05", (), False)
        hr_view = certificates.certificate_view(session, second.certificate_id, "hu", ("hr",), False)
        with pytest.raises(NotFoundError):
            certificates.certificate_view(session, second.certificate_id, "p06", (), False)
    assert hr_view == view
    content = PdfReader(io.BytesIO(certificates.certificate_pdf(view))).pages[0].extract_text()
    assert "员工05" in content and "Employee 05" in content and "80" in content
    assert "信息安全培训" in content and view.serial in content


def test_a_pass_grants_the_course_role_and_a_failure_does_not(world):
    sessions, _, _, outcomes = world
    with sessions() as session:
        granted = {u for u in PEOPLE if "process_owners" in org.groups_of(session, u)}
    assert granted == {u for u, (_first, second) in outcomes.items() if second.passed}


def test_the_retake_limit_is_enforced_and_nothing_more_is_recorded(world):
    sessions, _, _, outcomes = world
    assert not outcomes["p01"][1].passed and outcomes["p01"][1].attempts_left == 0
    with pytest.raises(NotPermittedError, match="no attempts left"):
        attempts.submit_attempt(sessions, "p01", (), _assignment(sessions, "p01"), RIGHT)
    with pytest.raises(TaskConflictError, match="already passed"):
        attempts.submit_attempt(sessions, "p05", (), _assignment(sessions, "p05"), RIGHT)
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(TrainingAttempt)
                              .where(TrainingAttempt.username.in_(["p01", "p05"]))) == 4
        instance = assignments.my_assignments(session, "p01")[0][0].instance_id
        assert session.scalar(select(func.count()).select_from(WorkTask).where(
            WorkTask.instance_id == instance, WorkTask.status == "open")) == 0


def test_someone_else_cannot_submit_a_persons_attempt(world):
    sessions, _, _, _ = world
    with pytest.raises(NotFoundError):
        attempts.submit_attempt(sessions, "p02", (), _assignment(sessions, "p01"), RIGHT)


def test_the_taker_sees_the_questions_without_the_answer_key(world):
    sessions, course_id, _, outcomes = world
    with sessions() as session:
        shown = courses.questions_for_taker(courses.get_course(session, course_id))
    assert [q["name"] for q in shown] == ["q1", "q2", "q3", "q4", "q5"]
    assert all("answer" not in q for q in shown)
    assert outcomes["p05"][1].review["questions"][0]["correct_answer"] is not None  # the graded review has it


def test_a_bad_quiz_is_refused_precisely_and_nothing_is_saved(world):
    sessions, _, _, _ = world
    with sessions() as session:
        before = session.scalar(select(func.count()).select_from(TrainingCourse))
        with pytest.raises(courses.InvalidCourseError, match="not one of the options"):
            courses.save_course(session, "hu", ("hr",), False, courses.CourseInput(
                title="x", title_en="x", quiz=[{**QUIZ[0], "answer": "7"}]))
        with pytest.raises(courses.InvalidCourseError, match=r"not valid YAML \(line \d+\)"):
            courses.parse_quiz("- name: q1\n  kind: [single\n")
        with pytest.raises(courses.InvalidCourseError, match="no role"):
            courses.save_course(session, "hu", ("hr",), False, courses.CourseInput(
                title="x", title_en="x", quiz=QUIZ, grant_role="nope"))
        with pytest.raises(NotPermittedError):
            courses.save_course(session, "p01", (), False, courses.CourseInput(title="x", title_en="x", quiz=QUIZ))
        first = session.scalar(select(TrainingCourse.id).order_by(TrainingCourse.id))
        with pytest.raises(courses.InvalidCourseError, match="cannot change once the course is assigned"):
            courses.save_course(session, "hu", ("hr",), False, courses.CourseInput(
                title="x", title_en="x", quiz=QUIZ, attempt_limit=5), first)
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(TrainingCourse)) == before


def test_unknown_people_or_departments_assign_nobody(world):
    sessions, course_id, _, _ = world
    with pytest.raises(courses.InvalidCourseError, match="ghost"):
        assignments.assign(sessions, "hu", ("hr",), False, course_id, usernames=["boss", "ghost"])
    with pytest.raises(courses.InvalidCourseError, match="NOPE"):
        assignments.assign(sessions, "hu", ("hr",), False, course_id, departments=["NOPE"])
    with pytest.raises(courses.InvalidCourseError, match="future"):
        assignments.assign(sessions, "hu", ("hr",), False, course_id, usernames=["boss"],
                           due_at=utcnow() - timedelta(days=1))
    with sessions() as session:
        assert assignments.my_assignments(session, "boss") == []


def _fire(sessions, now) -> list[str]:
    return [timers.fire(sessions, timer_id, now) for timer_id in timers.claim_due(sessions, now)]


def _copied(sessions, instance: int) -> set[str]:
    with sessions() as session:
        return set(session.scalars(select(CcRecord.username).where(CcRecord.instance_id == instance)))


def test_the_person_is_reminded_before_the_due_date_and_the_manager_told_after_it(world):
    sessions, _, _, _ = world
    with sessions() as session:
        course_id = courses.save_course(session, "hu", ("hr",), False, courses.CourseInput(
            title="管理员培训", title_en="Administrator training", quiz=QUIZ[:2]))
        session.commit()
    now = utcnow()
    assignments.assign(sessions, "hu", ("hr",), False, course_id, usernames=["p02"], due_at=now + timedelta(days=10),
                       now=now)
    with sessions() as session:
        instance = next(a for a, c in assignments.my_assignments(session, "p02") if c.id == course_id).instance_id
    assert _fire(sessions, now + timedelta(days=6)) == []
    assert _fire(sessions, now + timedelta(days=7, minutes=1)) == ["fired"]  # 3 days before: the reminder
    assert _copied(sessions, instance) == {"p02"}
    # the due date: the boundary timer tells the manager; the task's own due date tells the person
    assert _fire(sessions, now + timedelta(days=10, minutes=1)) == ["fired", "fired"]
    assert _copied(sessions, instance) == {"p02", "boss"}
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(WorkTask).where(
            WorkTask.instance_id == instance, WorkTask.status == "open")) == 1  # still to be taken
        told = {n.recipient: n.title for n in session.scalars(select(Notification).where(
            Notification.instance_id == instance, Notification.event == "cc"))}
    assert told["p02"] in ("培训考核即将截止：管理员培训", "Training due soon: Administrator training")
    assert told["boss"] in ("培训考核已逾期：员工02「管理员培训」", "Training overdue: Employee 02, Administrator training")


def test_the_cli_reads_the_same_score_table_and_refuses_the_same_people(world, tmp_path):
    from tests.cli.runner import run

    sessions, course_id, _, _ = world
    url = sessions.kw["bind"].url.render_as_string(hide_password=False)
    out = run(["--database-url", url, "training", "scores", "--as", "hu", "--course", course_id,
               "--xlsx", tmp_path / "s.xlsx"])
    assert out.returncode == 0 and out.stdout.startswith("30 people, 10 passed, pass rate 33.3%")
    assert load_workbook(tmp_path / "s.xlsx")["成绩"].max_row == 31
    refused = run(["--database-url", url, "training", "assign", course_id, "--as", "p01", "--users", "boss"])
    assert refused.returncode == 1 and "only HR and administrators" in refused.stderr

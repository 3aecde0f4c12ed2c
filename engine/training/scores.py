"""HR's score table (考核成绩统计表): per person and course the best and last score, attempts, outcome
and date; the pass rate, the distribution of best scores, per-department totals and, per question,
the share of wrong answers (most missed first). Filters: course, department (with its subtree),
outcome. For HR and super admins only (`courses.check_may_manage`).

Two queries: the assignments with their attempts' aggregates, and the answers grouped by question.
"""

from __future__ import annotations

import io
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo

from openpyxl import Workbook
from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session, aliased

from engine.data.models import Department, Person
from engine.data.training_models import (
    TrainingAnswer,
    TrainingAssignment,
    TrainingAttempt,
    TrainingCertificate,
    TrainingCourse,
)
from engine.people import org
from engine.training.courses import check_may_manage

BUCKETS = ("0-59", "60-69", "70-79", "80-89", "90-100")
OUTCOMES = ("passed", "failed", "open")


@dataclass(frozen=True)
class ScoreRow:
    """One person's result in one course."""

    username: str
    name: str
    department: str
    course: str
    best: float | None
    last: float | None
    attempts: int
    status: str
    last_at: datetime | None
    certificate_id: int | None = None


@dataclass(frozen=True)
class QuestionStat:
    """How often one question was answered wrong (over every attempt in the table)."""

    course: str
    question: str
    label: str
    answered: int
    wrong: int

    @property
    def wrong_share(self) -> float:
        return round(100 * self.wrong / self.answered, 1) if self.answered else 0.0


@dataclass
class ScoreTable:
    """The table and its statistics, for the page, the charts and the XLSX export."""

    rows: list[ScoreRow]
    pass_rate: float
    distribution: list[int]
    departments: list[tuple[str, int, int, float]] = field(default_factory=list)  # name, assigned, passed, %
    questions: list[QuestionStat] = field(default_factory=list)

    @property
    def passed(self) -> int:
        return sum(1 for row in self.rows if row.status == "passed")


def bucket(score: float) -> int:
    """Index in BUCKETS of a score: below 60, 60-69, 70-79, 80-89, 90 and up."""
    return 0 if score < 60 else min(4, int(score // 10) - 5)


def _filters(session: Session, course_id: int | None, department: str | None, outcome: str | None) -> list:
    where = []
    if course_id:
        where.append(TrainingAssignment.course_id == course_id)
    if department:
        where.append(Person.department_id.in_(org.subtree_ids(session, department)))
    if outcome in OUTCOMES:
        where.append(TrainingAssignment.status == outcome)
    return where


def score_table(session: Session, groups, is_super_admin: bool, course_id: int | None = None,
                department: str | None = None, outcome: str | None = None, lang: str = "zh") -> ScoreTable:
    """The score table with its statistics, filtered; NotPermittedError unless HR or an admin."""
    check_may_manage(groups, is_super_admin)
    where = _filters(session, course_id, department, outcome)
    last = aliased(TrainingAttempt)
    stats = (select(TrainingAttempt.assignment_id, func.max(TrainingAttempt.score).label("best"),
                    func.count().label("attempts"), func.max(TrainingAttempt.attempt_no).label("last_no"))
             .group_by(TrainingAttempt.assignment_id).subquery())
    query = (select(TrainingAssignment, Person, Department.name, Department.name_en, TrainingCourse.title,
                    TrainingCourse.title_en, stats.c.best, stats.c.attempts, last.score, last.submitted_at,
                    TrainingCertificate.id)
             .join(Person, Person.username == TrainingAssignment.username)
             .join(TrainingCourse, TrainingCourse.id == TrainingAssignment.course_id)
             .outerjoin(Department, Department.id == Person.department_id)
             .outerjoin(stats, stats.c.assignment_id == TrainingAssignment.id)
             .outerjoin(last, and_(last.assignment_id == TrainingAssignment.id, last.attempt_no == stats.c.last_no))
             .outerjoin(TrainingCertificate, TrainingCertificate.assignment_id == TrainingAssignment.id)
             .where(*where).order_by(TrainingCourse.id, Department.path, Person.sort_key, Person.username))
    en = lang == "en"
    rows = [ScoreRow(a.username, (p.name_en or p.name) if en else p.name, (dept_en or dept or "") if en else
                     (dept or ""), course_en if en else course, _num(best), _num(last_score), attempts or 0,
                     a.status, last_at, certificate)
            for a, p, dept, dept_en, course, course_en, best, attempts, last_score, last_at, certificate
            in session.execute(query)]
    return ScoreTable(rows, _rate(sum(r.status == "passed" for r in rows), len(rows)), _distribution(rows),
                      _departments(rows), question_stats(session, where, lang))


def _num(value) -> float | None:
    return None if value is None else float(value)


def _rate(part: int, whole: int) -> float:
    return round(100 * part / whole, 1) if whole else 0.0


def _distribution(rows: list[ScoreRow]) -> list[int]:
    counts = Counter(bucket(row.best) for row in rows if row.best is not None)
    return [counts.get(index, 0) for index in range(len(BUCKETS))]


def _departments(rows: list[ScoreRow]) -> list[tuple[str, int, int, float]]:
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in rows:
        totals[row.department][0] += 1
        totals[row.department][1] += row.status == "passed"
    return [(name, assigned, passed, _rate(passed, assigned)) for name, (assigned, passed) in totals.items()]


def question_stats(session: Session, where: list, lang: str = "zh") -> list[QuestionStat]:
    """Per question of the filtered assignments' attempts: answers and wrong ones, most missed first."""
    query = (select(TrainingAnswer.course_id, TrainingAnswer.question, func.count().label("answered"),
                    func.sum(case((TrainingAnswer.correct.is_(False), 1), else_=0)).label("wrong"))
             .join(TrainingAttempt, TrainingAttempt.id == TrainingAnswer.attempt_id)
             .join(TrainingAssignment, TrainingAssignment.id == TrainingAttempt.assignment_id)
             .join(Person, Person.username == TrainingAssignment.username)
             .where(*where).group_by(TrainingAnswer.course_id, TrainingAnswer.question))
    found = list(session.execute(query))
    courses = {c.id: c for c in session.scalars(select(TrainingCourse).where(
        TrainingCourse.id.in_({row.course_id for row in found})))}
    result = []
    for course_id, question, answered, wrong in found:
        course = courses[course_id]
        spec = next((q for q in course.quiz if q["name"] == question), {})
        result.append(QuestionStat(course.title_en if lang == "en" else course.title, question,
                                   _label(spec.get("question") or spec.get("label") or question, lang), answered, int(wrong or 0)))
    return sorted(result, key=lambda s: (-s.wrong_share, -s.wrong, s.course, s.question))


def _label(value, lang: str) -> str:
    if isinstance(value, dict):
        return str(value.get(lang) or value.get("zh") or value.get("en") or "")
    return str(value)


def _local(moment: datetime | None, zone: tzinfo) -> datetime | None:
    """A stored moment as the reader's wall-clock time, to the minute (XLSX has no time zones)."""
    if moment is None:
        return None
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # SQLite hands back naive UTC
    return aware.astimezone(zone).replace(tzinfo=None, second=0, microsecond=0)


HEADERS = {"zh": ("姓名", "部门", "课程", "最高分", "最后得分", "考试次数", "结果", "日期"),
           "en": ("Name", "Department", "Course", "Best", "Last", "Attempts", "Outcome", "Date")}
OUTCOME_WORDS = {"zh": {"passed": "已通过", "failed": "未通过", "open": "进行中"},  # the score page's words
                 "en": {"passed": "Passed", "failed": "Failed", "open": "In progress"}}


def export_xlsx(table: ScoreTable, lang: str = "zh", zone: tzinfo = UTC) -> bytes:
    """The table as an XLSX workbook: the rows, then a sheet of question statistics.

    The date is the last attempt's moment in `zone` (the reader's time zone, as the page shows it), a real
    date-time cell that Excel sorts and filters; scores and counts are numbers.
    """
    lang = "en" if lang == "en" else "zh"
    book = Workbook()
    sheet = book.active
    sheet.title = "成绩" if lang == "zh" else "Scores"
    sheet.append(HEADERS[lang])
    for row in table.rows:
        sheet.append([row.name, row.department, row.course, row.best, row.last, row.attempts,
                      OUTCOME_WORDS[lang][row.status], _local(row.last_at, zone)])
    for cell in sheet["H"][1:]:
        cell.number_format = "yyyy-mm-dd hh:mm"
    for column, width in zip("ABCDEFGH", (12, 14, 24, 8, 8, 8, 10, 17), strict=True):
        sheet.column_dimensions[column].width = width
    questions = book.create_sheet("题目" if lang == "zh" else "Questions")
    questions.append(("课程", "题目", "作答", "答错", "错误率 %") if lang == "zh" else
                     ("Course", "Question", "Answers", "Wrong", "Wrong %"))
    for stat in table.questions:
        questions.append([stat.course, stat.label, stat.answered, stat.wrong, stat.wrong_share])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()

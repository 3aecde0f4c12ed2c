"""Courses: who may manage them, their quiz (forms-engine quiz fields with the answer key), saving
one with every refusal precise, and reading them.

The quiz is checked as a form would be (`forms.schema.load_schema`): a course whose quiz would not
grade is refused before anything is saved.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.data.models import Role, utcnow
from engine.data.training_models import TrainingCourse
from engine.errors import InvalidTaskDataError, NotFoundError, NotPermittedError, msg
from engine.people import org
from forms.schema import SchemaError, load_schema

HR_ROLE = "hr"
MAX_QUIZ_QUESTIONS = 200


class InvalidCourseError(InvalidTaskDataError):
    """A course that cannot be saved; the message names the field and the problem."""


@dataclass
class CourseInput:
    """What HR enters for a course; `quiz` is a list of quiz fields (`forms.quiz`)."""

    title: str
    title_en: str
    quiz: list[dict]
    description: str = ""
    description_en: str = ""
    links: list[dict] = field(default_factory=list)
    materials: list[str] = field(default_factory=list)
    pass_mark: int = 80
    attempt_limit: int = 3
    due_days: int = 14
    grant_role: str | None = None


def may_manage(groups, is_super_admin: bool) -> bool:
    """HR (role `hr`) and super admins manage courses, assign them and see the score table."""
    return bool(is_super_admin) or HR_ROLE in tuple(groups or ())


def check_may_manage(groups, is_super_admin: bool) -> None:
    """NotPermittedError unless `may_manage`."""
    if not may_manage(groups, is_super_admin):
        raise NotPermittedError(msg("only HR and administrators manage trainings"))


def parse_quiz(text: str) -> list[dict]:
    """Quiz fields from YAML (a list of `{name, type: quiz, kind, question, options, answer, points}`);
    InvalidCourseError naming the problem. `type: quiz` may be left out."""
    try:
        data = yaml.safe_load(text or "")
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else "?"
        raise InvalidCourseError(msg("quiz: not valid YAML (line %(line)s)", line=line)) from exc
    if not isinstance(data, list) or not data:
        raise InvalidCourseError(msg("quiz: write a list of questions"))
    if len(data) > MAX_QUIZ_QUESTIONS:
        raise InvalidCourseError(msg("quiz: at most %(limit)s questions", limit=MAX_QUIZ_QUESTIONS))
    return [{**item, "type": "quiz"} if isinstance(item, dict) else item for item in data]


def checked_quiz(quiz: list, pass_mark: int) -> list[dict]:
    """The quiz fields, normalized by the forms engine; InvalidCourseError with its first problem."""
    if not isinstance(quiz, list) or not quiz or not all(isinstance(q, dict) for q in quiz):
        raise InvalidCourseError(msg("quiz: write a list of questions"))
    if any(q.get("type", "quiz") != "quiz" for q in quiz):
        raise InvalidCourseError(msg("quiz: every question must be a quiz field"))
    try:
        schema = load_schema({"fields": [{**q, "type": "quiz"} for q in quiz],
                              "scoring": {"pass_mark": pass_mark}}, name="quiz")
    except SchemaError as exc:
        raise InvalidCourseError(msg("quiz: %(problem)s", problem=exc.problems[0])) from exc
    return [dict(f) for f in schema.fields]


def _check(session: Session, data: CourseInput) -> list[dict]:
    if not data.title.strip() or not data.title_en.strip():
        raise InvalidCourseError(msg("a course needs a title in Chinese and in English"))
    if not 0 <= data.pass_mark <= 100:
        raise InvalidCourseError(msg("the pass mark must be from 0 to 100"))
    if not 1 <= data.attempt_limit <= 20:
        raise InvalidCourseError(msg("the number of attempts must be from 1 to 20"))
    if not 1 <= data.due_days <= 366:
        raise InvalidCourseError(msg("the days to finish must be from 1 to 366"))
    for link in data.links:
        if not str(link.get("url", "")).startswith(("https://", "http://", "/")):
            raise InvalidCourseError(msg("link `%(url)s` must start with https://, http:// or /",
                                         url=str(link.get("url", ""))[:100]))
    if data.grant_role and session.scalar(select(Role.id).where(Role.key == data.grant_role)) is None:
        raise InvalidCourseError(msg("no role has the key `%(key)s`", key=data.grant_role))
    quiz = checked_quiz(data.quiz, data.pass_mark)
    maximum = sum(float(q.get("points", 1)) for q in quiz)
    if maximum <= 0:
        raise InvalidCourseError(msg("quiz: the questions must be worth some points"))
    return quiz


def save_course(session: Session, actor: str, groups, is_super_admin: bool, data: CourseInput,
                course_id: int | None = None) -> int:
    """Create (or, with `course_id`, update) a course as HR; refusals save nothing. Returns its id."""
    check_may_manage(groups, is_super_admin)
    quiz = _check(session, data)
    course = TrainingCourse(created_by=actor, created_at=utcnow()) if course_id is None else get_course(
        session, course_id)
    if course_id is not None and data.attempt_limit != course.attempt_limit and _assigned(session, course_id):
        # running instances loop on the limit they started with
        raise InvalidCourseError(msg("the number of attempts cannot change once the course is assigned"))
    values: dict[str, Any] = {
        "title": data.title.strip(), "title_en": data.title_en.strip(), "description": data.description,
        "description_en": data.description_en, "links": list(data.links), "materials": list(data.materials),
        "quiz": quiz, "pass_mark": data.pass_mark, "attempt_limit": data.attempt_limit,
        "due_days": data.due_days, "grant_role": data.grant_role or None}
    for key, value in values.items():
        setattr(course, key, value)
    session.add(course)
    session.flush()
    return course.id


def _assigned(session: Session, course_id: int) -> bool:
    from engine.data.training_models import TrainingAssignment

    return session.scalar(select(TrainingAssignment.id).where(TrainingAssignment.course_id == course_id)
                          .limit(1)) is not None


def get_course(session: Session, course_id: int) -> TrainingCourse:
    """The course, or NotFoundError."""
    course = session.get(TrainingCourse, course_id)
    if course is None:
        raise NotFoundError(msg("no training course %(id)s", id=course_id))
    return course


def list_courses(session: Session) -> list[TrainingCourse]:
    """Every course, newest first."""
    return list(session.scalars(select(TrainingCourse).order_by(TrainingCourse.id.desc())))


def title_of(course: TrainingCourse, lang: str) -> str:
    """The course's title in `lang` (en, else zh)."""
    return course.title_en if lang == "en" else course.title


def questions_for_taker(course: TrainingCourse) -> list[dict]:
    """The quiz without its answer key: what the person taking it may see."""
    return [{k: v for k, v in q.items() if k != "answer"} for q in course.quiz]


def material(session: Session, course_id: int, file_id: str, username: str, groups, is_super_admin: bool):
    """A course's uploaded file (`uploads.UploadInfo`) for someone assigned the course or for HR;
    NotFoundError otherwise (also when the file is not one of the course's)."""
    from engine.data.training_models import TrainingAssignment
    from engine.runtime import uploads

    course = get_course(session, course_id)
    assigned = session.scalar(select(TrainingAssignment.id).where(TrainingAssignment.course_id == course_id,
                                                                  TrainingAssignment.username == username))
    found = uploads.get(session, file_id) if file_id in course.materials else None
    if found is None or (assigned is None and not may_manage(groups, is_super_admin)):
        raise NotFoundError(msg("no such course material"))
    return found


def role_choices(session: Session, lang: str = "zh") -> list[tuple[str, str]]:
    """(key, name) of every role, for the course form's "role granted on a pass"."""
    rows = session.execute(select(Role.key, Role.name, Role.name_en).order_by(Role.key))
    return [(key, (name_en or name) if lang == "en" else name) for key, name, name_en in rows]


def department_choices(session: Session, lang: str = "zh") -> list[tuple[str, str]]:
    """(code, name) of every department in chart order (`org.in_chart_order`), for assigning and filtering."""
    from engine.data.models import Department

    rows = session.execute(select(Department.id, Department.parent_id, Department.sort_key, Department.code,
                                  Department.name, Department.name_en)).all()
    return [(row.code, (row.name_en or row.name) if lang == "en" else row.name) for row in org.in_chart_order(rows)]


def parse_links(text: str) -> list[dict]:
    """Links written one a line as `label | url` (or a bare url)."""
    links = []
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        label, _bar, url = line.rpartition("|") if "|" in line else ("", "", line)
        links.append({"label": label.strip(), "url": url.strip()})
    return links


def _text(value, lang: str) -> str:
    if isinstance(value, dict):
        return str(value.get(lang) or value.get("zh") or value.get("en") or "")
    return str(value)


def answer_text(question: dict, value, lang: str = "zh") -> str:
    """An answer (given or correct) as the person reads it: option labels, "、"-joined; "—" for none."""
    if value is None or value == "" or value == []:
        return "—"
    values = value if isinstance(value, list) else [value]
    labels = {_key(option.get("value")): _text(option.get("label", option.get("value")), lang)
              for option in question.get("options") or () if isinstance(option, dict)}
    if question.get("kind") == "short_answer":
        return " / ".join(str(v) for v in values)
    return "、".join(labels.get(_key(v), str(v)) for v in values)


def _key(value) -> str:
    """Option values compared as the grading does: booleans as true/false, everything else as text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip().casefold()

"""Surveys: a questionnaire's definition, its answers (once per person, anonymous or named), results and
the XLSX export.

A question is {key, kind, label: {zh, en}, options: [text], required}; kind `single` (单选), `multiple`
(多选) or `open` (开放题). The answers are checked by the forms engine: a survey is turned into a form
schema of `radio`, `checkboxes` and `textarea` fields (`form_schema`), so the page renders it with the
form macros and a submission is validated as any form's.

Anonymous surveys store no person id and no time with the answers (see `engine.data.notice_models`);
`survey_respondent` alone says who has answered, so nobody answers twice. Results are GROUP BY counts.
"""

from __future__ import annotations

import io
import re
import uuid
from dataclasses import dataclass

from openpyxl import Workbook
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.data.models import Person, utcnow
from engine.data.notice_models import (
    Notice,
    NoticeRecipient,
    Survey,
    SurveyAnswer,
    SurveyRespondent,
    SurveyResponse,
)
from engine.errors import FormInvalidError, NotFoundError, msg
from engine.notices.receipts import may_see_receipts, percent
from engine.notices.sending import NoticeError
from forms.build import FormContext, validate_data, validate_formdata

KINDS = {"single": "radio", "multiple": "checkboxes", "open": "textarea"}
KIND_WORDS = {"单选": "single", "多选": "multiple", "开放题": "open", "开放": "open"}
MAX_QUESTIONS, MAX_OPTIONS, MAX_OPEN_SHOWN = 50, 30, 200
_SPLIT = re.compile(r"[;；\n|]+")


@dataclass(frozen=True)
class OptionResult:
    """One option of a choice question: how many chose it, in percent of the question's respondents."""

    label: str
    count: int
    pct: float


@dataclass(frozen=True)
class QuestionResult:
    """One question's results: option counts (single, multiple) or the open answers."""

    key: str
    kind: str
    label: str
    answered: int
    options: list[OptionResult]
    texts: list[str]


def _label(value, lang: str) -> str:
    if isinstance(value, dict):
        return str(value.get(lang) or value.get("zh") or value.get("en") or "")
    return str(value or "")


def clean_questions(questions) -> list[dict]:
    """Questions checked and normalized (keys q1, q2...); NoticeError naming the first problem."""
    if not isinstance(questions, list) or not questions:
        raise NoticeError(msg("a questionnaire needs at least one question"))
    if len(questions) > MAX_QUESTIONS:
        raise NoticeError(msg("a questionnaire may have at most %(count)s questions", count=MAX_QUESTIONS))
    cleaned = []
    for number, q in enumerate(questions, 1):
        kind = KIND_WORDS.get(str(q.get("kind") or "").strip(), str(q.get("kind") or "").strip())
        label = q.get("label") or q.get("question")
        if kind not in KINDS:
            raise NoticeError(msg("question %(n)s: the kind must be single, multiple or open", n=number))
        if not _label(label, "zh").strip():
            raise NoticeError(msg("question %(n)s has no text", n=number))
        options = q.get("options") or []
        if isinstance(options, str):
            options = _SPLIT.split(options)
        options = list(dict.fromkeys(str(o).strip()[:200] for o in options if str(o).strip()))
        if kind != "open" and len(options) < 2:
            raise NoticeError(msg("question %(n)s needs at least two options (separate them with ;)", n=number))
        if len(options) > MAX_OPTIONS:
            raise NoticeError(msg("question %(n)s may have at most %(count)s options", n=number, count=MAX_OPTIONS))
        label = label if isinstance(label, dict) else {"zh": str(label).strip(), "en": str(label).strip()}
        cleaned.append({"key": f"q{number}", "kind": kind, "label": label,
                        "options": options if kind != "open" else [], "required": _truthy(q.get("required"))})
    return cleaned


def _truthy(value) -> bool:
    return value is True or str(value).strip().lower() in ("true", "yes", "1", "是", "必答", "required")


def define_survey(session: Session, title: str, questions, anonymous: bool = False,
                  created_by: str | None = None) -> int:
    """Store a questionnaire; returns its id. The caller commits."""
    survey = Survey(title=(title or "").strip()[:300] or "—", anonymous=bool(anonymous),
                    questions=clean_questions(questions), created_by=created_by)
    session.add(survey)
    session.flush()
    return survey.id


def form_schema(survey: Survey) -> dict:
    """The survey as a form schema of the forms engine (radio / checkboxes / textarea fields)."""
    fields = []
    for q in survey.questions:
        spec = {"name": q["key"], "type": KINDS[q["kind"]], "label": q["label"], "required": bool(q["required"])}
        if q["kind"] != "open":
            spec["options"] = [{"value": str(i), "label": {"zh": o, "en": o}} for i, o in enumerate(q["options"])]
        else:
            spec["max_length"] = 2000
        fields.append(spec)
    return {"title": {"zh": survey.title, "en": survey.title}, "fields": fields}


def has_answered(session: Session, survey_id: int, person_id: int) -> bool:
    """Whether the person has answered the survey (one primary-key read)."""
    return session.get(SurveyRespondent, (survey_id, person_id)) is not None


def answer(session: Session, survey_id: int, person_id: int, answers, lang: str = "zh") -> str:
    """Store a person's answers, once; returns the response id. `answers`: a browser post (with
    `getlist`) or a plain dict. Refused: invalid answers (FormInvalidError with each question's error),
    a second answer (NoticeError). Nothing is stored when refused. The caller commits."""
    survey = session.get(Survey, survey_id)
    if survey is None:
        raise NotFoundError(msg("no questionnaire %(id)s", id=survey_id))
    if has_answered(session, survey_id, person_id):
        raise NoticeError(msg("you have already answered this questionnaire"))
    schema, context = form_schema(survey), FormContext(lang=lang)
    if hasattr(answers, "getlist"):
        from forms.schema import load_schema
        result = validate_formdata(load_schema(schema), answers, context)
    else:
        result = validate_data(schema, answers if isinstance(answers, dict) else {}, context)
    if not result.ok:
        raise FormInvalidError("survey", result.errors)
    response_id = uuid.uuid4().hex
    try:
        with session.begin_nested():
            session.execute(insert(SurveyRespondent.__table__), [{"survey_id": survey_id, "person_id": person_id,
                                                                  "responded_at": utcnow()}])
    except IntegrityError:
        raise NoticeError(msg("you have already answered this questionnaire")) from None
    session.execute(insert(SurveyResponse.__table__), [{"id": response_id, "survey_id": survey_id,
                                                        "person_id": None if survey.anonymous else person_id}])
    rows = list(_answer_rows(survey, response_id, result.data))
    if rows:
        session.execute(insert(SurveyAnswer.__table__), rows)
    return response_id


def _answer_rows(survey: Survey, response_id: str, data: dict):
    for q in survey.questions:
        value = data.get(q["key"])
        if q["kind"] == "open":
            if value is not None and str(value).strip():
                yield {"response_id": response_id, "question": q["key"], "position": 0, "survey_id": survey.id,
                       "choice": None, "text": str(value).strip()}
            continue
        chosen = value if isinstance(value, list) else ([value] if value not in (None, "") else [])
        for position, index in enumerate(chosen):
            option = q["options"][int(index)]
            yield {"response_id": response_id, "question": q["key"], "position": position, "survey_id": survey.id,
                   "choice": option, "text": None}


def results(session: Session, survey_id: int, lang: str = "zh") -> tuple[Survey, int, list[QuestionResult]]:
    """(survey, responses, each question's results): counts from one GROUP BY, percentages of the
    question's respondents (a multiple-choice question's add up to more than 100)."""
    survey = session.get(Survey, survey_id)
    if survey is None:
        raise NotFoundError(msg("no questionnaire %(id)s", id=survey_id))
    a = SurveyAnswer.__table__
    responses = session.scalar(select(func.count()).select_from(SurveyResponse)
                               .where(SurveyResponse.survey_id == survey_id)) or 0
    counts = {(q, c): n for q, c, n in session.execute(
        select(a.c.question, a.c.choice, func.count()).where(a.c.survey_id == survey_id, a.c.choice.is_not(None))
        .group_by(a.c.question, a.c.choice)).all()}
    answered = dict(session.execute(select(a.c.question, func.count(func.distinct(a.c.response_id)))
                                    .where(a.c.survey_id == survey_id).group_by(a.c.question)).all())
    out = []
    for q in survey.questions:
        texts = []
        if q["kind"] == "open":
            texts = list(session.scalars(select(a.c.text).where(a.c.survey_id == survey_id, a.c.question == q["key"])
                                         .order_by(a.c.response_id).limit(MAX_OPEN_SHOWN)))
        n = answered.get(q["key"], 0)
        options = [OptionResult(o, counts.get((q["key"], o), 0), percent(counts.get((q["key"], o), 0), n))
                   for o in q["options"]]
        out.append(QuestionResult(q["key"], q["kind"], _label(q["label"], lang), n, options, texts))
    return survey, responses, out


def notice_survey(session: Session, notice_id: int, username: str, for_results: bool = False) -> tuple[Notice, int | None]:
    """The notice with a survey that `username` may answer (a recipient: returns their person id) or,
    `for_results`, see the results of (its sender or a super admin). Otherwise NotFoundError."""
    notice = session.get(Notice, notice_id)
    if notice is None or notice.survey_id is None:
        raise NotFoundError(msg("no notice %(id)s", id=notice_id))
    if for_results:
        if not may_see_receipts(session, username, notice):
            raise NotFoundError(msg("no notice %(id)s", id=notice_id))
        return notice, None
    person_id = session.scalar(select(NoticeRecipient.person_id).where(NoticeRecipient.notice_id == notice_id,
                                                                       NoticeRecipient.username == username))
    if person_id is None:
        raise NotFoundError(msg("no notice %(id)s", id=notice_id))
    return notice, person_id


def answer_notice(session: Session, notice_id: int, username: str, answers, lang: str = "zh") -> str:
    """A recipient answers the notice's questionnaire (see `answer`); also records the notice as read."""
    notice, person_id = notice_survey(session, notice_id, username)
    response = answer(session, notice.survey_id, person_id, answers, lang)
    now = utcnow()
    r = NoticeRecipient.__table__
    session.execute(r.update().where(r.c.notice_id == notice_id, r.c.person_id == person_id, r.c.read_at.is_(None))
                    .values(read_at=now))
    return response


_HEAD = {"zh": ("问题", "选项", "人数", "百分比", "回答", "答卷", "姓名"),
         "en": ("Question", "Option", "Count", "Percent", "Answer", "Response", "Name")}


def export_xlsx(session: Session, survey_id: int, lang: str = "zh") -> bytes:
    """The results as an XLSX workbook: a summary sheet (counts, percentages, open answers) and one row
    per response (with the person's name only when the survey is named)."""
    survey, _responses, questions = results(session, survey_id, lang)
    head = _HEAD["en" if lang == "en" else "zh"]
    book = Workbook()
    sheet = book.active
    sheet.title = "Summary" if lang == "en" else "汇总"
    sheet.append(head[:4])
    for q in questions:
        for o in q.options:
            sheet.append([q.label, o.label, o.count, o.pct / 100])
            sheet.cell(sheet.max_row, 4).number_format = "0.0%"
        for text in q.texts:
            sheet.append([q.label, head[4], None, None, text])
    rows = book.create_sheet("Responses" if lang == "en" else "答卷")
    rows.append([head[5]] + ([] if survey.anonymous else [head[6]]) + [q.label for q in questions])
    for _response_id, cells in _responses_table(session, survey):
        rows.append(cells)
    for worksheet in book.worksheets:
        _as_text(worksheet)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _as_text(sheet) -> None:
    """Answers and labels stay text: a cell typed as `=HYPERLINK(...)` is not a formula in Excel."""
    for row in sheet.iter_rows():
        for cell in row:
            if isinstance(cell.value, str) and cell.data_type == "f":
                cell.data_type = "s"


def _responses_table(session: Session, survey: Survey):
    a = SurveyAnswer.__table__
    answers: dict[str, dict[str, list[str]]] = {}
    for response_id, question, choice, text in session.execute(
            select(a.c.response_id, a.c.question, a.c.choice, a.c.text).where(a.c.survey_id == survey.id)
            .order_by(a.c.response_id, a.c.question, a.c.position)):
        answers.setdefault(response_id, {}).setdefault(question, []).append(choice if choice is not None else text)
    people = dict(session.execute(select(SurveyResponse.id, Person.name).join(Person, Person.id == SurveyResponse.person_id)
                                  .where(SurveyResponse.survey_id == survey.id)).all()) if not survey.anonymous else {}
    ids = session.scalars(select(SurveyResponse.id).where(SurveyResponse.survey_id == survey.id)
                          .order_by(SurveyResponse.id))
    for number, response_id in enumerate(ids, 1):
        given = answers.get(response_id, {})
        cells = [number] + ([] if survey.anonymous else [people.get(response_id, "")])
        cells += ["; ".join(given.get(q["key"], [])) for q in survey.questions]
        yield response_id, cells

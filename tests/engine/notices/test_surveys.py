"""Surveys: answers once per person, anonymity, results against SQL counts, the XLSX export."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, inspect, select, text

from engine.data.notice_models import SurveyAnswer, SurveyRespondent, SurveyResponse
from engine.errors import FormInvalidError, NotFoundError
from engine.notices import sending, surveys
from engine.notices.sending import NoticeError

QUESTIONS = [
    {"question": "食堂满意度", "kind": "单选", "options": "满意; 一般; 不满意", "required": True},
    {"question": "希望增加的培训", "kind": "multiple", "options": "Python；沟通；管理", "required": False},
    {"question": "其他建议", "kind": "open"},
]


def _notice_survey(sessions, anonymous: bool) -> int:
    with sessions() as session, session.begin():
        survey_id = surveys.define_survey(session, "需求调研", QUESTIONS, anonymous=anonymous, created_by="hu")
        notice_id = sending.create_notice(session, "hu", "需求调研", {"everyone": True}, kind="survey",
                                          survey_id=survey_id)
    sending.run_job(sessions, notice_id)
    return notice_id


def _answer(sessions, notice_id, username, answers):
    with sessions() as session, session.begin():
        return surveys.answer_notice(session, notice_id, username, answers)


def test_questions_are_checked_with_a_precise_message():
    with pytest.raises(NoticeError, match="question 1 needs at least two options"):
        surveys.clean_questions([{"question": "a", "kind": "single", "options": "only"}])
    with pytest.raises(NoticeError, match="question 2: the kind must be single, multiple or open"):
        surveys.clean_questions([{"question": "a", "kind": "open"}, {"question": "b", "kind": "ranking"}])
    cleaned = surveys.clean_questions(QUESTIONS)
    assert [q["kind"] for q in cleaned] == ["single", "multiple", "open"]
    assert cleaned[1]["options"] == ["Python", "沟通", "管理"] and cleaned[0]["required"]


def test_results_match_sql_counts_and_the_export(sessions, org):
    notice_id = _notice_survey(sessions, anonymous=False)
    _answer(sessions, notice_id, "li", {"q1": "0", "q2": ["0", "1"], "q3": "多开一些课"})
    _answer(sessions, notice_id, "zhang", {"q1": "0", "q2": ["1"]})
    _answer(sessions, notice_id, "wang", {"q1": "2"})
    with sessions() as session:
        survey_id = surveys.notice_survey(session, notice_id, "hu", for_results=True)[0].survey_id
        survey, responses, questions = surveys.results(session, survey_id, "zh")
        assert responses == 3
        for q in questions:
            for option in q.options:
                sql = session.execute(text("SELECT count(*) FROM survey_answer WHERE survey_id = :s AND question = :q "
                                           "AND choice = :c"), {"s": survey_id, "q": q.key, "c": option.label}).scalar()
                assert option.count == sql
                assert option.pct == (round(100.0 * sql / q.answered, 1) if q.answered else 0.0)
        single, multiple, open_ = questions
        assert [(o.label, o.count, o.pct) for o in single.options] == [("满意", 2, 66.7), ("一般", 0, 0.0),
                                                                       ("不满意", 1, 33.3)]
        assert multiple.answered == 2 and [o.count for o in multiple.options] == [1, 2, 0]
        assert open_.texts == ["多开一些课"]
        book = load_workbook(io.BytesIO(surveys.export_xlsx(session, survey_id, "zh")))
        summary = [row for row in book["汇总"].iter_rows(min_row=2, values_only=True)]
        assert summary[0][:3] == ("食堂满意度", "满意", 2)
        answers = list(book["答卷"].iter_rows(values_only=True))
        assert answers[0][:3] == ("答卷", "姓名", "食堂满意度") and len(answers) == 4
        assert {row[1] for row in answers[1:]} == {"li-名", "zhang-名", "wang-名"}


def test_anonymous_answers_hold_no_person_and_nobody_answers_twice(sessions, org):
    notice_id = _notice_survey(sessions, anonymous=True)
    _answer(sessions, notice_id, "li", {"q1": "1", "q3": '=HYPERLINK("http://x.example","点我")'})
    with pytest.raises(NoticeError, match="already answered"):
        _answer(sessions, notice_id, "li", {"q1": "0"})
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(SurveyRespondent)) == 1  # li has answered...
        assert session.scalars(select(SurveyResponse.person_id)).all() == [None]  # ...but no answer says who
        columns = {c["name"] for c in inspect(session.bind).get_columns("survey_answer")}
        assert not columns & {"person_id", "username", "created_at", "id"}
        assert session.scalar(select(func.count()).select_from(SurveyAnswer)) == 2
        survey_id = surveys.notice_survey(session, notice_id, "hu", for_results=True)[0].survey_id
        book = load_workbook(io.BytesIO(surveys.export_xlsx(session, survey_id, "en")))
        rows = list(book["Responses"].iter_rows())
        assert [c.value for c in rows[0][:2]] == ["Response", "食堂满意度"]
        assert rows[1][3].value.startswith("=HYPERLINK") and rows[1][3].data_type == "s"  # text, not a formula


def test_an_invalid_answer_is_refused_and_stores_nothing(sessions, org):
    notice_id = _notice_survey(sessions, anonymous=False)
    with pytest.raises(FormInvalidError) as refused:
        _answer(sessions, notice_id, "li", {"q2": ["0"]})  # the required q1 is missing
    assert "q1" in refused.value.errors
    with pytest.raises(FormInvalidError):
        _answer(sessions, notice_id, "li", {"q1": "7"})  # no such option
    with pytest.raises(NotFoundError):
        _answer(sessions, notice_id, "nobody", {"q1": "0"})
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(SurveyRespondent)) == 0
        assert session.scalar(select(func.count()).select_from(SurveyResponse)) == 0
    _answer(sessions, notice_id, "li", {"q1": "0"})  # a correct answer afterwards is taken
    with sessions() as session, pytest.raises(NotFoundError):
        surveys.notice_survey(session, notice_id, "li", for_results=True)  # results: sender and admins


def test_a_questionnaires_receipts_count_and_remind_those_who_have_not_answered(sessions, org):
    from engine.data.models import Notification
    from engine.notices import receipts
    notice_id = _notice_survey(sessions, anonymous=True)
    with sessions() as session, session.begin():
        receipts.open_notice(session, notice_id, "zhang")  # read, not answered: still to act
    _answer(sessions, notice_id, "li", {"q1": "0"})
    with sessions() as session, session.begin():
        result = receipts.receipts(session, "hu", notice_id)
        assert (result.total, result.answered) == (6, 1)
        unread = receipts.unread_people(session, "hu", notice_id, lang="en")
        assert unread.total == 5 and ("Li", "RD") not in unread.items
        receipts.request_reminder(session, "hu", notice_id)
    sending.run_job(sessions, notice_id)
    with sessions() as session:
        reminded = set(session.scalars(select(Notification.recipient).where(Notification.event == "notice_reminder")))
        assert reminded == {"admin", "hu", "wang", "zhang", "zhou"}

"""Demo data for `liaison demo`: one notice from HR to the whole company, with a short questionnaire.

Idempotent: nothing is added when a notice with the demo title exists, or when HR's demo person `hu` is
missing. The fan-out is the background job's, as for any notice (`make run` runs it in process).
"""

from __future__ import annotations

from sqlalchemy import select

from engine.data.models import Person
from engine.data.notice_models import Notice
from engine.notices import sending, surveys

TITLE = "关于 2027 年春节放假安排及考勤制度调整的通知"
BODY = """各位同事：

根据国家规定并结合公司实际，2027 年春节放假安排如下：

- **2 月 5 日至 2 月 11 日**放假调休，共 7 天；
- 2 月 1 日（周日）、2 月 13 日（周六）正常上班。

自 3 月 1 日起执行新的考勤制度：弹性上班时间 8:30-9:30，每月补卡不超过 3 次。详细规定见人事制度手册。

人事部"""
QUESTIONS = [
    {"question": "您是否清楚新的考勤制度？", "kind": "single", "options": "清楚; 部分清楚; 不清楚", "required": True},
    {"question": "您希望人事部提供哪些培训？", "kind": "multiple", "options": "考勤系统使用; 劳动法规; 职业发展",
     "required": False},
    {"question": "其他意见和建议", "kind": "open", "required": False},
]


def load_demo(sessions) -> str:
    """Send the demo notice once; returns a line for the CLI to print."""
    with sessions() as session, session.begin():
        if session.scalar(select(Notice.id).where(Notice.title == TITLE)) is not None:
            return "demo notice: already sent"
        if session.scalar(select(Person.id).where(Person.username == "hu", Person.active)) is None:
            return "demo notice: skipped (no demo person hu)"
        survey_id = surveys.define_survey(session, "考勤制度与培训需求", QUESTIONS, anonymous=True, created_by="hu")
        notice_id = sending.create_notice(session, "hu", TITLE, {"everyone": True}, body=BODY, ack_required=True,
                                          survey_id=survey_id)
        total = sending.progress(session, notice_id)[1]
    return f"demo notice: sent to {total} people (/notices/{notice_id})"

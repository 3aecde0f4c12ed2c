"""Tables of policy notices with read receipts, and of surveys (`engine.notices`).

A `notice` is sent once to an audience (people, department subtrees, roles) fixed when it is created;
its `notice_recipient` rows are written in the background in batches (`job` says what background work
the notice waits for; `claimed_until` is the dispatcher's lease, as on `timer` and `outbox`).

Anonymity of surveys: a `survey_response` of an anonymous survey holds no person id and no time; its id
is random, and an answer's key is (response, question, position), so neither ids nor times link an
answer to the `survey_respondent` row that records "has answered" (one answer per person).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.data.models import Base, utcnow

_BIG_ID = BigInteger().with_variant(Integer(), "sqlite")


class Survey(Base):
    """A questionnaire: `questions` is a list of {key, kind single/multiple/open, label, options, required}."""

    __tablename__ = "survey"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    anonymous: Mapped[bool] = mapped_column(default=False)
    questions: Mapped[list] = mapped_column(JSON, default=list)
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SurveyRespondent(Base):
    """That a person has answered a survey (kept apart from the answers: anonymous surveys too)."""

    __tablename__ = "survey_respondent"

    survey_id: Mapped[int] = mapped_column(ForeignKey("survey.id", ondelete="CASCADE"), primary_key=True)
    person_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    responded_at: Mapped[datetime] = mapped_column(default=utcnow)


class SurveyResponse(Base):
    """One submitted questionnaire; `person_id` only when the survey is named (not anonymous)."""

    __tablename__ = "survey_response"
    __table_args__ = (Index("ix_survey_response_survey", "survey_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # random (uuid4 hex): no order to link by
    survey_id: Mapped[int] = mapped_column(ForeignKey("survey.id", ondelete="CASCADE"))
    person_id: Mapped[int | None] = mapped_column(Integer)


class SurveyAnswer(Base):
    """One chosen option (`choice`) or one open answer (`text`) of a response."""

    __tablename__ = "survey_answer"
    __table_args__ = (Index("ix_survey_answer_count", "survey_id", "question", "choice"),)

    response_id: Mapped[str] = mapped_column(ForeignKey("survey_response.id", ondelete="CASCADE"),
                                             primary_key=True)
    question: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    survey_id: Mapped[int] = mapped_column(Integer)  # the response's, for GROUP BY without a join
    choice: Mapped[str | None] = mapped_column(String(200))
    text: Mapped[str | None] = mapped_column(Text)


class Notice(Base):
    """A policy notice (kind `notice`) or a questionnaire sent like one (kind `survey`)."""

    __tablename__ = "notice"
    __table_args__ = (Index("ix_notice_sender", "sender", "created_at"), Index("ix_notice_job", "job"))

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), default="notice")  # notice | survey
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str | None] = mapped_column(Text)  # markdown, rendered without raw HTML
    attachments: Mapped[list] = mapped_column(JSON, default=list)  # upload ids
    sender: Mapped[str] = mapped_column(String(100))
    instance_id: Mapped[int | None] = mapped_column(Integer, unique=True)  # the process that sent it: once
    audience: Mapped[dict] = mapped_column(JSON, default=dict)  # {people: [], departments: [], roles: []}
    ack_required: Mapped[bool] = mapped_column(default=False)
    survey_id: Mapped[int | None] = mapped_column(ForeignKey("survey.id"))
    robot: Mapped[str | None] = mapped_column(String(100))  # a webhook endpoint told once per notice
    status: Mapped[str] = mapped_column(String(20), default="sending")  # sending | sent
    total: Mapped[int] = mapped_column(Integer, default=0)
    delivered: Mapped[int] = mapped_column(Integer, default=0)
    cursor: Mapped[int] = mapped_column(Integer, default=0)  # the last person id fanned out
    job: Mapped[str | None] = mapped_column(String(20))  # fanout | remind | None: background work due
    claimed_until: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column()
    reminded_at: Mapped[datetime | None] = mapped_column()
    reminded_by: Mapped[str | None] = mapped_column(String(100))


class NoticeRecipient(Base):
    """One person a notice reached: delivered (in-app item and e-mail queued), read, acknowledged, reminded."""

    __tablename__ = "notice_recipient"
    __table_args__ = (
        UniqueConstraint("notice_id", "person_id", name="uq_notice_recipient"),
        Index("ix_notice_recipient_department", "notice_id", "department_id"),
        Index("ix_notice_recipient_username", "username", "notice_id"),
    )

    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notice.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(Integer)
    username: Mapped[str] = mapped_column(String(100))
    department_id: Mapped[int | None] = mapped_column(Integer)  # at sending time: receipts group by it
    delivered_at: Mapped[datetime | None] = mapped_column()
    read_at: Mapped[datetime | None] = mapped_column()
    acknowledged_at: Mapped[datetime | None] = mapped_column()
    reminded_at: Mapped[datetime | None] = mapped_column()

"""Tables of training assessment (培训考核): courses HR defines, who is assigned which course, every
graded attempt with each question's correctness (for the score table's statistics), and the
certificates a pass issues.

A course's quiz is a list of forms-engine quiz fields (`forms.quiz`, with the answer key); the
person's task runs in the package `processes/training_assessment`, one instance per assignment.
These rows, not the instance's data, are the record HR's score table, certificates and role grants
read (`engine.training`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.data.models import Base, utcnow


class TrainingCourse(Base):
    """A course: titles, description, materials (uploads and links), the quiz and its rules."""

    __tablename__ = "training_course"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    title_en: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    description_en: Mapped[str] = mapped_column(Text, default="")
    links: Mapped[list] = mapped_column(JSON, default=list)        # [{"label": ..., "url": ...}]
    materials: Mapped[list] = mapped_column(JSON, default=list)    # upload ids (engine.runtime.uploads)
    quiz: Mapped[list] = mapped_column(JSON, default=list)         # forms-engine quiz fields, with the key
    pass_mark: Mapped[int] = mapped_column(Integer, default=80)
    attempt_limit: Mapped[int] = mapped_column(Integer, default=3)
    due_days: Mapped[int] = mapped_column(Integer, default=14)     # default due date of an assignment
    grant_role: Mapped[str | None] = mapped_column(String(100))   # role key granted on a pass
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class TrainingAssignment(Base):
    """One person's course, with its due time and the instance of `training_assessment` it runs in."""

    __tablename__ = "training_assignment"
    __table_args__ = (UniqueConstraint("course_id", "username", name="uq_training_assignment"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("training_course.id", ondelete="CASCADE"))
    username: Mapped[str] = mapped_column(String(100), index=True)
    due_at: Mapped[datetime] = mapped_column()
    instance_id: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10), default="open")  # open | passed | failed
    assigned_by: Mapped[str] = mapped_column(String(100))
    assigned_at: Mapped[datetime] = mapped_column(default=utcnow)


class TrainingAttempt(Base):
    """A graded attempt; (assignment, attempt number) is unique, so one attempt is recorded once."""

    __tablename__ = "training_attempt"
    __table_args__ = (UniqueConstraint("assignment_id", "attempt_no", name="uq_training_attempt"),
                      Index("ix_training_attempt_course", "course_id", "username"))

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("training_assignment.id", ondelete="CASCADE"))
    course_id: Mapped[int] = mapped_column(Integer)
    username: Mapped[str] = mapped_column(String(100))
    attempt_no: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Numeric(6, 2, asdecimal=False))
    passed: Mapped[bool] = mapped_column(Boolean)
    review: Mapped[dict] = mapped_column(JSON, default=dict)  # forms.quiz result, with the answer key
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)


class TrainingAnswer(Base):
    """One question of one attempt: right or not (a partly right multiple choice counts as wrong)."""

    __tablename__ = "training_answer"

    attempt_id: Mapped[int] = mapped_column(ForeignKey("training_attempt.id", ondelete="CASCADE"),
                                            primary_key=True)
    question: Mapped[str] = mapped_column(String(100), primary_key=True)
    course_id: Mapped[int] = mapped_column(Integer, index=True)
    correct: Mapped[bool] = mapped_column(Boolean)


class TrainingCertificate(Base):
    """The certificate of a pass; its serial (`TC-YYYY-NNNNNN`) is printed on the PDF."""

    __tablename__ = "training_certificate"

    id: Mapped[int] = mapped_column(primary_key=True)
    serial: Mapped[str] = mapped_column(String(40), unique=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("training_assignment.id", ondelete="CASCADE"),
                                               unique=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("training_attempt.id", ondelete="CASCADE"))
    username: Mapped[str] = mapped_column(String(100), index=True)
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)

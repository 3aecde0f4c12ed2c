"""Certificates of a pass as PDF, drawn with reportlab. Chinese text uses reportlab's built-in CID font
`STSong-Light` (Adobe's Asian font pack names it; viewers supply the glyphs), so no font file ships;
its text extracts (checked with pypdf in tests/engine/training).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime

from reportlab.lib.pagesizes import A4, landscape
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.bpmn.workflow import company_zone
from engine.data.models import Person
from engine.data.training_models import TrainingAttempt, TrainingCertificate, TrainingCourse
from engine.errors import NotFoundError, msg
from engine.training.courses import may_manage

CJK_FONT = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))


@dataclass(frozen=True)
class CertificateView:
    """What a certificate says."""

    id: int
    serial: str
    username: str
    name: str
    name_en: str
    course: str
    course_en: str
    score: float
    issued_at: datetime


def certificate_view(session: Session, certificate_id: int, viewer: str, groups, is_super_admin: bool
                     ) -> CertificateView:
    """The certificate, for its holder and for HR and admins; NotFoundError for anyone else."""
    row = session.execute(
        select(TrainingCertificate, TrainingAttempt, TrainingCourse, Person)
        .join(TrainingAttempt, TrainingAttempt.id == TrainingCertificate.attempt_id)
        .join(TrainingCourse, TrainingCourse.id == TrainingAttempt.course_id)
        .join(Person, Person.username == TrainingCertificate.username)
        .where(TrainingCertificate.id == certificate_id)).first()
    if row is None or (row[0].username != viewer and not may_manage(groups, is_super_admin)):
        raise NotFoundError(msg("no certificate %(id)s", id=certificate_id))
    cert, attempt, course, person = row
    return CertificateView(cert.id, cert.serial, person.username, person.name, person.name_en or person.name,
                           course.title, course.title_en, float(attempt.score), cert.issued_at)


def certificate_pdf(view: CertificateView) -> bytes:
    """A one-page A4 landscape certificate in Chinese and English."""
    buffer = io.BytesIO()
    width, height = landscape(A4)
    pdf = canvas.Canvas(buffer, pagesize=(width, height), invariant=1)
    pdf.setTitle(f"{view.serial} {view.course_en}")
    pdf.setLineWidth(3)
    pdf.rect(30, 30, width - 60, height - 60)
    day = view.issued_at.astimezone(company_zone()).date().isoformat()
    lines = [
        (CJK_FONT, 34, height - 120, "培训合格证书"),
        ("Helvetica-Bold", 22, height - 155, "Certificate of Completion"),
        (CJK_FONT, 20, height - 230, f"兹证明 {view.name} 通过了「{view.course}」考核，成绩 {view.score:g} 分。"),
        ("Helvetica", 16, height - 265,
         f"This certifies that {view.name_en} passed the assessment of \"{view.course_en}\""),
        ("Helvetica", 16, height - 288, f"with a score of {view.score:g}."),
        (CJK_FONT, 14, 120, f"日期 Date: {day}"),
        (CJK_FONT, 14, 96, f"证书编号 Serial: {view.serial}"),
    ]
    for font, size, y, text in lines:
        pdf.setFont(font, size)
        pdf.drawCentredString(width / 2, y, text)
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def certificate_of(session: Session, assignment_id: int) -> TrainingCertificate | None:
    """The assignment's certificate, if it was passed."""
    return session.scalar(select(TrainingCertificate).where(TrainingCertificate.assignment_id == assignment_id))

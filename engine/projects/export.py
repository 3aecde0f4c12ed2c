"""The task list as CSV or XLSX: every cell is text (a value starting with = + - @ is prefixed with a
quote so no spreadsheet runs it as a formula), names shown by display name, in the reader's language.
"""

from __future__ import annotations

import csv
import io

from openpyxl import Workbook

from engine.data.project_models import ProjectTask

HEADERS = {"zh": ("编号", "标题", "负责人", "状态", "优先级", "标签", "开始日期", "截止时间", "完成时间"),
           "en": ("Id", "Title", "Owner", "Status", "Priority", "Labels", "Start", "Due", "Done")}
STATUS_WORDS = {"zh": {"open": "待开始", "in_progress": "进行中", "done": "已完成", "cancelled": "已取消"},
                "en": {"open": "To do", "in_progress": "In progress", "done": "Done", "cancelled": "Cancelled"}}
PRIORITY_WORDS = {"zh": {"low": "低", "normal": "普通", "high": "高", "urgent": "紧急"},
                  "en": {"low": "Low", "normal": "Normal", "high": "High", "urgent": "Urgent"}}
RISKY = ("=", "+", "-", "@", "\t", "\r")


def text_cell(value) -> str:
    """The value as text a spreadsheet never reads as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(RISKY) else text


def rows(tasks: list[ProjectTask], names: dict[str, str], lang: str, tz) -> list[list[str]]:
    """The header and one row per task, all text."""
    lang = "en" if lang == "en" else "zh"
    out = [list(HEADERS[lang])]
    for t in tasks:
        out.append([text_cell(v) for v in (
            t.id, t.title, names.get(t.owner, t.owner), STATUS_WORDS[lang][t.status], PRIORITY_WORDS[lang][t.priority],
            ", ".join(t.labels or []), t.start_on.isoformat() if t.start_on else "",
            t.due_at.astimezone(tz).strftime("%Y-%m-%d %H:%M") if t.due_at else "",
            t.done_at.astimezone(tz).strftime("%Y-%m-%d %H:%M") if t.done_at else "")])
    return out


def to_csv(table: list[list[str]]) -> bytes:
    """UTF-8 with a BOM (so Excel opens Chinese text right)."""
    out = io.StringIO()
    csv.writer(out).writerows(table)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(table: list[list[str]]) -> bytes:
    """One sheet; every cell stored as a string."""
    book = Workbook()
    sheet = book.active
    sheet.title = "Tasks"
    for row in table:
        sheet.append(row)
    for row in sheet.iter_rows():
        for cell in row:
            cell.data_type = "s"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()

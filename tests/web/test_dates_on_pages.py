"""One way to write a moment on a page (forms.dates.moment_text behind web.i18n.when): an employee's task page
and a portal case page, in Chinese and in English, write the times they store (a due time, a visitor pass)
and the form values they show (a typed date-time) alike, "2026-12-05 04:32", in the reader's time zone; read
only, numbers and money group their thousands."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from sqlalchemy import select, update

from engine import runtime
from engine.data.external_models import ExternalGrant
from engine.data.models import Person, WorkTask, utcnow
from engine.external import passes
from engine.external import sessions as portal_sessions
from engine.packages import deployment as packages
from engine.people import accounts
from tests.engine.conftest import flow, write_package
from tests.engine.portal.support import add_grant, open_task

from .conftest import PASSWORD, sign_in

VISITOR_BOOKING = Path(__file__).resolve().parents[2] / "processes" / "visitor_booking"
CLDR_SHORT = re.compile(r"\b\d{4}/\d{1,2}/\d{1,2}\b|\b\d{1,2}/\d{1,2}/\d{2}\b|\d [AP]M\b")  # 2026/12/5, 12/5/26, 4 AM
ASK = {"title": {"zh": "申请", "en": "Request"}, "fields": [
    {"name": "amount", "type": "number", "label": {"zh": "数量", "en": "Quantity"}},
    {"name": "price", "type": "money", "label": {"zh": "金额", "en": "Price"}},
    {"name": "on", "type": "date", "label": {"zh": "日期", "en": "Day"}},
    {"name": "at", "type": "datetime", "label": {"zh": "时间", "en": "Time"}}]}
LANGS = ["zh", "en"]


def _value(page: str, label: str) -> str:
    """The read-only text shown under `label` in the page's form values."""
    after = page[page.index(f">{label}<"):]
    return re.search(r'class="lf-value"[^>]*>([^<]*)<', after).group(1).strip()


@pytest.fixture
def task_page(app, sessions, people, tmp_path):
    """A request (start form with a number, money, date and date-time) waiting for boss, due 2026-12-04
    20:32 UTC: 04:32 the next day in Shanghai, the test app's time zone."""
    with sessions() as session, session.begin():
        accounts.create_person_account(session, "boss", "Boss", PASSWORD)
    body = (f'<bpmn:startEvent id="start" liaison:form="ask"/><bpmn:userTask id="look" name="Look" '
            f'liaison:assignee="boss"/><bpmn:endEvent id="end"/>{flow("start", "look")}{flow("look", "end")}')
    folder = write_package(tmp_path, "req", {"req": body})
    (folder / "forms" / "ask.yaml").write_text(yaml.safe_dump(ASK, allow_unicode=True))
    packages.deploy_package(sessions, packages.load_package(folder), "admin")
    instance_id = runtime.start_instance(sessions, "req", {"amount": 12800, "price": 12800, "on": "2026-12-05",
                                                           "at": "2026-12-05T04:32"}, user="zhang").instance_id
    task_id = open_task(sessions, instance_id, "look")
    with sessions() as session, session.begin():
        session.execute(update(WorkTask).where(WorkTask.id == task_id)
                        .values(due_at=datetime(2026, 12, 4, 20, 32, tzinfo=UTC)))
    client = app.test_client()
    assert sign_in(client, "boss").status_code == 302
    return client, f"/tasks/{task_id}"


@pytest.mark.parametrize("lang", LANGS)
def test_an_employee_task_page_writes_its_times_and_values_one_way(task_page, lang):
    client, path = task_page
    response = client.get(path, headers={"Accept-Language": lang})
    page = response.get_data(as_text=True)
    assert response.status_code == 200, page
    due = re.search(r">(?:Due|截止时间|到期)[^<]*</dt>\s*<dd>([^<]*)<", page)
    assert due is not None and due.group(1) == "2026-12-05 04:32"
    labels = {"zh": ("数量", "金额", "日期", "时间"), "en": ("Quantity", "Price", "Day", "Time")}[lang]
    assert [_value(page, label) for label in labels] == [
        "12,800", "¥12,800.00（壹万贰仟捌佰元整）", "2026-12-05", "2026-12-05 04:32"]
    assert not CLDR_SHORT.search(page)


@pytest.mark.parametrize("lang", LANGS)
def test_a_portal_case_page_writes_the_pass_and_the_form_values_one_way(app, sessions, people, lang):
    with sessions() as session, session.begin():
        packages.deploy(session, packages.load_package(VISITOR_BOOKING), "admin")
        session.add(Person(username="zhou", name="周"))
    instance_id = runtime.start_instance(sessions, "visitor_booking", {
        "visitor_name": "Anna Berg", "visitor_company": "Nordic AB", "visitor_phone": "+46 70 123 45 67",
        "visitor_email": "anna@example.com", "visit_start": "2030-05-21T14:00", "visit_end": "2030-05-21T15:30",
        "purpose": "Audit", "host": "zhang"}, "zhang").instance_id
    passes.pass_code(open_task(sessions, instance_id, "check_in"))
    with sessions() as session:
        valid = session.execute(select(ExternalGrant.valid_from, ExternalGrant.valid_until)
                                .where(ExternalGrant.kind == "pass")).one()
    visitor = add_grant(sessions, kind="visitor", scopes=("view",), instance_id=instance_id)
    with sessions() as session, session.begin():
        token = portal_sessions.start(session.connection(), visitor, ip=None, user_agent=None, now=utcnow())
    client = app.test_client()
    client.set_cookie("liaison_portal", token, path="/portal")
    response = client.get(f"/portal/cases/{instance_id}", headers={"Accept-Language": lang})
    page = response.get_data(as_text=True)
    assert response.status_code == 200, page
    shanghai = [v.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")
                for v in valid]
    when = re.search(r'class="facts pass-facts">.*?</dt><dd>([^<]*)</dd>\s*$', page[:page.index("</dl>")], re.S)
    assert shanghai[0][:10] == shanghai[1][:10]  # a visit within one day: its date once
    assert when is not None and when.group(1) == f"{shanghai[0]} – {shanghai[1][11:]}"
    assert "2030-05-21 14:00" in page and "2030-05-21 15:30" in page  # the typed visit as the form values
    assert not CLDR_SHORT.search(page)

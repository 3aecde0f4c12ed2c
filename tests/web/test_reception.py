"""The reception page over HTTP: who may open it, looking up a pass by its code, checking in and out,
refusals (blacklist, not yet valid, already in, unknown code), and today's expected visits."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from engine import runtime
from engine.data.external_models import ExternalGrant
from engine.data.models import PersonRole, ProcessInstance, Role
from engine.external import passes
from engine.packages import deployment as packages
from engine.people import accounts

from .conftest import PASSWORD, csrf_token, sign_in

PROCESSES = Path(__file__).resolve().parents[2] / "processes"
ZONE = ZoneInfo("Asia/Shanghai")


@pytest.fixture(autouse=True)
def _settings(monkeypatch):
    monkeypatch.setenv("LIAISON_SECRET_KEY", "test-secret-for-passes")
    monkeypatch.setenv("LIAISON_TIMEZONE", "Asia/Shanghai")


@pytest.fixture
def desk(app, people, sessions):
    """visitor_booking deployed; zhou holds the role `reception`; returns zhou's signed-in client."""
    packages.deploy_package(sessions, packages.load_package(PROCESSES / "visitor_booking"), "admin")
    with sessions() as db, db.begin():
        zhou = accounts.create_person_account(db, "zhou", "周前台", PASSWORD, name_en="Zhou Desk")
        role = db.execute(select(Role).where(Role.key == "reception")).scalar() or Role(key="reception", name="前台")
        db.add(role)
        db.flush()
        db.add(PersonRole(person_id=zhou.id, role_id=role.id))
    client = app.test_client()
    assert sign_in(client, "zhou").status_code == 302
    return client


def book(sessions, starts_in: timedelta = timedelta(minutes=-10), **changes) -> str:
    """zhang invites a visitor for a slot starting `starts_in` from now (company time); returns the pass code."""
    now = datetime.now(ZONE).replace(second=0, microsecond=0)
    # a slot that began a little earlier, but never on the day before: just after midnight in the company's
    # time zone (16:00-16:10 UTC for Shanghai) "10 minutes ago" is yesterday, which the form refuses
    start = max(now + starts_in, now.replace(hour=0, minute=0))
    data = {"visitor_name": "王访客", "visitor_company": "星辰科技", "visitor_phone": "138 0013 8000",
            "visitor_email": "visitor@example.com", "visit_start": start.strftime("%Y-%m-%dT%H:%M"),
            "visit_end": (start + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"), "purpose": "项目评审",
            "host": "zhang", **changes}
    instance_id = runtime.start_instance(sessions, "visitor_booking", data, user="zhang").instance_id
    with sessions() as db:
        task_id = db.execute(select(ExternalGrant.task_id).where(ExternalGrant.instance_id == instance_id)).scalar_one()
    return passes.pass_code(task_id)


def _post(client, path: str, code: str, lang: str = "en"):
    return client.post(path, data={"code": code, "csrf_token": csrf_token(client, "/reception/")},
                       query_string={"lang": lang})


def test_only_receptionists_and_super_admins_open_the_page(app, desk):
    employee, root = app.test_client(), app.test_client()
    sign_in(employee, "zhang")
    sign_in(root, "root")
    assert employee.get("/reception/").status_code == 403
    assert root.get("/reception/").status_code == 200
    page = desk.get("/reception/").get_data(as_text=True)
    assert 'name="code"' in page and "autofocus" in page
    assert app.test_client().get("/reception/").status_code == 302
    assert 'href="/reception/"' in desk.get("/inbox/").get_data(as_text=True)  # in the main navigation
    assert 'href="/reception/"' not in employee.get("/inbox/").get_data(as_text=True)


def test_a_typed_code_shows_the_pass_and_the_visitor_is_checked_in_then_out(desk, sessions):
    code = book(sessions)
    typed = code[:4].lower() + "-" + code[4:].lower()  # as read aloud or typed on a phone
    page = _post(desk, "/reception/", typed).get_data(as_text=True)
    assert "王访客" in page and "星辰科技" in page and "Zhang San" in page and "Valid now" in page
    assert "On the visitor blacklist" not in page
    assert f"{code[:4]}-{code[4:]}" in page and 'name="code" value=""' in page  # the field is ready for the next scan
    checked_in = _post(desk, "/reception/check-in", code)
    assert checked_in.status_code == 200
    assert "Checked in: 王访客." in checked_in.get_data(as_text=True)
    again = _post(desk, "/reception/check-in", code)
    assert again.status_code == 409 and "already checked in" in again.get_data(as_text=True)
    out = _post(desk, "/reception/check-out", code, lang="zh")
    assert out.status_code == 200 and "已签离" in out.get_data(as_text=True)
    with sessions() as db:
        assert db.execute(select(ProcessInstance.status)).scalar_one() == "completed"


def test_a_scanned_pass_link_opens_its_pass(desk, sessions):
    code = book(sessions)
    page = _post(desk, "/reception/", f"https://wf.example.com/portal/pass?code={code}&lang=zh").get_data(as_text=True)
    assert "王访客" in page and "Valid now" in page


def test_a_blacklisted_visitor_is_shown_in_red_and_refused(desk, sessions):
    with sessions() as db, db.begin():
        passes.add_to_blacklist(db.connection(), name="黑名单", reason="曾闹事", phone="13800138000",
                                now=datetime.now(ZONE))
    code = book(sessions)
    page = _post(desk, "/reception/", code).get_data(as_text=True)
    assert "On the visitor blacklist — do not let in." in page and "曾闹事" in page
    refused = _post(desk, "/reception/check-in", code)
    assert refused.status_code == 403 and "Entry refused" in refused.get_data(as_text=True)
    with sessions() as db:
        assert db.execute(select(ProcessInstance.status)).scalar_one() == "running"


def test_refusals_say_why(desk, sessions):
    later = book(sessions, starts_in=timedelta(hours=3))
    early = _post(desk, "/reception/check-in", later)
    assert early.status_code == 409 and "not valid yet" in early.get_data(as_text=True)
    assert _post(desk, "/reception/check-out", later).status_code == 409
    unknown = _post(desk, "/reception/", "ZZZZ-ZZZZ")
    assert unknown.status_code == 404 and "No visitor pass has this code." in unknown.get_data(as_text=True)
    assert _post(desk, "/reception/check-in", "ZZZZZZZZ").status_code == 404
    assert _post(desk, "/reception/", "").status_code == 400


def test_a_super_admin_without_the_reception_role_is_refused_by_the_task(app, desk, sessions):
    code = book(sessions)
    root = app.test_client()
    sign_in(root, "root")
    assert _post(root, "/reception/check-in", code).status_code == 403


def test_today_lists_the_expected_visits_with_their_state(desk, sessions):
    book(sessions, visitor_name="早到者")
    book(sessions, starts_in=timedelta(days=3), visitor_name="后天来")
    page = desk.get("/reception/", query_string={"lang": "en"}).get_data(as_text=True)
    today = page.split('id="rc-today"')[1]
    assert "早到者" in today and "后天来" not in today and "Zhang San" in today and "Valid now" in today


def test_todays_visits_read_their_slot_as_the_pass_card_does(desk, sessions):
    code = book(sessions, visitor_name="早到者")
    card = desk.post("/reception/", data={"code": code, "csrf_token": csrf_token(desk, "/reception/")},
                     query_string={"lang": "zh"}).get_data(as_text=True)
    booked = re.search(r"<dd>([^<]*–[^<]*)</dd>", card).group(1)
    assert booked in card.split('id="rc-today"')[1]


def test_the_forms_need_their_csrf_token(desk, sessions):
    code = book(sessions)
    for path in ("/reception/", "/reception/check-in", "/reception/check-out"):
        assert desk.post(path, data={"code": code}).status_code == 400
    with sessions() as db:
        assert db.execute(select(ExternalGrant.checked_in_at)).scalar() is None

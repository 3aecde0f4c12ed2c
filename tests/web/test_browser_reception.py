"""The visitor booking end to end in headless Chromium: an employee invites a visitor on the start page
(the host invites: no approval), the pass e-mail is in the outbox, the receptionist types the code at
/reception on a phone (390x844) and checks the visitor in, then out, and the visit ends; a visitor on
the blacklist (added on the admin page) is shown in red and refused. With LIAISON_SCREENSHOTS=1 it also
saves docs/screenshots/reception-*.png, external-admin-zh-1280.png and access-log-en-1280.png."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from engine.data import db
from engine.data.models import OutboxMessage, PersonRole, ProcessInstance, Role, utcnow
from engine.external import audit, grants, parties
from engine.packages import deployment as packages
from engine.people import accounts
from tests.browser_support import chromium, serving
from web import create_app

from .conftest import PASSWORD

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
ZONE = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """visitor_booking deployed; zhang (employee), zhou (reception), root (super admin); a supplier with
    contacts and a few accesses for the admin pages."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LIAISON_SECRET_KEY", "browser-reception")
        patch.setenv("LIAISON_TIMEZONE", "Asia/Shanghai")
        url = f"sqlite:///{tmp_path_factory.mktemp('reception') / 'liaison.db'}"
        db.upgrade(url)
        engine = db.make_engine(url)
        sessions = db.make_session_factory(engine)
        with sessions() as session, session.begin():
            accounts.create_person_account(session, "zhang", "张三", PASSWORD, name_en="Zhang San")
            zhou = accounts.create_person_account(session, "zhou", "周前台", PASSWORD, name_en="Zhou Desk")
            accounts.create_admin(session, "root", PASSWORD, "管理员", utcnow())
            role = Role(key="reception", name="前台")
            session.add(role)
            session.flush()
            session.add(PersonRole(person_id=zhou.id, role_id=role.id))
        packages.deploy_package(sessions, packages.load_package(ROOT / "processes" / "visitor_booking"), "admin")
        _admin_data(sessions)
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "browser-reception"})
        with serving(app) as base:
            yield base, sessions
        engine.dispose()


def _admin_data(sessions) -> None:
    now = datetime.now(UTC)
    with sessions() as session, session.begin():
        conn = session.connection()
        party = parties.create_party(conn, kind="supplier", key="ACME", name="艾克米精密", name_en="Acme Precision")
        parties.add_contact(conn, party, name="Anna Wu", email="anna@acme.example", phone="021-5555 0101")
        parties.add_contact(conn, party, name="陈工", email="chen@acme.example", locale="zh")
        _id, code = grants.issue_code(conn, scopes=["view", "submit"], valid_until=now + timedelta(days=14),
                                      party_id=party, label="ACME 门户码", now=now)
        grants.issue_link(conn, scopes=["view", "fill"], valid_until=now + timedelta(days=3), party_id=party,
                          label="PO-2026-0117", recipient="anna@acme.example", now=now)
        audit.record(conn, action="view", outcome="ok", party_id=party, ip="203.0.113.7", user_agent="Mobile Safari")
    with sessions() as session, session.begin():
        grants.redeem_code(session.connection(), code, now, client="203.0.113.7", user_agent="Mobile Safari")
    for _ in range(2):
        with sessions() as session, pytest.raises(Exception):  # noqa: B017,PT011 - a wrong code, refused
            grants.redeem_code(session.connection(), "WRNG-CODE", now, client="198.51.100.4", user_agent="curl")


@pytest.fixture(scope="module")
def browser():
    yield from chromium()


def _signed_in(browser, base: str, username: str, lang: str, viewport: dict):
    phone = viewport["width"] < 500
    context = browser.new_context(viewport=viewport, locale="zh-CN", device_scale_factor=2 if phone else 1,
                                  is_mobile=phone, has_touch=phone)
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(f"{base}/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_url(re.compile(r"^(?!.*/login).*$"))
    page.goto(f"{base}/?lang={lang}")
    return context, page


def _shot(page, name: str) -> None:
    if os.environ.get("LIAISON_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


def _invite(browser, base: str, name: str, phone: str, email: str) -> None:
    """zhang books a visit starting 10 minutes ago on the start page (he is the host: no approval step)."""
    context, page = _signed_in(browser, base, "zhang", "zh", DESKTOP)
    try:
        now = datetime.now(ZONE).replace(second=0, microsecond=0)
        start = max(now - timedelta(minutes=10), now.replace(hour=0, minute=0))  # never the day before
        page.goto(f"{base}/start/visitor_booking")
        page.fill("#visitor_name", name)
        page.fill("#visitor_company", "星辰科技")
        page.fill("#visitor_phone", phone)
        page.fill("#visitor_email", email)
        page.fill("#visit_start", start.strftime("%Y-%m-%dT%H:%M"))
        page.fill("#visit_end", (start + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"))
        page.fill("#purpose", "项目评审")
        page.click("#start-submit")
        page.wait_for_url(re.compile(r"/instances/\d+"))
    finally:
        context.close()


def _emailed_code(sessions, email: str) -> str:
    with sessions() as session:
        mail = session.execute(select(OutboxMessage).where(OutboxMessage.event == "external_link",
                                                           OutboxMessage.recipient == email)).scalar_one()
    return re.search(r"\b([A-Z2-7]{8})\b", mail.payload["text"]).group(1)


def _wide(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


def test_a_visitor_is_invited_checked_in_and_out_and_a_blacklisted_one_is_refused(browser, site):
    base, sessions = site
    _invite(browser, base, "王访客", "138 0013 8000", "visitor@example.com")
    code = _emailed_code(sessions, "visitor@example.com")

    context, page = _signed_in(browser, base, "zhou", "zh", PHONE)
    try:
        page.goto(f"{base}/reception/")
        assert page.evaluate("document.activeElement.id") == "rc-code"  # a scanner types straight in
        page.keyboard.type(f"{code[:4].lower()}-{code[4:].lower()}")
        page.keyboard.press("Enter")
        page.wait_for_selector(".rc-pass")
        assert "王访客" in page.inner_text(".rc-pass") and "张三" in page.inner_text(".rc-pass")
        assert "当前有效" in page.inner_text(".rc-pass")
        assert _wide(page) <= PHONE["width"]
        _shot(page, "reception-zh-390.png")
        page.click(".rc-buttons form:first-child button")
        assert "已签到：王访客。" in page.inner_text(".rc-result")
        page.click(".rc-buttons form:last-child button")
        assert "已签离：王访客。" in page.inner_text(".rc-result")
        with sessions() as session:
            assert session.execute(select(ProcessInstance.status)).scalar_one() == "completed"
    finally:
        context.close()

    context, page = _signed_in(browser, base, "root", "en", DESKTOP)
    try:
        page.goto(f"{base}/admin/external/blacklist")
        page.fill("form.ext-form input[name=name]", "赵某")
        page.fill("form.ext-form input[name=phone]", "139 0000 1111")
        page.fill("form.ext-form input[name=reason]", "Caused trouble in 2025")
        page.click("form.ext-form button[type=submit]")
        assert "赵某" in page.inner_text("table.blacklist")
    finally:
        context.close()
    _invite(browser, base, "赵某", "+86 139 0000 1111", "zhao@example.com")
    code = _emailed_code(sessions, "zhao@example.com")
    context, page = _signed_in(browser, base, "zhou", "en", DESKTOP)
    try:
        page.goto(f"{base}/reception/")
        page.fill("#rc-code", code)
        page.keyboard.press("Enter")
        assert "On the visitor blacklist" in page.inner_text(".rc-blacklist")
        page.click(".rc-buttons form:first-child button")
        assert "Entry refused" in page.inner_text(".rc-result")
        assert "Checked in" not in page.inner_text(".rc-state")
        _shot(page, "reception-en-1280.png")
    finally:
        context.close()


def test_the_admin_pages_at_desktop_width(browser, site):
    """Screenshots of the party page (zh) and the access log (en); nothing overflows a phone either."""
    base, sessions = site
    with sessions() as session:
        party = parties.party_by_key(session.connection(), "ACME")
    context, page = _signed_in(browser, base, "root", "zh", DESKTOP)
    try:
        page.goto(f"{base}/admin/external/parties/{party.id}")
        assert "艾克米精密" in page.inner_text("h1") and "anna@acme.example" in page.inner_text("table.contacts")
        assert "ACME 门户码" in page.inner_text("table.grants")
        _shot(page, "external-admin-zh-1280.png")
        page.goto(f"{base}/admin/external/access-log?lang=en")
        log = page.inner_text("table.accesses")
        assert "Entered a code" in log and "unknown code" in log and "203.0.113.7" in log
        _shot(page, "access-log-en-1280.png")
    finally:
        context.close()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_no_external_admin_or_reception_page_is_wider_than_a_phone(browser, site, lang):
    base, sessions = site
    with sessions() as session:
        party = parties.party_by_key(session.connection(), "ACME")
    context, page = _signed_in(browser, base, "root", lang, PHONE)
    try:
        for path in ("/admin/external/", f"/admin/external/parties/{party.id}", "/admin/external/import",
                     "/admin/external/access-log", "/admin/external/codes", "/admin/external/blacklist",
                     "/reception/"):
            page.goto(base + path)
            assert _wide(page) <= PHONE["width"], f"{path} in {lang} is {_wide(page)} px wide"
            if os.environ.get("LIAISON_H6_LOOK"):
                page.screenshot(path=f"/tmp/h6-{lang}-{path.strip('/').replace('/', '-')}.png", full_page=True)
    finally:
        context.close()


def test_reception_picks_the_host_a_visitors_code_is_issued_on_behalf_of(site, browser):
    """On a phone the receptionist picks 张三 by name with the people picker on /invitations/: the code is
    theirs on his behalf (the list says so), and the visitor entering it reads whom they are visiting."""
    base, _sessions = site
    context, page = _signed_in(browser, base, "zhou", "zh", PHONE)
    try:
        page.goto(f"{base}/invitations/")
        host = page.locator("input[data-picker=people]")
        host.click()
        page.keyboard.type("张三")
        option = page.locator(f"#{host.get_attribute('aria-controls')} [role=option]").first
        option.wait_for()
        assert "张三" in option.inner_text() and "zhang" not in option.inner_text()
        page.keyboard.press("ArrowDown")
        page.keyboard.press("Enter")
        page.fill("input[name=label]", "安娜")
        page.click("form.ext-form button.primary")
        code = page.locator("[data-code]").inner_text().strip()
        assert "代张三发放" in page.locator("table.grants").inner_text()
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
    finally:
        context.close()
    visitor = browser.new_context(viewport=PHONE, locale="zh-CN")
    try:
        page = visitor.new_page()
        page.goto(f"{base}/portal/?lang=zh")
        page.fill("#code", code)
        page.click("#enter-code-button")
        page.wait_for_url(re.compile(r"/portal/new/visitor_booking$"))
        assert page.locator("#visiting").inner_text() == "您要拜访的是：张三"
    finally:
        visitor.close()

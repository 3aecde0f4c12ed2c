"""Issue 11 item 13: inbox rows summarize the request by the package's `summary` fields (checked at
deploy; default: the first two start-form fields), shown as the forms engine shows values; the people
pickers on the task page's operations and the admin pages."""

from __future__ import annotations

import re

import pytest
import yaml
from sqlalchemy import select

from engine import runtime
from engine.data.models import Role
from engine.errors import InvalidPackageError
from engine.packages import deployment as packages
from engine.people import accounts
from tests.engine.conftest import flow, write_package

from .conftest import PASSWORD, sign_in

BODY = f"""
<bpmn:startEvent id="start" liaison:form="ask"/>
<bpmn:userTask id="approve" name="Approve" liaison:assignee="boss"/>
<bpmn:endEvent id="done"/>
{flow("start", "approve")}{flow("approve", "done")}
"""
ASK = {"title": {"zh": "申请", "en": "Request"}, "fields": [
    {"name": "kind", "type": "select", "required": True, "label": {"zh": "类型", "en": "Kind"},
     "options": [{"value": "annual", "label": {"zh": "年假", "en": "Annual leave"}},
                 {"value": "sick", "label": {"zh": "病假", "en": "Sick leave"}}]},
    {"name": "note", "type": "text", "label": {"zh": "备注", "en": "Note"}},
    {"name": "amount", "type": "money", "label": {"zh": "金额", "en": "Amount"}},
    {"name": "deputy", "type": "user", "label": {"zh": "代理人", "en": "Deputy"}},
    {"name": "qty", "type": "number", "label": {"zh": "数量", "en": "Quantity"}},
    {"name": "at", "type": "datetime", "label": {"zh": "时间", "en": "Time"}}]}


def _package(tmp_path, summary=None, name="req"):
    folder = write_package(tmp_path / name, "req", {"req": BODY},
                           meta={"summary": summary} if summary is not None else None)
    (folder / "forms" / "ask.yaml").write_text(yaml.safe_dump(ASK, allow_unicode=True))
    return folder


@pytest.mark.parametrize("summary, message", [
    (["kind", "nope"], "`nope`, which is not a field of the start form"),
    (["kind", "note", "amount", "deputy"], "a list of 1 to 3"),
    ("kind", "a list of 1 to 3"),
    (["kind", "kind"], "distinct"),
])
def test_a_wrong_summary_is_refused_at_deploy(tmp_path, summary, message):
    with pytest.raises(InvalidPackageError) as refused:
        packages.load_package(_package(tmp_path, summary))
    assert message in str(refused.value)


def test_inbox_rows_show_the_summary_fields(app, sessions, people, tmp_path):
    with sessions() as session, session.begin():
        accounts.create_person_account(session, "boss", "老板", PASSWORD, name_en="The Boss")
    packages.deploy_package(sessions, packages.load_package(_package(tmp_path, ["amount", "kind", "deputy"])),
                            "admin")
    runtime.start_instance(sessions, "req", {"kind": "sick", "note": "secret-ish", "amount": "1234.50",
                                             "deputy": "li"}, user="zhang")
    boss = app.test_client()
    assert sign_in(boss, "boss").status_code == 302
    page = boss.get("/inbox/", headers={"Accept-Language": "zh"}).get_data(as_text=True)
    summary = re.search(r'<small class="summary">(.*?)</small>', page, re.S).group(1)
    assert summary.index("金额") < summary.index("类型") < summary.index("代理人")  # the package's order
    assert "病假" in summary and "1,234.50" in summary and "李四" in summary  # option label, money, name
    assert "secret-ish" not in summary


def test_the_default_summary_is_the_first_two_fields(app, sessions, people, tmp_path):
    with sessions() as session, session.begin():
        accounts.create_person_account(session, "boss", "老板", PASSWORD)
    packages.deploy_package(sessions, packages.load_package(_package(tmp_path)), "admin")
    runtime.start_instance(sessions, "req", {"kind": "annual", "note": "trip", "amount": "9"}, user="zhang")
    boss = app.test_client()
    assert sign_in(boss, "boss").status_code == 302
    page = boss.get("/inbox/").get_data(as_text=True)
    summary = re.search(r'<small class="summary">(.*?)</small>', page, re.S).group(1)
    assert "年假" in summary and "trip" in summary and "9" not in summary


def test_people_pickers_on_the_admin_pages(app, sessions, people):
    root = app.test_client()
    assert sign_in(root, "root").status_code == 302
    admins = root.get("/admin/admins").get_data(as_text=True)
    assert re.search(r'<input name="username"[^>]*data-picker="people"', admins)
    assert re.search(r'<input name="department"[^>]*data-picker="departments"', admins)
    with sessions() as session:
        role_id = session.scalar(select(Role.id).where(Role.key == "finance"))
    role = root.get(f"/admin/roles/{role_id}").get_data(as_text=True)
    assert re.search(r'<input name="username"[^>]*data-picker="people"', role)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_summarys_numbers_group_their_thousands_and_its_times_read_as_on_every_page(app, sessions, people,
                                                                                      tmp_path, lang):
    with sessions() as session, session.begin():
        accounts.create_person_account(session, "boss", "老板", PASSWORD)
    packages.deploy_package(sessions, packages.load_package(_package(tmp_path, ["qty", "at"])), "admin")
    runtime.start_instance(sessions, "req", {"kind": "annual", "qty": 12800, "at": "2026-12-05T04:32"}, user="zhang")
    boss = app.test_client()
    assert sign_in(boss, "boss").status_code == 302
    page = boss.get("/inbox/", headers={"Accept-Language": lang}).get_data(as_text=True)
    summary = re.search(r'<small class="summary">(.*?)</small>', page, re.S).group(1)
    assert "12,800" in summary and "2026-12-05 04:32" in summary and "T04:32" not in summary

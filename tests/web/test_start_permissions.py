"""Who may start which process, through the pages: the catalog lists only what the person may start,
the start page refuses the rest, and a department admin sets allowed/forbidden/inherit for their subtree."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine.data.models import Person
from engine.packages import deployment as packages
from engine.people import starting

from .conftest import post, sign_in

PROCESSES = Path(__file__).resolve().parents[2] / "processes"
BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="https://liaison.dev/t">
<bpmn:process id="{key}" isExecutable="true"><bpmn:startEvent id="start"/><bpmn:endEvent id="done"/>
<bpmn:sequenceFlow id="f" sourceRef="start" targetRef="done"/></bpmn:process></bpmn:definitions>
"""


@pytest.fixture
def deployed(sessions, people, tmp_path):
    """leave_request (everyone) and finance_only (role `finance`: zhang); zhang and li work in sales-east."""
    folder = tmp_path / "finance_only"
    folder.mkdir()
    (folder / "package.yaml").write_text("id: finance_only\nname: {en: Finance only, zh: 财务专用}\n"
                                         "starters:\n  roles: [finance]\n")
    (folder / "finance_only.bpmn").write_text(BPMN.format(key="finance_only"))
    for path in (PROCESSES / "leave_request", folder):
        packages.deploy_package(sessions, packages.load_package(path), "admin")
    with sessions() as session, session.begin():
        for username in ("zhang", "li"):
            session.query(Person).filter_by(username=username).one().department_id = people["east"]
    return people


def _client(app, username: str):
    client = app.test_client()
    assert sign_in(client, username).status_code == 302
    return client


def test_catalog_lists_only_startable_processes(app, deployed):
    li = _client(app, "li").get("/start").get_data(as_text=True)
    zhang = _client(app, "zhang").get("/start").get_data(as_text=True)
    assert "/start/leave_request" in li and "/start/finance_only" not in li
    assert "/start/leave_request" in zhang and "/start/finance_only" in zhang


def test_start_page_refuses_a_process_the_person_may_not_start(app, deployed):
    li = _client(app, "li")
    assert li.get("/start/finance_only").status_code == 403
    assert post(li, "/start/finance_only", {}).status_code == 403
    assert li.get("/start/no_such_process").status_code == 404
    assert _client(app, "zhang").get("/start/finance_only").status_code == 200


def test_department_admin_forbids_and_allows_for_their_department(app, deployed, sessions):
    admin = _client(app, "li")
    page = admin.get("/admin/processes").get_data(as_text=True)
    assert 'data-process="finance_only"' in page and "销售部" in page
    # the process by its name, its key only below it; departments by name (their code only where it adds something)
    assert re.search(r'<tr data-process="leave_request"><td>[^<]+<small>leave_request</small></td>', page)
    assert "<code>leave_request</code>" not in page and "销售部 (sales)" in page
    forbid = {"process_key": "leave_request", "department_id": deployed["sales"], "setting": "forbid"}
    assert post(admin, "/admin/processes", forbid).status_code == 302
    assert _client(app, "zhang").get("/start/leave_request").status_code == 403
    allow = {"process_key": "finance_only", "department_id": deployed["east"], "setting": "allow"}
    assert post(admin, "/admin/processes", allow).status_code == 302
    assert "/start/finance_only" in admin.get("/start").get_data(as_text=True)
    inherit = {**forbid, "setting": "inherit"}
    assert post(admin, "/admin/processes", inherit).status_code == 302
    with sessions() as session:
        assert starting.startable(session, "zhang") == ["finance_only", "leave_request"]


def test_department_admin_cannot_change_another_department(app, deployed, sessions):
    admin = _client(app, "li")
    outside = {"process_key": "leave_request", "department_id": deployed["company"], "setting": "forbid"}
    assert post(admin, "/admin/processes", outside).status_code == 403
    assert admin.get(f"/admin/processes?department={deployed['company']}").status_code == 200  # falls back
    with sessions() as session:
        assert starting.permissions_of(session, deployed["company"]) == {}


def test_employee_cannot_open_or_post_the_permissions_page(app, deployed):
    zhang = _client(app, "zhang")
    assert zhang.get("/admin/processes").status_code == 403
    forbid = {"process_key": "leave_request", "department_id": deployed["east"], "setting": "forbid"}
    assert post(zhang, "/admin/processes", forbid).status_code == 403


def test_a_bad_setting_is_a_bad_request(app, deployed):
    admin = _client(app, "li")
    bad = {"process_key": "leave_request", "department_id": deployed["east"], "setting": "maybe"}
    assert post(admin, "/admin/processes", bad).status_code == 400
    unknown = {"process_key": "nothing", "department_id": deployed["east"], "setting": "allow"}
    assert post(admin, "/admin/processes", unknown).status_code == 400

"""The designer's pages and the JSON the modeler bundle talks to (Flask test client, CSRF on)."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pytest

from designer import editor
from engine.data.models import ProcessVersion
from engine.packages import designer_access
from tests.engine.packages.test_drafts import gateway_bpmn
from tests.web.conftest import csrf_token, sign_in

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
_META_TOKEN = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def signed_in(app, username: str):
    client = app.test_client()
    assert sign_in(client, username).status_code == 302
    return client


def create(client, key: str, category: str = "hr", name_en: str = "Trip"):
    return client.post("/designer/new", data={"template": "blank", "key": key, "name_zh": "出差",
                                              "name_en": name_en, "category": category,
                                              "csrf_token": csrf_token(client, "/designer/")})


def json_token(client, key: str) -> str:
    page = client.get(f"/designer/{key}/edit").get_data(as_text=True)
    return _META_TOKEN.search(page).group(1)


@pytest.fixture
def owner(sessions, people):
    """li (李四) owns the category `hr` (edit and deploy)."""
    with sessions() as session, session.begin():
        designer_access.grant(session, "root", "hr", "li", edit=True, deploy=True)
    return "li"


def test_employees_get_403_and_no_designer_link(app, people):
    client = signed_in(app, "zhang")
    assert client.get("/designer/").status_code == 403
    assert ">Designer<" not in client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    root = signed_in(app, "root")
    assert root.get("/designer/").status_code == 200
    assert 'href="/designer/"' in root.get("/").get_data(as_text=True)


def test_the_designer_link_follows_a_grant_a_revocation_and_a_deployment_on_the_next_request(app, people, sessions,
                                                                                               tmp_path):
    """The header's link is kept with the signed-in person per directory version (migration 0038): a grant,
    its revocation and a deployment naming a process admin each show on the very next page."""
    from engine.packages.deployment import deploy, load_package
    from tests.engine.conftest import write_package
    client = signed_in(app, "zhang")

    def link() -> bool:
        return 'href="/designer/"' in client.get("/").get_data(as_text=True)

    assert not link() and not link()  # the second answer comes from the kept view
    with sessions() as session, session.begin():
        designer_access.grant(session, "root", "hr", "zhang", edit=True)
    assert link()
    with sessions() as session, session.begin():
        assert designer_access.revoke(session, "root", "hr", "zhang")
    assert not link()
    body = '<bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f" sourceRef="s" targetRef="e"/><bpmn:endEvent id="e"/>'
    with sessions() as session, session.begin():
        deploy(session, load_package(write_package(tmp_path / "v1", "visit", {"visit": body},
                                                   meta={"admins": ["zhang"]})), "root")
    assert link()


def test_new_process_opens_the_modeler_page_per_the_contract(app, people, monkeypatch):
    client = signed_in(app, "root")
    response = create(client, "trip")
    assert response.status_code == 302 and response.headers["Location"].endswith("/designer/trip/edit")
    monkeypatch.setattr(editor, "BUNDLE", Path("/nonexistent/designer.js"))
    page = client.get("/designer/trip/edit").get_data(as_text=True)
    assert 'id="liaison-designer" data-key="trip"' in page
    assert 'data-draft-url="/designer/trip/draft"' in page and 'data-deploy-url="/designer/trip/deploy"' in page
    assert 'data-versions-url="/designer/trip/versions"' in page
    assert 'id="designer-deploy"' in page and 'id="designer-status"' in page and 'id="designer-problems"' in page
    assert "make setup" in page and "build/designer.js" not in page
    monkeypatch.setattr(editor, "BUNDLE", Path(__file__))
    page = client.get("/designer/trip/edit").get_data(as_text=True)
    assert 'src="/designer/static/build/designer.js" defer' in page and "build/designer.css" in page
    listing = client.get("/designer/").get_data(as_text=True)
    assert 'data-key="trip"' in listing and "/designer/trip/export" in listing


def test_save_conflict_bad_xml_check_and_deploy_over_json(app, people, owner, sessions):
    root, li = signed_in(app, "root"), signed_in(app, owner)
    assert create(li, "trip").status_code == 302
    token = json_token(li, "trip")
    draft = li.get("/designer/trip/draft").get_json()
    assert (draft["revision"], draft["bpmn_file"], draft["can_deploy"]) == (1, "trip.bpmn", True)
    assert draft["updated_by"] == "李四" and "<bpmn:definitions" in draft["xml"]
    assert li.put("/designer/trip/draft", json={"revision": 1, "xml": draft["xml"]}).status_code == 400  # no CSRF
    saved = li.put("/designer/trip/draft", json={"revision": 1, "xml": gateway_bpmn("trip", "amount >")},
                   headers={"X-CSRFToken": token})
    assert saved.status_code == 200, saved.get_data(as_text=True)
    body = saved.get_json()
    assert body["revision"] == 2
    assert any(p["element_id"] == "f_large" and p["file"] == "trip.bpmn" and p["severity"] == "error"
               for p in body["problems"]), body["problems"]
    stale = root.put("/designer/trip/draft", json={"revision": 1, "xml": draft["xml"]},
                     headers={"X-CSRFToken": json_token(root, "trip")})
    assert stale.status_code == 409 and stale.get_json()["revision"] == 2
    assert "李四" in stale.get_json()["error"]
    bad = li.put("/designer/trip/draft", json={"revision": 2, "xml": "<bpmn:definitions"},
                 headers={"X-CSRFToken": token})
    assert bad.status_code == 400 and bad.get_json()["error"]
    assert li.get("/designer/trip/draft").get_json()["revision"] == 2
    refused = li.post("/designer/trip/deploy", json={"revision": 2, "comment": "first"},
                      headers={"X-CSRFToken": token})
    assert refused.status_code == 422
    assert any(p["element_id"] == "f_large" for p in refused.get_json()["problems"])
    fixed = li.put("/designer/trip/draft", json={"revision": 2, "xml": gateway_bpmn("trip", "amount > 1000")},
                   headers={"X-CSRFToken": token}).get_json()
    deployed = li.post("/designer/trip/deploy", json={"revision": fixed["revision"], "comment": "first version"},
                       headers={"X-CSRFToken": token})
    assert deployed.status_code == 200, deployed.get_data(as_text=True)
    assert deployed.get_json()["version"] == 1 and deployed.get_json()["url"] == "/designer/trip/versions"
    with sessions() as session:
        assert session.query(ProcessVersion).one().notes == "first version"
    history = li.get("/designer/trip/audit", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert history.count('data-action="') == 3 and "李四" in history and "first version" in history


def test_a_category_grant_lets_an_owner_edit_only_that_category(app, people, owner):
    root, li = signed_in(app, "root"), signed_in(app, owner)
    assert create(root, "payroll", category="finance", name_en="Payroll").status_code == 302
    assert create(li, "trip").status_code == 302
    listing = li.get("/designer/").get_data(as_text=True)
    assert 'data-key="trip"' in listing and 'data-key="payroll"' not in listing
    assert li.get("/designer/payroll/edit").status_code == 403
    assert li.get("/designer/payroll/draft").status_code == 403
    assert li.get("/designer/payroll/export").status_code == 403
    assert create(li, "budget", category="finance").status_code == 403


def test_import_a_lone_bpmn_and_refuse_hostile_xml(app, people):
    client = signed_in(app, "root")
    token = csrf_token(client, "/designer/")
    data = (FIXTURES / "bpmn" / "camunda_leave_request.bpmn").read_bytes()
    response = client.post("/designer/import", data={"csrf_token": token, "category": "hr",
                                                     "file": (io.BytesIO(data), "leave.bpmn")},
                           content_type="multipart/form-data")
    assert response.status_code == 302 and response.headers["Location"].endswith("/edit")
    key = response.headers["Location"].split("/")[-2]
    exported = client.get(f"/designer/{key}/export")
    assert exported.mimetype == "application/zip"
    assert f"{key}/{key}.bpmn" in zipfile.ZipFile(io.BytesIO(exported.data)).namelist()
    hostile = (FIXTURES / "bpmn" / "billion_laughs.bpmn").read_bytes()
    response = client.post("/designer/import", data={"csrf_token": token, "file": (io.BytesIO(hostile), "x.bpmn")},
                           content_type="multipart/form-data", follow_redirects=True,
                           headers={"Accept-Language": "en"})
    assert response.status_code == 200 and "DOCTYPE" in response.get_data(as_text=True)


def test_super_admins_grant_a_category_on_the_grants_page(app, people, sessions):
    root, zhang = signed_in(app, "root"), signed_in(app, "zhang")
    assert zhang.get("/designer/grants").status_code == 403
    token = csrf_token(root, "/designer/grants")
    assert zhang.post("/designer/grants", data={"category": "hr", "person": "zhang", "edit": "on",
                                                "csrf_token": csrf_token(zhang, "/password")}).status_code == 403
    root.post("/designer/grants", data={"category": "hr", "person": "zhang", "edit": "on", "csrf_token": token})
    root.post("/designer/grants", data={"category": "sales", "role": "finance", "deploy": "on", "csrf_token": token})
    page = root.get("/designer/grants").get_data(as_text=True)
    assert 'data-category="hr"' in page and 'data-category="sales"' in page and "张三" in page
    assert re.search(r"→\s*张三", page)
    assert zhang.get("/designer/").status_code == 200
    root.post("/designer/grants/revoke", data={"category": "hr", "holder_kind": "person", "holder": "zhang",
                                               "csrf_token": token})
    assert zhang.get("/designer/").status_code == 200  # zhang holds the role `finance`, granted `sales`
    root.post("/designer/grants/revoke", data={"category": "sales", "holder_kind": "role", "holder": "finance",
                                               "csrf_token": token})
    assert zhang.get("/designer/").status_code == 403
    zh = root.get("/designer/", headers={"Accept-Language": "zh"}).get_data(as_text=True)
    assert "流程设计器" in zh and "流程负责人" in zh


@pytest.mark.parametrize("size", [10 * 1024 * 1024 + 10, 12 * 1024 * 1024])
def test_too_large_diagram_is_413_json_and_the_draft_is_kept(app, people, size, database_url):
    if database_url.startswith("postgresql"):
        pytest.skip("the size check runs before the database; once is enough")
    client = signed_in(app, "root")
    create(client, "trip")
    xml = "<a>" + "x" * size + "</a>"
    response = client.put("/designer/trip/draft", json={"revision": 1, "xml": xml},
                          headers={"X-CSRFToken": json_token(client, "trip")})
    assert response.status_code == 413 and response.get_json()["error"]
    assert client.get("/designer/trip/draft").get_json()["revision"] == 1


def test_opening_a_deployed_process_stores_no_draft_until_the_first_save(app, people, sessions):
    """Every designer page of a process opens without leaving a draft behind; the list keeps "No draft"
    until the modeler's first save (autosave included) stores revision 1."""
    from engine.packages.deployment import deploy, load_package
    with sessions() as session, session.begin():
        deploy(session, load_package(FIXTURES / "packages" / "order_review"), "root")
        designer_access.grant(session, "root", "purchasing", "li", edit=True, deploy=True)
    li = signed_in(app, "li")
    token = json_token(li, "order_review")
    for page in ("edit", "draft", "forms", "notifications", "notifications.json", "tests", "tests.json", "flow",
                 "draft.bpmn", "export"):
        assert li.get(f"/designer/order_review/{page}").status_code == 200, page
    assert li.get("/designer/order_review/flow.json").status_code == 422  # not a chain: said, and nothing stored
    assert li.get("/designer/order_review/diff", query_string={"a": 1, "b": "draft"}).status_code == 200
    draft = li.get("/designer/order_review/draft").get_json()
    assert draft["revision"] == 0 and draft["updated_by"] is None
    listed = li.get("/designer/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    row = listed[listed.index('data-key="order_review"'):]
    assert "No draft" in row[:row.index("</tr>")]
    assert 'data-action="' not in li.get("/designer/order_review/audit").get_data(as_text=True)
    saved = li.put("/designer/order_review/draft", json={"revision": 0, "xml": draft["xml"]},
                   headers={"X-CSRFToken": token})
    assert saved.status_code == 200 and saved.get_json()["revision"] == 1
    listed = li.get("/designer/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    row = listed[listed.index('data-key="order_review"'):]
    assert "Revision 1" in row[:row.index("</tr>")]
    again = li.put("/designer/order_review/draft", json={"revision": 0, "xml": draft["xml"]},
                   headers={"X-CSRFToken": token})
    assert again.status_code == 409 and again.get_json()["revision"] == 1


def test_the_history_in_chinese_says_saved_and_names_the_template(app, people, owner):
    li = signed_in(app, owner)
    assert create(li, "trip_zh").status_code == 302
    token = json_token(li, "trip_zh")
    xml = li.get("/designer/trip_zh/draft").get_json()["xml"]
    assert li.put("/designer/trip_zh/draft", json={"revision": 1, "xml": xml},
                  headers={"X-CSRFToken": token}).status_code == 200
    history = li.get("/designer/trip_zh/audit").get_data(as_text=True)
    saved = re.search(r'<tr data-action="save">(.*?)</tr>', history, re.S).group(1)
    assert "已保存" in saved and "保存时间" not in saved  # the action, not a column of times
    created = re.search(r'<tr data-action="create">(.*?)</tr>', history, re.S).group(1)
    assert "空白流程" in created and "blank" not in created
    assert "出差" in re.search(r"<h1>(.*?)</h1>", history, re.S).group(1)  # the process by its name


def test_a_role_grant_shows_the_roles_name(app, people):
    root = signed_in(app, "root")
    root.post("/designer/grants", data={"category": "sales", "role": "finance", "edit": "on",
                                        "csrf_token": csrf_token(root, "/designer/grants")})
    page = root.get("/designer/grants").get_data(as_text=True)
    row = re.search(r'<tr data-category="sales">(.*?)</tr>', page, re.S).group(1)
    assert "财务" in row  # the role as people know it; its key stays beside it


def test_drawing_problems_are_explained_in_chinese_on_a_chinese_page(app, people, owner):
    li = signed_in(app, owner)
    assert create(li, "trip_draw").status_code == 302
    xml = li.get("/designer/trip_draw/draft").get_json()["xml"]
    xml = xml.replace("</bpmn:process>", '<bpmn:userTask id="lonely" name="孤立"/></bpmn:process>')
    saved = li.put("/designer/trip_draw/draft", json={"revision": 1, "xml": xml},
                   headers={"X-CSRFToken": json_token(li, "trip_draw")})
    assert saved.status_code == 200, saved.get_data(as_text=True)
    lonely = [p["message"] for p in saved.get_json()["problems"] if p["element_id"] == "lonely"]
    assert lonely and all(re.search(r"[\u4e00-\u9fff]", m) for m in lonely), lonely  # not "... can never be reached"
    assert any("连线" in m for m in lonely), lonely


def test_on_a_phone_each_grant_and_package_cell_says_what_it_is(app, people, owner):
    root = signed_in(app, "root")
    root.post("/designer/grants", data={"category": "sales", "role": "finance", "edit": "on", "deploy": "on",
                                        "csrf_token": csrf_token(root, "/designer/grants")})
    page = root.get("/designer/grants").get_data(as_text=True)
    row = re.search(r'<tr data-category="sales">(.*?)</tr>', page, re.S).group(1)
    labels = re.findall(r'<span class="cell-label">([^<]*)</span>', row)  # the header row is hidden on a phone
    assert [label.rstrip(": ") for label in labels] == ["分类", "编辑", "部署"], labels
    li = signed_in(app, owner)
    assert create(li, "trip_phone").status_code == 302
    listing = li.get("/designer/").get_data(as_text=True)
    assert '<span class="cell-label">分类: </span>hr' in listing


def test_a_step_nobody_handles_is_a_warning_on_the_step(app, people, owner):
    li = signed_in(app, owner)
    assert create(li, "trip_nobody").status_code == 302
    xml = li.get("/designer/trip_nobody/draft").get_json()["xml"]
    start, end = re.search(r'<bpmn:sequenceFlow id="([^"]+)" sourceRef="([^"]+)" targetRef="([^"]+)"', xml).group(2, 3)
    flows = (f'<bpmn:userTask id="orphan" name="审批"/>'
             f'<bpmn:sequenceFlow id="f_a" sourceRef="{start}" targetRef="orphan"/>'
             f'<bpmn:sequenceFlow id="f_b" sourceRef="orphan" targetRef="{end}"/>')
    xml = re.sub(r'<bpmn:sequenceFlow id="[^"]+" sourceRef="[^"]+" targetRef="[^"]+"\s*/>', flows, xml, count=1)
    saved = li.put("/designer/trip_nobody/draft", json={"revision": 1, "xml": xml},
                   headers={"X-CSRFToken": json_token(li, "trip_nobody")})
    assert saved.status_code == 200, saved.get_data(as_text=True)
    orphan = [p for p in saved.get_json()["problems"] if p["element_id"] == "orphan"]
    assert [p["severity"] for p in orphan] == ["warning"] and "审批人" in orphan[0]["message"], orphan


def test_less_common_drawing_problems_are_chinese_too(app, people, owner):
    """A boundary event with no trigger, a script in another language, a default flow that is not the gateway's."""
    li = signed_in(app, owner)
    assert create(li, "trip_more").status_code == 302
    xml = li.get("/designer/trip_more/draft").get_json()["xml"]
    xml = xml.replace("</bpmn:process>", '<bpmn:scriptTask id="calc" scriptFormat="javascript"><bpmn:script>x = 1'
                      '</bpmn:script></bpmn:scriptTask><bpmn:boundaryEvent id="edge" attachedToRef="calc"/>'
                      '<bpmn:exclusiveGateway id="pick" default="nowhere"/></bpmn:process>')
    saved = li.put("/designer/trip_more/draft", json={"revision": 1, "xml": xml},
                   headers={"X-CSRFToken": json_token(li, "trip_more")})
    assert saved.status_code == 200, saved.get_data(as_text=True)
    by_element = {}
    for problem in saved.get_json()["problems"]:
        by_element.setdefault(problem["element_id"], []).append(problem["message"])
    assert any("不支持脚本格式 `javascript`" in m for m in by_element["calc"]), by_element
    assert "边界事件没有事件定义" in by_element["edge"], by_element
    assert any("默认连线 `nowhere`" in m for m in by_element["pick"]), by_element

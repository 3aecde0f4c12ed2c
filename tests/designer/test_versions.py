"""The designer's version pages: the version list, the diff of two versions and the migration of running
instances (dry run, mapping, run), with who may see and do what (Flask test client, CSRF on)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine import runtime
from engine.data.models import ProcessInstance, ProcessVersion
from tests.engine.versioned_package import deploy_two_versions
from tests.web.conftest import csrf_token, sign_in


@pytest.fixture
def trip(sessions, people, tmp_path):
    """`trip` v1 with three instances of zhang (at review, draft, old_check), then v2 (zhang is its admin)."""
    def start():
        return {where: runtime.start_instance(sessions, "trip", {"where": where, "amount": 70},
                                              user="zhang").instance_id
                for where in ("keep", "rename", "old")}

    return deploy_two_versions(sessions, tmp_path, v2_meta={"admins": ["zhang"]}, between=start)


def _client(app, username, lang="en"):
    client = app.test_client()
    assert sign_in(client, username).status_code == 302
    client.get(f"/?lang={lang}")
    return client


def _numbers(sessions, ids):
    with sessions() as session:
        return {i: session.scalar(select(ProcessVersion.number).join(ProcessInstance).where(ProcessInstance.id == i))
                for i in ids}


def test_version_list_shows_each_version_and_its_running_instances(app, trip):
    page = _client(app, "zhang").get("/designer/trip/versions")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-version="1"' in html and 'data-version="2"' in html and "version 2" in html
    assert "<td>3</td>" in html  # three instances run on version 1
    assert 'action="/designer/trip/diff"' in html and 'action="/designer/trip/migrate"' in html


def test_who_may_not_edit_gets_403_and_the_signed_out_sign_in(app, trip):
    li = _client(app, "li")
    for path in ("/designer/trip/versions", "/designer/trip/diff?a=1&b=2", "/designer/trip/versions/2.bpmn",
                 "/designer/trip/migrate?from=1&to=2"):
        assert li.get(path).status_code == 403, path
    assert app.test_client().get("/designer/trip/versions").status_code == 302


def test_diff_page_lists_every_difference_and_marks_the_diagram(app, trip):
    client = _client(app, "zhang")
    html = client.get("/designer/trip/diff?a=1&b=2").get_data(as_text=True)
    for element in ("archive", "draft2", "old_check", "review", "f_gw_boss"):
        assert f'data-element="{element}"' in html
    assert "PT1H" in html and "PT2H" in html and "amount &gt; 50" in html
    assert 'data-diff-diagram-url="/designer/trip/versions/2.bpmn"' in html and "versions.js" in html
    assert "&#34;archive&#34;" in html or "&quot;archive&quot;" in html  # the marker list for the viewer
    xml = client.get("/designer/trip/versions/2.bpmn")
    assert xml.mimetype == "application/xml" and b'id="archive"' in xml.data
    assert client.get("/designer/trip/diff?a=1&b=9").status_code == 404


def test_migrate_dry_run_mapping_and_run(app, sessions, trip):
    client = _client(app, "zhang")
    html = client.get("/designer/trip/migrate?from=1&to=2").get_data(as_text=True)
    assert f'data-instance="{trip["keep"]}" class="ok"' in html
    assert f'data-instance="{trip["rename"]}" class="stays"' in html and "which version 2 does not have" in html
    assert '<option value="draft=draft2" selected>' in html  # the likely rename, offered
    mapped = client.get("/designer/trip/migrate?from=1&to=2&map=draft=draft2").get_data(as_text=True)
    assert f'data-instance="{trip["rename"]}" class="ok"' in mapped and "Move 2 instances to version 2" in mapped
    assert _numbers(sessions, trip.values()) == {i: 1 for i in trip.values()}  # nothing moved yet
    refused = client.post("/designer/trip/migrate", data={"from": "1", "to": "2"})
    assert refused.status_code == 400  # no CSRF token
    done = client.post("/designer/trip/migrate", data={"from": "1", "to": "2", "map": "draft=draft2",
                                                        "csrf_token": csrf_token(client, "/designer/trip/versions")})
    assert done.status_code == 200 and "2 instances moved to version 2." in done.get_data(as_text=True)
    assert _numbers(sessions, trip.values()) == {trip["keep"]: 2, trip["rename"]: 2, trip["old"]: 1}
    history = client.get(f"/instances/{trip['rename']}").get_data(as_text=True)
    assert "Moved to another version" in history and "v1 → v2" in history


def test_pages_in_chinese(app, trip):
    client = _client(app, "zhang", lang="zh")
    assert "的版本" in client.get("/designer/trip/versions").get_data(as_text=True)
    html = client.get("/designer/trip/migrate?from=1&to=2").get_data(as_text=True)
    assert "试运行" in html and "版本 2 中没有" in html


def test_the_draft_is_compared_with_the_deployed_version_before_deploying(app, trip):
    client = _client(app, "zhang")
    edit = client.get("/designer/trip/edit").get_data(as_text=True)  # opening makes the draft from version 2
    assert 'href="/designer/trip/diff?a=2&amp;b=draft"' in edit
    draft = client.get("/designer/trip/draft").get_json()
    xml = draft["xml"].replace('name="Archive"', 'name="Archive it"')
    assert xml != draft["xml"]
    saved = client.put("/designer/trip/draft", json={"revision": draft["revision"], "xml": xml},
                       headers={"X-CSRFToken": csrf_token(client, "/designer/trip/versions")})
    assert saved.status_code == 200, saved.get_data(as_text=True)
    html = client.get("/designer/trip/diff?a=2&b=draft").get_data(as_text=True)
    assert 'data-element="archive"' in html and "Archive it" in html
    assert 'data-diff-diagram-url="/designer/trip/draft.bpmn"' in html
    assert client.get("/designer/trip/draft.bpmn").get_data(as_text=True) == xml
    assert _client(app, "li").get("/designer/trip/draft.bpmn").status_code == 403


def test_the_diagrams_of_the_designer_pages_carry_the_names_in_the_page_language(app, trip):
    client = _client(app, "zhang", "zh")
    client.get("/designer/trip/edit")
    draft = client.get("/designer/trip/draft").get_json()
    saved = client.put("/designer/trip/draft", json={"revision": draft["revision"], "xml": draft["xml"],
                                                     "names": {"archive": {"zh": "归档", "en": "Archive"}}},
                       headers={"X-CSRFToken": csrf_token(client, "/designer/trip/versions")})
    assert saved.status_code == 200, saved.get_data(as_text=True)
    shown = client.get("/designer/trip/draft.bpmn").get_data(as_text=True)
    assert 'name="归档"' in shown and 'name="归档"' not in client.get("/designer/trip/draft").get_json()["xml"]
    english = _client(app, "zhang", "en").get("/designer/trip/draft.bpmn").get_data(as_text=True)
    assert 'name="Archive"' in english
    assert 'name="归档"' in client.get("/designer/trip/tests.json").get_json()["xml"]

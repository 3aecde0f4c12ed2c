"""The elements' zh/en names in the editor's JSON: GET gives package.yaml's `names`, PUT writes them."""

from __future__ import annotations

import yaml

from engine.packages import drafts
from tests.designer.test_editor import create, json_token, owner, signed_in  # noqa: F401
from tests.engine.packages.test_drafts import gateway_bpmn


def test_draft_json_gives_names_and_a_save_writes_them_into_package_yaml(app, people, owner, sessions):  # noqa: F811
    li = signed_in(app, owner)
    assert create(li, "trip").status_code == 302
    token = json_token(li, "trip")
    draft = li.get("/designer/trip/draft").get_json()
    assert draft["names"]["start"] == {"zh": "开始", "en": "Start"}
    names = {"gate": {"zh": "金额大吗？", "en": "Large?"}, "start": {"zh": "提交", "en": "Submit"},
             "gone": {"zh": "已删除"}}
    saved = li.put("/designer/trip/draft", json={"revision": 1, "xml": gateway_bpmn("trip", "amount > 1"),
                                                 "names": names}, headers={"X-CSRFToken": token})
    assert saved.status_code == 200, saved.get_data(as_text=True)
    assert saved.get_json()["revision"] == 2
    with sessions() as session:
        meta = yaml.safe_load(drafts.get_draft(session, "trip").files["package.yaml"])
    assert meta["names"] == {"gate": {"zh": "金额大吗？", "en": "Large?"}, "start": {"zh": "提交", "en": "Submit"}}
    assert meta["id"] == "trip" and meta["category"] == "hr"
    assert li.get("/designer/trip/draft").get_json()["names"] == meta["names"]
    plain = li.put("/designer/trip/draft", json={"revision": 2, "xml": gateway_bpmn("trip", "amount > 2")},
                   headers={"X-CSRFToken": token})
    assert plain.status_code == 200 and li.get("/designer/trip/draft").get_json()["names"] == meta["names"]


def test_a_malformed_names_map_is_400_and_the_draft_is_kept(app, people, owner):  # noqa: F811
    li = signed_in(app, owner)
    assert create(li, "trip").status_code == 302
    token = json_token(li, "trip")
    for names in (["start"], {"start": {"zh": "x" * 301}}, {"start": {"de": "Anfang"}}):
        refused = li.put("/designer/trip/draft", json={"revision": 1, "xml": gateway_bpmn("trip", "amount > 1"),
                                                       "names": names},
                         headers={"X-CSRFToken": token, "Accept-Language": "zh"})
        assert refused.status_code == 400 and "名称" in refused.get_json()["error"]
    draft = li.get("/designer/trip/draft").get_json()
    assert draft["revision"] == 1 and draft["names"]["start"] == {"zh": "开始", "en": "Start"}

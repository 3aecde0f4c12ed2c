"""package.yaml `portal` (issue 17) as the modeler edits it: the draft JSON carries it, a PUT sets the eight
keys the form knows and keeps everything else; blank settings go, and an emptied section goes too."""

from __future__ import annotations

import yaml

from engine.packages import drafts
from tests.designer.test_editor import create, json_token, owner, signed_in  # noqa: F401 (fixture)

META = {"id": "order", "names": {"approve": {"zh": "审批"}}, "portal": {"party": "customer", "theme": "dark"}}


def _portal(files):
    return yaml.safe_load(files["package.yaml"]).get("portal")


def test_with_portal_sets_the_known_keys_and_keeps_the_rest():
    files = {"package.yaml": yaml.safe_dump(META, allow_unicode=True, sort_keys=False), "order.bpmn": "<x/>"}
    saved = drafts.with_portal(files, {
        "party": " supplier ", "party_field": "supplier", "email_field": "", "visible_fields": "po_number, delivery_date,",
        "start": True, "link_days": "7", "invite": "employees", "unknown": "ignored"})
    assert _portal(saved) == {"theme": "dark", "party": "supplier", "party_field": "supplier",
                              "visible_fields": ["po_number", "delivery_date"], "start": True, "link_days": 7,
                              "invite": "employees"}
    meta = yaml.safe_load(saved["package.yaml"])
    assert list(meta) == ["id", "names", "portal"] and meta["names"] == META["names"]
    assert drafts.portal_settings(saved) == {k: v for k, v in _portal(saved).items() if k != "theme"}
    assert drafts.with_portal(saved, drafts.portal_settings(saved)) is saved  # unchanged: the file as it was
    # a number of days that is not one is kept as typed: the deploy check (portal_checks) names it
    assert _portal(drafts.with_portal(saved, {"link_days": "two weeks"}))["link_days"] == "two weeks"
    # blank settings and start=false leave nothing of the form's; the section keeps its other key
    assert _portal(drafts.with_portal(saved, {"party": "", "start": False, "visible_fields": [], "invite": None})) == {
        "theme": "dark"}
    emptied = drafts.with_portal({"package.yaml": "id: order\nportal: {party: visitor}\n"}, {})
    assert "portal" not in yaml.safe_load(emptied["package.yaml"])
    assert drafts.portal_settings({"package.yaml": "portal: [1, 2]"}) == {}


def test_the_draft_json_carries_the_portal_and_a_put_saves_it(app, people, owner, sessions):  # noqa: F811
    li = signed_in(app, owner)
    assert create(li, "order").status_code == 302
    token = json_token(li, "order")
    draft = li.get("/designer/order/draft").get_json()
    assert draft["portal"] == {}
    put = li.put("/designer/order/draft", headers={"X-CSRFToken": token}, json={
        "revision": draft["revision"], "xml": draft["xml"],
        "portal": {"party": "supplier", "party_field": "supplier", "visible_fields": "po_number", "start": True}})
    assert put.status_code == 200, put.get_data(as_text=True)
    assert li.get("/designer/order/draft").get_json()["portal"] == {
        "party": "supplier", "party_field": "supplier", "visible_fields": ["po_number"], "start": True}
    # a save without `portal` (an older page) leaves the section alone
    again = li.put("/designer/order/draft", headers={"X-CSRFToken": token},
                   json={"revision": put.get_json()["revision"], "xml": draft["xml"]})
    assert again.status_code == 200
    with sessions() as session:
        files = drafts.get_draft(session, "order").files
    assert _portal(files)["party"] == "supplier"

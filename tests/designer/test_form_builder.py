"""The form builder (issue 15): a draft's forms read, checked with lines, written back as YAML, previewed."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from engine.packages import designer_access, drafts, form_drafts
from engine.packages.form_preview import preview_form
from tests.designer.test_editor import json_token, signed_in
from tests.web.conftest import csrf_token

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "forms"

SOURCE = """\
title: {zh: 报销, en: Expense}
fields:
  - {name: amount, type: money, label: {zh: 金额, en: Amount}}
  - name: reason
    type: textarea
    visible_if: amout > 100
  - name: items
    type: table
    columns:
      - {name: count, type: number}
      - {name: total, type: formula, expression: "count * price"}
access:
  nowhere: {editable: [ghost]}
"""


@pytest.fixture
def owner(sessions, people):
    """li (李四) owns the category `hr` (edit and deploy)."""
    with sessions() as session, session.begin():
        designer_access.grant(session, "root", "hr", "li", edit=True, deploy=True)
    return "li"


def new_approval(client, key: str):
    return client.post("/designer/new", data={"template": "approval", "key": key, "name_zh": "申请",
                                              "name_en": "Request", "category": "hr",
                                              "csrf_token": csrf_token(client, "/designer/")})


# -- engine ----------------------------------------------------------------------------------------

def test_problems_carry_the_yaml_line_of_their_field_column_or_access_rule():
    problems = {p.message: p.line for p in form_drafts.form_problems(SOURCE)}
    assert problems["field `reason`: `visible_if` uses unknown field `amout`"] == 6  # the key's own line
    assert problems["field `items.total`: `expression` uses unknown field `price`"] == 11
    assert [line for message, line in problems.items() if message.startswith("access `nowhere`")] == [13]
    unreadable = form_drafts.form_problems("fields:\n  - {name: a\n")
    assert len(unreadable) == 1 and unreadable[0].line == 3 and "invalid YAML" in unreadable[0].message
    assert form_drafts.form_problems(SOURCE.replace("amout", "amount").replace("count * price", "count * 2")
                                     .replace("nowhere: {editable: [ghost]}", "t: {editable: [amount]}")) == []


def test_expressions_are_checked_by_the_forms_compiler():
    assert form_drafts.check_expression("amount > 100 and not urgent", ["amount", "urgent"]) is None
    assert form_drafts.check_expression("sum(items, 'amount') > 5", ["items"]) is None
    assert form_drafts.check_expression("amount > 1 and b", ["amount"]) == "unknown field `b`"
    assert "not allowed" in form_drafts.check_expression("amount.__class__", ["amount"])
    assert "invalid" in form_drafts.check_expression("amount >", ["amount"])


def test_dump_form_writes_a_stable_key_order_and_round_trips():
    schema = {"fields": [{"required": True, "label": {"zh": "金额", "en": "Amount"}, "type": "money", "name": "amount",
                          "zz": 1, "max": 10}], "access": {"t": {"editable": []}}, "title": "T"}
    text = form_drafts.dump_form(schema)
    assert text.splitlines()[:2] == ["title: T", "access:"]
    assert text.index("name: amount") < text.index("type: money") < text.index("label:") < text.index(
        "required:") < text.index("max:") < text.index("zz:")
    assert yaml.safe_load(text) == schema
    assert form_drafts.dump_form(yaml.safe_load(text)) == text


def test_the_access_grid_writes_editable_and_hidden_lists_per_task():
    schema = {"fields": [{"name": "a", "type": "text"}, {"name": "b", "type": "text"}, {"name": "c", "type": "text"}],
              "access": {"old": {"editable": ["a"]}}}
    written = form_drafts.with_access(schema, {"review": {"a": "editable", "b": "readonly", "c": "hidden"},
                                               "cc": {"a": "editable"}, "old": {}})
    assert written["access"] == {"review": {"editable": ["a"], "hidden": ["c"]}}
    assert "access" not in form_drafts.with_access(schema, {"old": {}})
    assert form_drafts.form_problems(form_drafts.dump_form(written)) == []


def test_save_form_writes_yaml_into_the_draft_with_the_revision_check(app, sessions, owner):
    client = signed_in(app, owner)
    assert new_approval(client, "req").status_code == 302
    with sessions() as session, session.begin():
        draft = drafts.get_draft(session, "req")
        revision = draft.revision
        found = form_drafts.read_form(draft, "decision")
        assert found.path == "forms/decision.yaml" and found.schema["fields"][0]["name"] == "approved"
        assert form_drafts.form_nodes(draft.files, "req", "decision") == [
            {"id": "approval", "name": "Approval", "kind": "task"}]
        assert form_drafts.form_nodes(draft.files, "req", "request")[0]["kind"] == "start"
        schema = {**found.schema, "fields": [*found.schema["fields"], {"name": "score", "type": "rating"}]}
        saved = form_drafts.save_form(session, owner, "req", revision, "decision", schema=schema)
        assert saved.revision == revision + 1
        assert saved.files["forms/decision.yaml"] == form_drafts.dump_form(schema)
    with sessions() as session, session.begin(), pytest.raises(drafts.DraftConflictError):
        form_drafts.save_form(session, owner, "req", revision, "decision", schema=schema)
    with sessions() as session, session.begin(), pytest.raises(drafts.DraftFileError):
        form_drafts.save_form(session, owner, "req", revision + 1, "decision", text="fields: [")
    with sessions() as session, session.begin(), pytest.raises(drafts.DraftFileError):
        form_drafts.save_form(session, owner, "req", revision + 1, "../x", schema=schema)


def test_preview_uses_the_forms_renderer_and_shows_the_messages_of_sample_values():
    schema = yaml.safe_load((FIXTURES / "every_type.yaml").read_text(encoding="utf-8"))
    zh = preview_form(schema, {}, "zh")
    en = preview_form(schema, {}, "en")
    assert zh.problems == [] and 'class="lf-form"' in zh.html and "data-liaison-form" in zh.html
    assert "金额" in zh.html and "Amount" in en.html and "csrf_token" not in zh.html
    checked = preview_form(schema, {"amount": -1}, "en")
    assert checked.errors["amount"] and "field-errors" in checked.html
    review = preview_form(schema, {}, "en", node="review")
    assert 'name="text"' not in review.html and 'name="amount"' in review.html  # text: read-only at review
    broken = preview_form({"fields": [{"name": "x", "type": "select"}]}, {}, "en")
    assert broken.html == "" and "options" in broken.problems[0]


# -- JSON and page ---------------------------------------------------------------------------------

def test_form_json_save_check_and_preview(app, owner):
    client = signed_in(app, owner)
    assert new_approval(client, "req2").status_code == 302
    page = client.get("/designer/req2/forms?form=decision", headers={"Accept-Language": "en"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="form-builder"' in html and 'id="fb-labels"' in html
    assert 'data-form-url="/designer/req2/forms/decision.json"' in html and 'data-type="table"' in html
    assert 'type="module" src="/designer/static/forms/forms.js"' in html and "<script>" not in html
    token = json_token(client, "req2")
    body = client.get("/designer/req2/forms/decision.json").get_json()
    assert body["revision"] >= 1 and body["problems"] == [] and body["nodes"][0]["id"] == "approval"
    assert {t["type"] for t in body["types"]} >= {"text", "table", "quiz", "formula", "notice", "serial"}
    assert body["forms"] == ["decision", "request"] and body["yaml"].startswith("title:")
    schema = body["schema"]
    schema["fields"].append({"name": "note", "type": "text", "visible_if": "approvd == False"})
    saved = client.put("/designer/req2/forms/decision.json", headers={"X-CSRFToken": token},
                       json={"revision": body["revision"], "schema": schema,
                             "access": {"approval": {"approved": "editable", "opinion": "editable", "note": "readonly"}}})
    assert saved.status_code == 200, saved.get_json()
    answer = saved.get_json()
    assert answer["revision"] == body["revision"] + 1
    assert answer["schema"]["access"] == {"approval": {"editable": ["approved", "opinion"]}}
    note_line = next(n for n, line in enumerate(answer["yaml"].splitlines(), 1) if "name: note" in line)
    assert answer["problems"] == [{"line": note_line,
                                   "message": "field `note`: `visible_if` uses unknown field `approvd`"}]
    stale = client.put("/designer/req2/forms/decision.json", headers={"X-CSRFToken": token},
                       json={"revision": body["revision"], "schema": schema})
    assert stale.status_code == 409 and stale.get_json()["revision"] == answer["revision"]
    typed = "# kept as typed\nfields:\n  - {name: approved, type: radio, options: [true, false]}\n"
    by_text = client.put("/designer/req2/forms/decision.json", headers={"X-CSRFToken": token},
                         json={"revision": answer["revision"], "yaml": typed})
    assert by_text.status_code == 200 and by_text.get_json()["yaml"] == typed
    unreadable = client.put("/designer/req2/forms/decision.json", headers={"X-CSRFToken": token},
                            json={"revision": by_text.get_json()["revision"], "yaml": "fields: ["})
    assert unreadable.status_code == 400 and "line" in unreadable.get_json()["error"]
    no_csrf = client.put("/designer/req2/forms/decision.json", json={"revision": 1, "yaml": typed})
    assert no_csrf.status_code == 400
    check = client.post("/designer/req2/forms/check-expression", headers={"X-CSRFToken": token},
                        json={"expression": "x > ", "fields": ["x"]}).get_json()
    assert check["ok"] is False and "invalid" in check["error"]
    assert client.post("/designer/req2/forms/check-expression", headers={"X-CSRFToken": token},
                       json={"expression": "x > 1", "fields": ["x"]}).get_json() == {"ok": True, "error": None}
    broken = client.post("/designer/req2/forms/preview", headers={"X-CSRFToken": token},
                         json={"schema": schema, "lang": "en", "values": {}}).get_json()
    assert broken["html"] == "" and "approvd" in broken["problems"][0]
    schema["fields"][-1]["visible_if"] = "approved == False"
    shown = client.post("/designer/req2/forms/preview", headers={"X-CSRFToken": token},
                        json={"schema": schema, "lang": "en", "values": {}}).get_json()
    assert 'class="lf-form"' in shown["html"] and "Decision" in shown["html"]
    assert client.get("/designer/req2/forms/nothere.json").status_code == 404


def test_employees_may_not_use_the_form_builder(app, owner):
    li = signed_in(app, owner)
    assert new_approval(li, "req3").status_code == 302
    zhang = signed_in(app, "zhang")
    assert zhang.get("/designer/req3/forms").status_code == 403
    assert zhang.get("/designer/req3/forms/decision.json").status_code == 403
    token = csrf_token(zhang, "/")
    refused = zhang.post("/designer/req3/forms/preview", headers={"X-CSRFToken": token}, json={"schema": {}})
    assert refused.status_code == 403


def test_labels_and_options_keep_their_order_when_the_keys_come_sorted():
    schema = {"title": {"en": "T", "zh": "表"}, "fields": [
        {"label": {"en": "Kind", "zh": "类别"}, "name": "k", "options": [{"label": {"en": "A", "zh": "甲"}, "value": "a"}],
         "type": "select"}]}
    text = form_drafts.dump_form(schema)
    assert text.startswith("title: {zh: 表, en: T}\n")
    assert "label: {zh: 类别, en: Kind}" in text and "- value: a\n    label: {zh: 甲, en: A}" in text


def test_a_new_form_is_added_to_the_draft_and_opened(app, sessions, owner):
    client = signed_in(app, owner)
    assert new_approval(client, "req4").status_code == 302
    token = csrf_token(client, "/designer/req4/forms")
    made = client.post("/designer/req4/forms", data={"name": "expense", "csrf_token": token})
    assert made.status_code == 302 and made.headers["Location"].endswith("/designer/req4/forms?form=expense")
    with sessions() as session:
        text = drafts.get_draft(session, "req4").files["forms/expense.yaml"]
    assert text == "title: {zh: expense, en: expense}\nfields:\n- {name: title, type: text}\n"
    again = client.post("/designer/req4/forms", data={"name": "expense", "csrf_token": token},
                        headers={"Accept-Language": "en"}, follow_redirects=True)
    assert "there is already a form expense" in again.get_data(as_text=True)
    bad = client.post("/designer/req4/forms", data={"name": "../x", "csrf_token": token}, follow_redirects=True)
    assert "表单名称只能由字母" in bad.get_data(as_text=True)


def test_a_formjs_file_is_imported_as_a_form_of_the_draft(app, sessions, owner):
    """Camunda Modeler's form-js file becomes a Liaison form (the converter of `liaison import-formjs`);
    what it could not map exactly is listed, a file that is not form-js is refused and nothing is saved."""
    import io

    client = signed_in(app, owner)
    assert new_approval(client, "req5").status_code == 302
    token = csrf_token(client, "/designer/req5/forms")
    invoice = (Path(__file__).resolve().parents[1] / "fixtures" / "formjs" / "invoice.form").read_bytes()
    done = client.post("/designer/req5/forms/import", content_type="multipart/form-data",
                       data={"name": "invoice", "csrf_token": token, "file": (io.BytesIO(invoice), "invoice.form")})
    assert done.status_code == 302 and done.headers["Location"].endswith("/designer/req5/forms?form=invoice")
    with sessions() as session:
        files = drafts.get_draft(session, "req5").files
        revision = drafts.get_draft(session, "req5").revision
    schema = yaml.safe_load(files["forms/invoice.yaml"])
    assert schema["fields"] and all("name" in field for field in schema["fields"])
    refused = client.post("/designer/req5/forms/import", content_type="multipart/form-data",
                          data={"name": "other", "csrf_token": token, "file": (io.BytesIO(b"{}"), "x.form")},
                          follow_redirects=True)
    assert "不是 form-js 表单" in refused.get_data(as_text=True)
    with sessions() as session:
        assert drafts.get_draft(session, "req5").revision == revision and "forms/other.yaml" not in files


def test_a_form_exports_as_formjs_and_imports_back_where_the_types_map(app, sessions, owner):
    """form-js export (the reverse of the import, for the types form-js has): what it holds comes back
    through `import_formjs`; the rest is left out and counted."""
    import json as jsonlib

    from forms.formjs import import_formjs
    from forms.formjs_export import export_formjs

    schema = yaml.safe_load((FIXTURES / "every_type.yaml").read_text(encoding="utf-8"))
    result = export_formjs(schema, "zh")
    back = import_formjs(result.document)
    assert [(f["name"], f["type"]) for f in back.schema["fields"]] == [
        ("text", "text"), ("textarea", "textarea"), ("number", "number"), ("amount", "number"), ("date", "date"),
        ("datetime", "datetime"), ("select", "select"), ("radio", "radio"), ("checkboxes", "checkboxes"),
        ("file", "file"), ("table", "table"), ("notice_1", "notice")]
    assert back.problems == []
    assert any("`quiz`" in p and "left out" in p for p in result.problems)
    assert any("visible_if" in p for p in result.problems)
    assert back.schema["fields"][0]["label"] == "标题"

    client = signed_in(app, owner)
    assert new_approval(client, "req6").status_code == 302
    with sessions() as session:
        name = form_drafts.form_names(drafts.get_draft(session, "req6").files)[0]
    answer = client.get(f"/designer/req6/forms/{name}.form")
    assert answer.status_code == 200 and answer.headers["Content-Disposition"].endswith(f'{name}.form"')
    document = jsonlib.loads(answer.get_data(as_text=True))
    assert document["type"] == "default" and document["components"]
    assert import_formjs(document).schema["fields"]
    assert 'id="fb-export"' in client.get(f"/designer/req6/forms?form={name}").get_data(as_text=True)


def test_the_chinese_builder_names_a_field_and_a_one_line_text_as_things_not_people(app, owner):
    client = signed_in(app, owner)
    assert new_approval(client, "req_zh").status_code == 302
    html = client.get("/designer/req_zh/forms?form=decision").get_data(as_text=True)
    labels = json.loads(re.search(r'<script type="application/json" id="fb-labels">(.*?)</script>', html, re.S).group(1))
    assert labels["name"] == "字段名"  # not 姓名, a person's name
    types = {t["type"]: t["label"] for t in client.get("/designer/req_zh/forms/decision.json").get_json()["types"]}
    assert types["text"] == "单行文本" and types["textarea"] == "多行文本"  # not 正文, a document's body

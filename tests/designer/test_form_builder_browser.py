"""The form builder in a browser (issue 15, first "Done when"): a form with one field of every type built from
the palette, an invalid expression refused as typed, a field read-only at a second task, preview in zh and en
and at phone width, and the saved YAML equal to tests/fixtures/forms/every_type.yaml."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.packages import drafts
from tests.designer.flow_pages import new_process
from tests.designer.test_flow_browser import SHOTS, site  # noqa: F401 (fixture)
from tests.web.test_browser_approval import Person as Browser
from tests.web.test_browser_approval import browser  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "forms" / "every_type.yaml"
LABELS = {"text": ("标题", "Title"), "textarea": ("说明", "Details"), "number": ("数量", "Count"),
          "money": ("金额", "Amount"), "date": ("日期", "Date"), "datetime": ("时间", "Time"),
          "date_range": ("期间", "Period"), "select": ("类别", "Kind"), "radio": ("单选", "One"),
          "checkboxes": ("多选", "Several"), "user": ("人员", "Person"), "department": ("部门", "Department"),
          "file": ("附件", "Attachment"), "rating": ("评分", "Rating"), "table": ("明细", "Items"),
          "quiz": None, "related": ("关联审批", "Related request"), "serial": ("编号", "Number"),
          "formula": ("合计", "Total"), "notice": None}
REVIEW = ('    <bpmn:userTask id="review" name="Review" liaison:form="every">\n'
          '      <bpmn:incoming>f_decided</bpmn:incoming>\n      <bpmn:outgoing>f_reviewed</bpmn:outgoing>\n'
          '    </bpmn:userTask>\n'
          '    <bpmn:sequenceFlow id="f_reviewed" sourceRef="review" targetRef="decision" />\n')


def _prepare(sessions) -> None:
    """The approval template's task uses form `every` (a title only), and a second task `review` too."""
    with sessions() as session, session.begin():
        draft = drafts.get_draft(session, "every")
        files = dict(draft.files)
        name = drafts.main_bpmn_name(files, "every")
        xml = files[name].replace('liaison:form="decision"', 'liaison:form="every"')
        xml = xml.replace('targetRef="decision" />', 'targetRef="review" />', 1)
        xml = xml.replace("    <bpmn:exclusiveGateway", REVIEW + "    <bpmn:exclusiveGateway", 1)
        xml = xml.replace("<bpmn:incoming>f_decided</bpmn:incoming>\n      <bpmn:outgoing>f_approved",
                          "<bpmn:incoming>f_reviewed</bpmn:incoming>\n      <bpmn:outgoing>f_approved")
        files[name] = xml
        files["forms/every.yaml"] = "title: {zh: 每种字段, en: Every field type}\nfields: []\n"
        drafts.save_draft(session, "owner", "every", draft.revision, files)


def _saved_after(page, action) -> None:
    with page.expect_response(lambda r: r.request.method == "PUT" and r.url.endswith("/forms/every.json")) as answer:
        action()
    assert answer.value.status == 200


def _build(page) -> None:
    """Every field type from the palette, in order, with its labels and the keys the fixture has."""
    for kind, labels in LABELS.items():
        page.click(f".fb-add[data-type={kind}]")
        assert page.locator(".fb-field.selected code").inner_text() == kind
        if labels:
            page.fill("#fb-prop-label-zh", labels[0])
            page.fill("#fb-prop-label-en", labels[1])
        if kind == "text":
            page.check("#fb-prop-required")
            page.fill("#fb-prop-max_length", "80")
        elif kind == "number":
            page.fill("#fb-prop-min", "1")
        elif kind == "money":
            page.fill("#fb-prop-name", "amount")
        elif kind == "select":
            page.fill("#fb-prop-options", "a|甲|A\nb|乙|B")
        elif kind == "table":
            page.fill("#fb-prop-columns", "count|number\nprice|money\nline_total|formula|||count * price")
            page.fill("#fb-prop-sums", "line_total")
        elif kind == "quiz":
            page.fill("#fb-prop-question-zh", "问题")
            page.fill("#fb-prop-question-en", "Question")
        elif kind == "formula":
            page.fill("#fb-prop-expression", "sum(table, 'line_total')")
            page.wait_for_selector("#fb-prop-expression-result[data-state=ok]")


def test_a_form_with_every_field_type_is_built_checked_previewed_and_saved(browser, site):  # noqa: F811
    base, sessions = site
    person = Browser(browser, base, "owner", "zh")
    page = person.page
    new_process(page, base, "every", "每种字段", "approval")
    _prepare(sessions)
    page.goto(f"{base}/designer/every/forms?form=every")
    page.wait_for_selector("#form-builder[data-ready=true]")

    _build(page)
    assert page.locator(".fb-field").count() == len(LABELS)

    page.click(".fb-field[data-name=textarea] .fb-field-main")  # an invalid expression: refused as typed
    page.fill("#fb-prop-visible_if", "amount >")
    page.wait_for_selector("#fb-prop-visible_if-result[data-state=error]")
    assert "amount >" in page.locator("#fb-prop-visible_if-result").inner_text()
    page.fill("#fb-prop-visible_if", "amout > 100")
    page.wait_for_selector("#fb-prop-visible_if-result:has-text('amout')")
    page.fill("#fb-prop-visible_if", "amount > 100")
    page.wait_for_selector("#fb-prop-visible_if-result[data-state=ok]")

    page.click(".fb-field[data-name=notice] .fb-field-main")  # keyboard: move down is a no-op at the end,
    page.keyboard.press("Alt+ArrowUp")                        # up and back down again
    assert page.locator(".fb-field").nth(len(LABELS) - 2).get_attribute("data-name") == "notice"
    page.keyboard.press("Alt+ArrowDown")
    assert page.locator(".fb-field").last.get_attribute("data-name") == "notice"

    assert page.locator("#fb-access-grid th code").all_inner_texts() == ["approval", "review"]
    _saved_after(page, lambda: page.select_option("#fb-access-grid select[data-node=review][data-field=text]",
                                                  "readonly"))
    page.wait_for_selector("#fb-status[data-state=saved]")
    page.wait_for_selector("#fb-yaml-problems .fb-ok")
    with sessions() as session:
        saved = drafts.get_draft(session, "every").files["forms/every.yaml"]
    assert saved == FIXTURE.read_text(encoding="utf-8")
    assert page.input_value("#fb-yaml") == saved

    frame = page.locator("#fb-preview-frame")
    page.wait_for_selector("#fb-preview-frame .lf-form")
    assert "金额" in frame.inner_text() and "明细" in frame.inner_text()
    page.click("#fb-preview-en")
    page.wait_for_selector("#fb-preview-frame .lf-form[lang=en]")
    assert "Amount" in frame.inner_text() and "Items" in frame.inner_text()
    page.select_option("#fb-preview-node", "review")
    page.wait_for_selector("#fb-preview-frame:not(:has(input[name=text]))")
    shots = os.environ.get("LIAISON_SCREENSHOTS") == "1"
    if shots:
        page.screenshot(path=str(SHOTS / "form-builder-zh-1280.png"), full_page=True)
    page.select_option("#fb-preview-node", "")
    page.click("#fb-preview-zh")
    page.wait_for_selector("#fb-preview-frame .lf-form[lang=zh-CN]")
    details = page.locator("#fb-preview-frame [data-field=textarea]")
    assert details.is_hidden()  # visible_if amount > 100, live in the preview (liaison-forms.js)
    page.fill("#fb-preview-frame input[name=amount]", "200")
    details.wait_for(state="visible")
    page.click("#fb-preview-phone")
    assert frame.bounding_box()["width"] <= 390
    if shots:
        frame.screenshot(path=str(SHOTS / "form-preview-zh-390.png"))

    page.fill("#fb-yaml", saved.replace("min: 1", "min: x"))  # the YAML source: applied, its problem by line
    _saved_after(page, lambda: page.click("#fb-yaml-apply"))
    line = saved.splitlines().index("  min: 1") + 1
    page.wait_for_selector(f"#fb-yaml-problems li[data-line='{line}']")
    assert "min" in page.locator(f"#fb-yaml-problems li[data-line='{line}']").inner_text()
    page.click(f"#fb-yaml-problems li[data-line='{line}'] .fb-line")  # to the line in the source
    assert page.evaluate("(() => { const t = document.getElementById('fb-yaml');"
                         " return t.value.slice(t.selectionStart, t.selectionEnd); })()") == "  min: x"
    person.close()

    english = Browser(browser, base, "owner", "en")
    english.page.goto(f"{base}/designer/every/forms?form=every")
    english.page.wait_for_selector("#form-builder[data-ready=true]")
    assert "Detail table" in english.page.locator(".fb-palette").inner_text()
    if shots:
        english.page.screenshot(path=str(SHOTS / "form-builder-en-1280.png"), full_page=True)
    english.page.set_viewport_size({"width": 1024, "height": 768})  # tablet: the three columns still fit
    assert english.page.evaluate("document.documentElement.scrollWidth") <= 1024
    english.close()

"""Server-side rendering of built forms (forms.render + templates/forms/macros.html)."""

from __future__ import annotations

import json
from html.parser import HTMLParser

import pytest
from markupsafe import Markup

from forms.build import FormContext, StaticProviders, form_class
from forms.render import environment, render, static_path
from forms.schema import load_schema

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Node:
    def __init__(self, tag: str, attrs: dict, parent: Node | None):
        self.tag, self.attrs, self.parent, self.children, self.text_parts = tag, attrs, parent, [], []

    def get(self, key, default=None):
        return self.attrs.get(key, default)

    @property
    def text(self) -> str:
        return "".join(self.text_parts + [c.text for c in self.children]).strip()

    def walk(self):
        for child in self.children:
            yield child
            yield from child.walk()

    def find_all(self, tag=None, **attrs):
        return [n for n in self.walk() if (tag is None or n.tag == tag)
                and all(n.attrs.get(k.replace("_", "-")) == v if v is not True else k.replace("_", "-") in n.attrs
                        for k, v in attrs.items())]

    def find(self, tag=None, **attrs):
        found = self.find_all(tag, **attrs)
        return found[0] if found else None

    def ancestors(self):
        node = self.parent
        while node is not None:
            yield node
            node = node.parent


class _Builder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {}, None)
        self.current = self.root

    def handle_starttag(self, tag, attrs):
        node = Node(tag, {k: ("" if v is None else v) for k, v in attrs}, self.current)
        self.current.children.append(node)
        if tag not in VOID:
            self.current = node

    def handle_endtag(self, tag):
        node = self.current
        while node is not self.root and node.tag != tag:
            node = node.parent
        if node is not self.root:
            self.current = node.parent

    def handle_data(self, data):
        self.current.text_parts.append(data)


def parse(html: str) -> Node:
    builder = _Builder()
    builder.feed(str(html))
    return builder.root


class FormData(dict):
    """A browser post: name -> list of strings."""

    def getlist(self, key):
        return list(self.get(key, []))


SCHEMA = {
    "title": {"zh": "采购申请", "en": "Purchase request"},
    "access": {"Review": {"editable": ["comment"], "hidden": ["salary"]}},
    "fields": [
        {"name": "kind", "type": "select", "label": {"zh": "类别", "en": "Kind"}, "required": True,
         "options": [{"value": "travel", "label": {"zh": "差旅", "en": "Travel"}}, "office"]},
        {"name": "destination", "type": "text", "label": {"zh": "目的地", "en": "Destination"},
         "visible_if": "kind == 'travel'", "help": {"zh": "城市名", "en": "A city"}},
        {"name": "amount", "type": "money", "label": {"zh": "金额", "en": "Amount"}, "required": True},
        {"name": "count", "type": "number", "label": "数量", "min": 1, "max": 10, "integer": True},
        {"name": "period", "type": "date_range", "label": "期间", "workdays": True},
        {"name": "priority", "type": "radio", "label": "优先级", "options": [1, 2, 3], "required": True},
        {"name": "tags", "type": "checkboxes", "label": "标签", "options": ["a", "b"]},
        {"name": "owner", "type": "user", "label": "负责人"},
        {"name": "dept", "type": "department", "label": "部门"},
        {"name": "files", "type": "file", "label": "附件", "max_files": 2, "accept": [".pdf"]},
        {"name": "stars", "type": "rating", "label": "评分", "max": 3},
        {"name": "notice", "type": "notice", "content": "**注意** <script>alert('x')</script>"},
        {"name": "items", "type": "table", "label": "明细", "sums": ["qty", "price"], "columns": [
            {"name": "what", "type": "text", "label": "名称", "required": True},
            {"name": "qty", "type": "number", "label": "数量"},
            {"name": "price", "type": "money", "label": "单价"},
            {"name": "line", "type": "formula", "label": "小计", "expression": "qty * price", "decimals": 2}]},
        {"name": "q1", "type": "quiz", "question": "1 + 1 = ?", "kind": "single", "options": [1, 2], "answer": 2,
         "points": 5},
        {"name": "sn", "type": "serial", "label": "编号", "pattern": "PR-{yyyy}-{seq:4}"},
        {"name": "double", "type": "formula", "label": "两倍", "expression": "amount * 2", "decimals": 2},
        {"name": "related", "type": "related", "label": "关联审批"},
        {"name": "comment", "type": "textarea", "label": "意见"},
        {"name": "salary", "type": "number", "label": "薪资"},
    ],
}


@pytest.fixture(scope="module")
def schema():
    return load_schema(SCHEMA)


def build(schema, node=None, lang="zh", formdata=None, **context):
    ctx = FormContext(lang=lang, node=node, **context)
    return form_class(schema, node, lang)(formdata, ctx)


def wrapper(root: Node, name: str) -> Node:
    found = root.find(data_field=name)
    assert found is not None, f"no wrapper for {name}"
    return found


def test_every_input_has_a_label_for_it(schema):
    root = parse(render(build(schema), "zh"))
    controls = [n for n in root.walk() if n.tag in ("input", "select", "textarea") and n.get("type") != "hidden"]
    assert len(controls) > 20
    label_targets = {n.get("for") for n in root.find_all("label")}
    for control in controls:
        assert control.get("id"), control.attrs
        assert control.get("id") in label_targets, f"no <label for> for {control.attrs}"
    ids = [n.get("id") for n in root.walk() if n.get("id") and not any(a.tag == "template" for a in n.ancestors())]
    assert len(ids) == len(set(ids)), "ids must be unique"


def test_required_help_and_languages(schema):
    root = parse(render(build(schema, lang="zh"), "zh"))
    amount = root.find("input", id="amount")
    assert amount.get("aria-required") == "true"
    label = root.find("label", **{"for": "amount"})
    assert label.text.startswith("金额")
    assert label.find("span", **{"class": "lf-required"}).text == "*"
    destination = root.find("input", id="destination")
    assert destination.get("aria-describedby") == "destination-help"
    assert root.find(id="destination-help").text == "城市名"
    assert "aria-required" not in destination.attrs
    radios = root.find("fieldset", role="radiogroup", id="priority-group")
    assert radios.get("aria-required") == "true"
    assert radios.find("legend").text.startswith("优先级")
    assert root.find("h2").text == "采购申请"

    english = parse(render(build(schema, lang="en"), "en"))
    assert english.find("label", **{"for": "amount"}).text.startswith("Amount")
    assert english.find("h2").text == "Purchase request"
    assert [o.text for o in english.find("select", id="kind").find_all("option")] == ["— Choose —", "Travel", "office"]
    assert english.find(id="destination-help").text == "A city"


def test_widgets(schema):
    context = {"values": {"amount": 1234.5, "period": {"start": "2026-03-06", "end": "2026-03-10"},
                          "items": [{"what": "笔", "qty": 2, "price": 3.5}, {"what": "纸", "qty": 1, "price": 10}]},
               "providers": StaticProviders(lists={"users": [{"value": "u1", "label": "张三"}]})}
    root = parse(render(build(schema, **context), "zh"))
    count = root.find("input", id="count")
    assert (count.get("type"), count.get("min"), count.get("max"), count.get("step")) == ("number", "1", "10", "1")
    assert root.find("output", data_capital_for="amount").text == "壹仟贰佰叁拾肆元伍角"
    # date range: two inputs and the duration in workdays (Fri 6 .. Tue 10 March 2026 = 3 workdays)
    period = wrapper(root, "period")
    assert [i.get("name") for i in period.find_all("input")] == ["period-start", "period-end"]
    assert period.find("output", data_duration_for="period").text == "3 天"
    assert "data-workdays" in period.attrs
    # a user picker with listed options is a select; a department without a listing is a text input
    assert root.find("select", id="owner").find("option", value="u1").text == "张三"
    assert root.find("input", id="dept").get("type") == "text"
    # file: the chooser posts nothing itself; the hidden input holds the JSON list of references
    assert root.find("input", id="files-upload").get("type") == "file"
    assert "name" not in root.find("input", id="files-upload").attrs
    assert json.loads(root.find("input", type="hidden", name="files").get("value")) == []
    assert [r.get("value") for r in wrapper(root, "stars").find_all("input", type="radio")] == ["1", "2", "3"]
    # quiz question: a radio group with the points
    assert "5 分" in wrapper(root, "q1").find("legend").text
    # serial and formula outputs
    assert root.find("output", id="sn").text == "提交后自动生成"
    double = root.find("output", id="double")
    assert double.text == "2469.00"
    assert json.loads(double.get("data-formula")) == ["bin", "*", ["name", "amount"], ["const", 2]]
    # detail table: header, a row per entry with a remove button, a <template> row, sums in <tfoot>
    table = wrapper(root, "items")
    assert [th.text for th in table.find("thead").find_all("th")][:4] == ["名称*", "数量", "单价", "小计"]
    rows = table.find("tbody").find_all("tr", data_row=True)
    assert [r.get("data-row") for r in rows] == ["0", "1"]
    assert all(r.find("button", data_remove_row=True) for r in rows)
    assert root.find("input", id="items-1-price").get("value") == "10"
    assert root.find("output", id="items-0-line").text == "7.00"
    template = table.find("template")
    assert template.find("input", id="items-__index__-what") is not None
    assert table.find("button", data_add_row=True) is not None
    sums = {o.get("data-column"): o.text for o in table.find("tfoot").find_all("output")}
    assert sums == {"qty": "3", "price": "13.50"}
    assert root.find("input", id="related").get("type") == "text"


def test_visible_if_is_rendered_as_the_compiled_tree(schema):
    root = parse(render(build(schema), "zh"))
    destination = wrapper(root, "destination")
    assert json.loads(destination.get("data-visible-if")) == schema.exprs["destination:visible_if"]
    assert "hidden" in destination.attrs                      # kind is empty: the condition is false
    assert "disabled" in root.find("input", id="destination").attrs   # so its input is not posted
    shown = parse(render(build(schema, values={"kind": "travel"}), "zh"))
    assert "hidden" not in wrapper(shown, "destination").attrs
    assert "disabled" not in shown.find("input", id="destination").attrs


def test_errors_are_shown_next_to_their_field(schema):
    post = FormData({"kind": ["travel"], "amount": ["12.345"], "count": ["99"], "items-0-what": [""],
                     "items-0-qty": ["x"], "items-0-price": ["1"], "destination": ["  "]})
    form = build(schema, formdata=post)
    assert not form.validate()
    root = parse(render(form, "zh", action="/submit"))
    for name in ("amount", "count", "priority"):
        box = wrapper(root, name)
        errors = box.find("ul", id=f"{name}-errors")
        assert errors is not None and errors.get("class") == "field-errors" and errors.get("role") == "alert"
        assert errors.find("li").text
    amount = root.find("input", id="amount")
    assert amount.get("aria-invalid") == "true"
    assert "amount-errors" in amount.get("aria-describedby").split()
    assert amount.get("value") == "12.345"                      # what was typed is shown again
    assert "最多两位小数" in root.find(id="amount-errors").text
    assert all(r.get("aria-invalid") == "true" for r in wrapper(root, "priority").find_all("input", type="radio"))
    cell = root.find(data_name="items-0-qty")
    assert cell.find("ul", id="items-0-qty-errors", role="alert") is not None
    assert root.find("input", id="items-0-qty").get("aria-invalid") == "true"
    assert root.find(id="items-0-what-errors") is not None
    assert root.find("form").get("action") == "/submit"
    summary = root.find("div", **{"class": "lf-error-summary"})
    assert "#amount" in [a.get("href") for a in summary.find_all("a")]
    assert root.find(id="kind-errors") is None and "aria-invalid" not in root.find("select", id="kind").attrs


def test_later_node_shows_read_only_values_and_leaves_hidden_fields_out(schema):
    values = {"kind": "travel", "destination": "上海", "amount": 1234.5, "salary": 98765, "tags": ["a", "b"],
              "items": [{"what": "笔", "qty": 2, "price": 3.5}], "priority": 2, "period": {
                  "start": "2026-03-02", "end": "2026-03-04", "duration": 3}}
    root = parse(render(build(schema, node="Review", values=values), "zh"))
    # editable at this step: an input
    assert root.find("textarea", id="comment") is not None
    # read-only: text, no input carrying the name
    names = {n.get("name") for n in root.walk() if n.get("name")}
    assert names & {"kind", "destination", "amount", "tags", "priority", "period-start", "items-0-what"} == set()
    assert wrapper(root, "amount").find("div", **{"class": "lf-value"}).text == "¥1,234.50（壹仟贰佰叁拾肆元伍角）"
    assert wrapper(root, "kind").find("div", **{"class": "lf-value"}).text == "差旅"
    assert wrapper(root, "tags").find("div", **{"class": "lf-value"}).text == "a, b"
    assert wrapper(root, "period").find("div", **{"class": "lf-value"}).text == "2026-03-02 ~ 2026-03-04 (3 天)"
    assert json.loads(wrapper(root, "amount").get("data-value")) == 1234.5
    items = wrapper(root, "items")
    assert [td.text for td in items.find("tbody").find_all("td")] == ["笔", "2", "¥3.50（叁元伍角）", "7.00"]
    assert items.find("button") is None
    # hidden at this step: not rendered at all, and its value is nowhere in the page
    html = str(render(build(schema, node="Review", values=values), "zh"))
    assert root.find(data_field="salary") is None
    assert "salary" not in html and "98765" not in html


def test_notice_markdown_escapes_raw_html_and_labels_are_escaped():
    schema = load_schema({"fields": [
        {"name": "n", "type": "notice", "content": "# 须知\n\n**粗体** <script>alert(1)</script>\n\n<div onclick=x>y</div>"},
        {"name": "t", "type": "text", "label": "<script>alert('label')</script>", "help": "<b>help</b>"},
        {"name": "s", "type": "select", "label": "s", "options": [{"value": "<x>", "label": "<img src=x onerror=y>"}]},
    ]})
    html = str(render(form_class(schema)(None, FormContext()), "zh"))
    root = parse(html)
    notice = wrapper(root, "n")
    assert notice.find("h1").text == "须知"
    assert notice.find("strong").text == "粗体"
    assert "<script>" not in html and "<div onclick" not in html and "<img" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;script&gt;alert(&#39;label&#39;)&lt;/script&gt;" in html
    assert root.find("label", **{"for": "t"}).text == "<script>alert('label')</script>"
    assert root.find("option", value="<x>").text == "<img src=x onerror=y>"


def test_csrf_field_and_reusable_macros(schema):
    form = build(schema)
    root = parse(render(form, "zh", csrf_field=("csrf_token", "tok\"en")))
    assert root.find("input", type="hidden", name="csrf_token").get("value") == 'tok"en'
    marked = parse(render(form, "zh", csrf_field=Markup('<input type="hidden" name="_csrf" value="m">')))
    assert marked.find("input", name="_csrf").get("value") == "m"
    page = environment().from_string(
        '{% import "forms/macros.html" as forms %}<main>{{ forms.render_field(form.amount, form, "en") }}</main>')
    one = parse(page.render(form=form))
    assert one.find("input", id="amount") is not None and one.find("form") is None
    assert (static_path() / "liaison-forms.js").is_file()


def test_read_only_user_fields_show_the_labels_the_caller_gives():
    people = load_schema({"fields": [
        {"name": "manager", "type": "user", "label": "Manager"},
        {"name": "rows", "type": "table", "label": "Rows", "columns": [{"name": "who", "type": "user", "label": "Who"}]},
    ], "access": {"View": {"editable": []}}})
    values = {"manager": "wang", "rows": [{"who": "li"}, {"who": "nobody"}]}
    root = parse(render(build(people, node="View", values=values,
                              labels={"user": {"wang": "王五", "li": "李四"}}), "zh"))
    assert wrapper(root, "manager").find("div", **{"class": "lf-value"}).text == "王五"  # the stored value stays wang
    assert [td.text for td in wrapper(root, "rows").find("tbody").find_all("td")] == ["李四", "nobody"]


def test_editable_user_and_department_fields_carry_the_labels_the_caller_gives():
    """Issue 11 item 10: a typed user / department id the caller knows a name for goes out as `data-labels`
    (the web app's picker shows the name); the input's value stays the id (what a page without script posts)."""
    schema = load_schema({"fields": [
        {"name": "manager", "type": "user", "label": "Manager"},
        {"name": "team", "type": "department", "label": "Team"},
        {"name": "others", "type": "user", "multiple": True, "label": "Others"},
        {"name": "nobody", "type": "user", "label": "Nobody"},
    ]})
    values = {"manager": "wang", "team": "RND", "others": ["li", "zhao"], "nobody": "ghost"}
    root = parse(render(build(schema, values=values, labels={
        "user": {"wang": "王五", "li": "李四"}, "department": {"RND": "研发部"}}), "zh"))
    manager = root.find("input", id="manager")
    assert manager.get("value") == "wang" and manager.get("data-picker") == "people"
    assert json.loads(manager.get("data-labels")) == {"wang": "王五"}
    assert json.loads(root.find("input", id="team").get("data-labels")) == {"RND": "研发部"}
    assert json.loads(root.find("input", id="others").get("data-labels")) == {"li": "李四"}
    assert root.find("input", id="nobody").get("data-labels") is None


def test_read_only_datetimes_read_as_date_and_time_not_iso():
    visit = load_schema({"fields": [{"name": "arrives", "type": "datetime", "label": "Arrives"}],
                         "access": {"View": {"editable": []}}})
    root = parse(render(build(visit, node="View", values={"arrives": "2026-12-07T10:00"}), "zh"))
    assert wrapper(root, "arrives").find("div", **{"class": "lf-value"}).text == "2026-12-07 10:00"


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_read_only_numbers_have_thousands_separators_and_dates_one_way(lang):
    """Read only, a number field groups its thousands (as money already does); dates and times read the
    way every page writes them (forms.dates.moment_text), seconds and offsets left out."""
    schema = load_schema({"fields": [
        {"name": "count", "type": "number", "label": "Count"},
        {"name": "ratio", "type": "number", "label": "Ratio"},
        {"name": "price", "type": "money", "label": "Price"},
        {"name": "on", "type": "date", "label": "On"},
        {"name": "at", "type": "datetime", "label": "At"},
        {"name": "away", "type": "date_range", "label": "Away", "unit": "hours"},
        {"name": "rows", "type": "table", "label": "Rows", "columns": [{"name": "qty", "type": "number", "label": "Qty"}]},
    ], "access": {"View": {"editable": []}}})
    values = {"count": 12800, "ratio": -1234567.25, "price": 12800, "on": "2026-12-05", "at": "2026-12-05T04:32:10",
              "away": {"start": "2026-12-05T09:00", "end": "2026-12-05T12:30"}, "rows": [{"qty": 4500}]}
    root = parse(render(build(schema, node="View", values=values), lang))
    shown = {name: wrapper(root, name).find("div", **{"class": "lf-value"}).text
             for name in ("count", "ratio", "price", "on", "at")}
    assert shown == {"count": "12,800", "ratio": "-1,234,567.25", "price": "¥12,800.00（壹万贰仟捌佰元整）",
                     "on": "2026-12-05", "at": "2026-12-05 04:32"}
    assert [td.text for td in wrapper(root, "rows").find("tbody").find_all("td")] == ["4,500"]
    assert wrapper(root, "away").find("div", **{"class": "lf-value"}).text == "2026-12-05 09:00 ~ 2026-12-05 12:30"


def test_a_read_only_table_without_rows_reads_as_empty_not_as_headers_alone():
    plan = load_schema({"fields": [{"name": "plan", "type": "table", "label": "Plan",
                                    "columns": [{"name": "title", "type": "text", "label": "Title"}]}],
                        "access": {"View": {"editable": []}}})
    root = parse(render(build(plan, node="View", values={"plan": []}), "zh"))
    assert wrapper(root, "plan").find("table") is None
    assert wrapper(root, "plan").find("div", **{"class": "lf-value"}).text == "—"


def test_a_fresh_form_opens_with_the_rows_its_table_needs_and_a_post_keeps_what_was_posted():
    from werkzeug.datastructures import MultiDict
    items = load_schema({"fields": [{"name": "items", "type": "table", "label": "Items", "required": True,
                                     "min_rows": 2, "columns": [
                                         {"name": "what", "type": "text", "label": "What", "required": True},
                                         {"name": "qty", "type": "number", "label": "Qty", "default": 1}]}]})

    def inputs(root) -> list[str]:
        return [n.attrs.get("name") for n in wrapper(root, "items").find_all("input")
                if (n.attrs.get("name") or "").startswith("items-") and "__index__" not in n.attrs.get("name")]

    fresh = parse(render(build(items), "en"))
    assert inputs(fresh) == ["items-0-what", "items-0-qty", "items-1-what", "items-1-qty"]
    assert [n.attrs.get("value") for n in wrapper(fresh, "items").find_all("input")
            if n.attrs.get("name") == "items-0-qty"] == ["1"]  # a column's default is filled in
    emptied = parse(render(build(items, formdata=MultiDict({"other": "x"})), "en"))  # a post without rows
    assert inputs(emptied) == []

"""The rendered form in a real browser: headless Chromium (Playwright) against a throwaway WSGI server.

The server renders the form with forms.render, serves static/liaison-forms.js, and on POST validates
the body with forms.build.validate_formdata (same schema) and answers the cleaned data as JSON. So these
tests check that what the browser shows and posts is what the server accepts: conditions, table rows,
sums, capital numerals, durations, and the JavaScript expression walker against forms/expr.py.
"""

from __future__ import annotations

import json
import threading
from datetime import date
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest

from forms.build import FormContext, form_class, validate_formdata
from forms.dates import range_duration
from forms.expr import ExpressionError, compile_expression, evaluate
from forms.money import to_capital
from forms.render import render, static_path
from forms.schema import load_schema
from tests.browser_support import chromium

pytestmark = pytest.mark.browser


SCHEMA = load_schema({
    "title": {"zh": "报销", "en": "Expense claim"},
    "fields": [
        {"name": "kind", "type": "radio", "label": {"zh": "类别", "en": "Kind"}, "required": True,
         "options": [{"value": "travel", "label": {"zh": "差旅", "en": "Travel"}},
                     {"value": "office", "label": {"zh": "办公", "en": "Office"}}]},
        {"name": "destination", "type": "text", "label": {"zh": "目的地", "en": "Destination"}, "required": True,
         "visible_if": "kind == 'travel'"},
        {"name": "amount", "type": "money", "label": {"zh": "金额", "en": "Amount"}},
        {"name": "big", "type": "textarea", "label": "Why so much?", "visible_if": "amount > 1000"},
        {"name": "items", "type": "table", "label": {"zh": "明细", "en": "Items"}, "sums": ["qty", "price", "line"],
         "columns": [
             {"name": "what", "type": "text", "label": {"zh": "名称", "en": "What"}, "required": True},
             {"name": "qty", "type": "number", "label": {"zh": "数量", "en": "Qty"}},
             {"name": "price", "type": "money", "label": {"zh": "单价", "en": "Price"}},
             {"name": "line", "type": "formula", "label": {"zh": "小计", "en": "Line"}, "expression": "qty * price",
              "decimals": 2},
             {"name": "reason", "type": "text", "label": "Why so dear?", "visible_if": "price > 100"}]},
        {"name": "total", "type": "formula", "label": {"zh": "合计", "en": "Total"},
         "expression": "sum(items, 'line')", "decimals": 2},
        {"name": "period", "type": "date_range", "label": {"zh": "期间", "en": "Period"}},
        {"name": "workdays", "type": "date_range", "label": "Workdays", "workdays": True},
        {"name": "tags", "type": "checkboxes", "label": "Tags", "options": ["a", "b", "c"]},
        {"name": "level", "type": "select", "label": "Level", "options": [1, 2, 3]},
        {"name": "sure", "type": "quiz", "question": "Sure?", "kind": "true_false", "answer": True},
        {"name": "note", "type": "textarea", "label": "Note", "required_if": "len(tags) >= 2"},
    ],
})
CALENDAR = {"holidays": ["2026-10-01", "2026-10-02"], "extra_workdays": ["2026-10-10"]}


def _context() -> FormContext:
    return FormContext(lang="en", today=date(2026, 3, 1), calendar=CALENDAR)


class _Posted:
    """parse_qs output seen through the getlist interface WTForms reads."""

    def __init__(self, data: dict[str, list[str]]):
        self._data = data

    def getlist(self, key):
        return list(self._data.get(key, []))

    def __contains__(self, key):
        return key in self._data

    def __iter__(self):
        return iter(self._data)

    def __len__(self):
        return len(self._data)


def _page() -> bytes:
    form = form_class(SCHEMA, None, "en")(None, _context())
    body = render(form, "en", action="/submit")
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>form</title>'
            f'<script src="/static/liaison-forms.js" defer></script></head><body><main>{body}</main></body></html>'
            ).encode()


def _app(environ, start_response):
    path, method = environ["PATH_INFO"], environ["REQUEST_METHOD"]
    if method == "POST" and path == "/submit":
        size = int(environ.get("CONTENT_LENGTH") or 0)
        posted = parse_qs(environ["wsgi.input"].read(size).decode(), keep_blank_values=True)
        result = validate_formdata(SCHEMA, _Posted(posted), _context())
        body = json.dumps({"data": result.data, "errors": result.errors, "posted": posted}).encode()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]
    if path == "/static/liaison-forms.js":
        start_response("200 OK", [("Content-Type", "text/javascript; charset=utf-8")])
        return [(static_path() / "liaison-forms.js").read_bytes()]
    if path == "/":
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
        return [_page()]
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"not found"]


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = make_server("127.0.0.1", 0, _app, handler_class=_Quiet)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser():
    yield from chromium()


@pytest.fixture
def page(browser, server):
    context = browser.new_context()
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.goto(server + "/")
    page.wait_for_function("window.LiaisonForms !== undefined")
    yield page
    context.close()
    assert not problems, f"JavaScript errors: {problems}"


def _submit(page) -> dict:
    with page.expect_response(lambda r: r.url.endswith("/submit")) as response:
        page.click("button[type=submit]")
    return response.value.json()


def _field(page, name: str):
    return page.locator(f'[data-field="{name}"]')


def test_conditional_field_shows_and_hides(page):
    destination = _field(page, "destination")
    assert destination.is_hidden()
    assert page.locator("#destination").is_disabled()
    page.check("#kind-opt-0")            # travel
    assert destination.is_visible()
    assert page.locator("#destination").is_enabled()
    page.check("#kind-opt-1")            # office
    assert destination.is_hidden()
    assert page.locator("#destination").is_disabled()
    # a numeric condition on a money field, evaluated while typing
    page.fill("#amount", "999.99")
    assert _field(page, "big").is_hidden()
    page.fill("#amount", "1,000.01")
    assert _field(page, "big").is_visible()


def test_table_rows_add_and_remove_and_sums_follow(page):
    table = _field(page, "items")
    add = table.locator("[data-add-row]")
    add.click()
    add.click()
    add.click()
    assert table.locator("tbody tr[data-row]").count() == 3
    names = page.eval_on_selector_all('[data-field="items"] tbody input', "els => els.map(e => e.name)")
    assert len(names) == len(set(names)) == 12
    for index, (qty, price) in enumerate([("2", "3.50"), ("1", "10"), ("4", "0.25")]):
        page.fill(f"#items-{index}-qty", qty)
        page.fill(f"#items-{index}-price", price)
    assert page.text_content("#items-0-line") == "7.00"

    def sums():
        return {c: table.locator(f'output[data-column="{c}"]').text_content() for c in ("qty", "price", "line")}
    assert sums() == {"qty": "7", "price": "13.75", "line": "18.00"}
    assert page.text_content("#total") == "18.00"
    table.locator("tbody tr[data-row]").nth(0).locator("[data-remove-row]").click()
    assert table.locator("tbody tr[data-row]").count() == 2
    assert sums() == {"qty": "5", "price": "10.25", "line": "11.00"}
    assert page.text_content("#total") == "11.00"
    labels = page.eval_on_selector_all('[data-field="items"] [data-remove-row]', "els => els.map(e => e.ariaLabel)")
    assert labels == ["Remove row 1", "Remove row 2"]
    add.click()                          # a new row gets a fresh index, never a duplicate id
    ids = page.eval_on_selector_all('[data-field="items"] tbody [id]', "els => els.map(e => e.id)")
    assert len(ids) == len(set(ids))
    assert page.locator("#items-3-what").is_visible()
    # a cell's own condition reads its row
    reason = page.locator('[data-name="items-1-reason"]')
    assert reason.is_hidden() and page.locator("#items-1-reason").is_disabled()
    page.fill("#items-1-price", "150")
    assert reason.is_visible() and page.locator("#items-1-reason").is_enabled()
    assert page.locator('[data-name="items-2-reason"]').is_hidden()
    assert sums()["price"] == "150.25"


def test_required_if_follows_the_other_fields(page):
    note = page.locator("#note")
    marker = _field(page, "note").locator(".lf-required")
    assert note.get_attribute("aria-required") == "false" and marker.is_hidden()
    page.check("#tags-opt-0")
    page.check("#tags-opt-1")
    assert note.get_attribute("aria-required") == "true" and marker.is_visible()
    page.uncheck("#tags-opt-0")
    assert note.get_attribute("aria-required") == "false" and marker.is_hidden()


def test_capital_numerals_follow_the_amount(page):
    capital = page.locator('output[data-capital-for="amount"]')
    page.locator("#amount").press_sequentially("1234.5")
    assert capital.text_content() == "壹仟贰佰叁拾肆元伍角"
    page.fill("#amount", "100000000.01")
    assert capital.text_content() == "壹亿元零壹分"
    page.fill("#amount", "12.345")           # not an amount: nothing is shown
    assert capital.text_content() == ""
    page.fill("#amount", "")
    assert capital.text_content() == ""


def test_date_range_durations(page):
    page.fill("#period-start", "2026-03-02")
    page.fill("#period-end", "2026-03-04")
    assert page.text_content("#period-duration") == "3 days"
    # Wed 30 Sep .. Sat 10 Oct 2026: 1, 2 Oct are holidays, Sat 10 Oct is a working Saturday: 1 + 5 + 1
    page.fill("#workdays-start", "2026-09-30")
    page.fill("#workdays-end", "2026-10-10")
    assert page.text_content("#workdays-duration") == "7 days"
    page.fill("#period-end", "2026-03-01")   # before the start
    assert page.text_content("#period-duration") == ""


def test_submitted_data_round_trips(page):
    page.check("#kind-opt-0")
    page.fill("#destination", "  Paris ")
    page.fill("#amount", "1,234.5")
    page.fill("#big", "a conference")
    add = page.locator('[data-field="items"] [data-add-row]')
    add.click()
    add.click()
    page.fill("#items-0-what", "pens")
    page.fill("#items-0-qty", "2")
    page.fill("#items-0-price", "3.5")
    page.fill("#items-1-what", "paper")
    page.fill("#items-1-qty", "1")
    page.fill("#items-1-price", "10")
    page.fill("#period-start", "2026-03-02")
    page.fill("#period-end", "2026-03-04")
    page.check("#tags-opt-0")
    page.check("#tags-opt-2")
    page.select_option("#level", "2")
    page.check("#sure-opt-1")            # false
    page.fill("#note", "thanks")
    result = _submit(page)
    assert result["errors"] == {}
    assert result["data"] == {
        "kind": "travel", "destination": "Paris", "amount": 1234.5, "big": "a conference",
        "items": [{"what": "pens", "qty": 2, "price": 3.5, "line": 7.0},
                  {"what": "paper", "qty": 1, "price": 10, "line": 10.0}],
        "total": 17.0,
        "period": {"start": "2026-03-02", "end": "2026-03-04", "duration": 3},
        "workdays": None, "tags": ["a", "c"], "level": 2, "sure": False, "note": "thanks",
        "quiz_result": {"total": 0.0, "maximum": 1.0, "percent": 0.0, "passed": False},  # `sure` is wrong
    }


def test_a_hidden_conditional_field_is_not_posted(page):
    page.check("#kind-opt-0")
    page.fill("#destination", "Paris")
    page.check("#kind-opt-1")            # office: destination is hidden again
    page.locator('[data-field="items"] [data-add-row]').click()
    page.fill("#items-0-what", "chair")
    page.fill("#items-0-price", "199")
    page.fill("#items-0-reason", "comfort")
    page.fill("#items-0-price", "80")    # the reason is hidden again, so it is not posted either
    assert page.text_content("#items-0-line") == "0.00"      # None * 80 is 0, as on the server
    result = _submit(page)
    assert "items-0-reason" not in result["posted"]
    assert result["data"]["items"] == [{"what": "chair", "qty": None, "price": 80, "line": 0.0}]
    assert "destination" not in result["posted"]
    assert "destination" not in result["data"]
    assert result["errors"] == {}        # required, but hidden: not asked for
    assert result["data"]["kind"] == "office"


# -- the JavaScript walker and helpers against their Python originals -------------------------------------

EXPRESSIONS = [
    "a + b", "a - b * 2", "a / b", "a // b", "-a // 3", "a % -3", "7 // 2", "-7 // 2", "-7.5 % 2", "0.1 + 0.2",
    "round(a, 2)", "round(2.5)", "round(3.5)", "round(-2.5)", "round(0.125, 2)", "round(2.675, 2)", "round(1.005, 2)",
    "round(12345.6789, 3)", "round(a, 20)", "abs(-a)", "len(s)", "len('中文')", "len(d)", "len(e)",
    "sum(items, 'p')", "sum(items, 'q')", "sum([1, 2, None, ''])", "sum([0.1, 0.1, 0.1])", "min(a, b, 3)", "max([])",
    "max(1, True)", "min(items, 'p')", "s + 'x'", "a + 'x'", "'q' * 2", "[] + [1]", "e + 1", "t + t", "-t",
    "a == 7.5", "b == 2.0", "a == '7.5'", "'' == None", "e == None", "t == 1", "t in [1]", "[1] == [1.0]",
    "x in ['a', 'b']", "x in 'abc'", "'k' in d", "x not in d", "e in [None]", "'' in [None]",
    "a < '8'", "'5' > 3", "'a' > 3", "s < 'b'", "None < 1", "1 < 2 < 3", "1 < 3 < 2",
    "a if s else b", "s and a or b", "not []", "not d", "e or 'default'", "items[0]['p']", "items[-1]",
    "items[9]", "s[0]", "s[-1]", "d['k']", "d['z']", "1 / 0", "a % 0", "a * 1e308 * 10", "kind == 'travel'",
    "amount > 1000", "amount * 2", "len(tags) >= 2 and 'b' in tags", "period['duration'] if period else 0",
    "1e308 * 10", "sum([1e308, 1e308])", "abs(-1e308 * 10)", "round(inf)", "round(nan_)", "round(1, inf)",
    "round(inf, 2)", "abs()", "round()", "sum(items, 1)", "round(1.5, -3)", "round(1.23456, 99)", "-inf",
    "inf > 1", "nan_ == nan_",
]
ENV = {"a": 7.5, "b": 2, "s": "abc", "t": True, "x": "a", "d": {"k": 1}, "e": None, "kind": "travel",
       "amount": 1234.5, "tags": ["a", "b"], "period": {"start": "2026-03-02", "end": "2026-03-04", "duration": 3},
       "inf": "inf", "nan_": "nan", "items": [{"p": 1.1, "q": "2"}, {"p": 2.2}, {"p": None}, {"p": ""}]}


def _python(tree):
    try:
        return {"ok": evaluate(tree, ENV)}
    except ExpressionError:
        return {"error": True}


def test_javascript_walker_agrees_with_python(page):
    trees = [compile_expression(source) for source in EXPRESSIONS]
    got = page.evaluate("""([trees, env]) => trees.map(t => {
        try { return {ok: LiaisonForms.evaluate(t, env)}; }
        catch (e) { if (e instanceof LiaisonForms.ExpressionError) return {error: true}; throw e; }
    })""", [trees, ENV])
    for source, tree, js in zip(EXPRESSIONS, trees, got, strict=True):
        assert js == _python(tree), source        # 3.0 == 3: JavaScript has one number type


def test_javascript_capital_numerals_agree_with_python(page):
    amounts = ["0", "0.5", "0.05", "1.05", "10", "1010", "10005", "100010000", "100001000", "107000", "20.30",
               "1234.50", "1,234.5", "１２３", "100000000.01", "9999999999999999.99", "1234567812345678",
               "1000000000000000", "10000000000000000", "-1", "1.001", "1e3", "", "abc"]
    amounts += [f"{n}{cents}" for n in (3, 40, 506, 7008, 90001, 1020304, 50607080, 900000009, 12000000034,
                                        305000000000, 7000000800000, 10101010101010, 999999999999999)
                for cents in ("", ".1", ".01", ".99")]
    expected = []
    for amount in amounts:
        try:
            expected.append(to_capital(amount))
        except ValueError:
            expected.append(None)
    got = page.evaluate("""amounts => amounts.map(a => {
        try { return LiaisonForms.toCapital(a); } catch (e) { return null; }
    })""", amounts)
    assert dict(zip(amounts, got, strict=True)) == dict(zip(amounts, expected, strict=True))


def test_javascript_durations_agree_with_python(page):
    cases = [("2026-03-02", "2026-03-02", "days", False), ("2026-03-02", "2026-03-08", "days", True),
             ("2026-09-28", "2026-10-12", "days", True), ("2026-03-02T09:00", "2026-03-02T17:30", "hours", False),
             ("2026-03-06T18:00", "2026-03-09T09:20", "hours", True), ("2026-10-09T12:00", "2026-10-11T01:01", "hours", True),
             ("2026-03-02T10:00", "2026-03-05T10:00", "days", False)]
    expected = [float(range_duration(s, e, unit=u, workdays=w, holidays=CALENDAR["holidays"],
                                     extra_workdays=CALENDAR["extra_workdays"])) for s, e, u, w in cases]
    got = page.evaluate("""([cases, calendar]) => cases.map(([s, e, unit, workdays]) =>
        LiaisonForms.rangeDuration(s, e, {unit, workdays, holidays: calendar.holidays,
                                          extra_workdays: calendar.extra_workdays}))""", [cases, CALENDAR])
    assert got == expected

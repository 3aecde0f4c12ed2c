"""The chart macro (web/templates/_charts.html): the numbers are a table first, and static/charts.js draws a
Chart.js canvas from that table in the browser, under the app's CSP."""

from __future__ import annotations

import pytest
from flask import Blueprint, render_template_string
from lxml import html

from engine.data import db
from engine.people import accounts
from tests.browser_support import chromium, serving
from web import create_app

from .conftest import PASSWORD, sign_in

PAGE = """{% extends "base.html" %}{% from "_charts.html" import chart, chart_scripts %}
{% block content %}
{{ chart("by-dept", "通过率", labels=["研发部", "人力资源部"], series=[{"label": "通过", "values": [7, 3]},
         {"label": "未通过", "values": [1, 0]}]) }}
{{ chart("share", "Share", labels=["A", "B"], series=[{"label": "%", "values": [62.5, 37.5]}], kind="pie", unit="%") }}
{{ chart_scripts() }}
{% endblock %}"""

charts_page = Blueprint("charts_page", __name__)


@charts_page.get("/_charts")
def show():
    return render_template_string(PAGE)


@pytest.fixture(scope="module")
def chart_app(tmp_path_factory):
    """One app on SQLite for the module (charts touch no data), with zhang to sign in as."""
    url = f"sqlite:///{tmp_path_factory.mktemp('charts') / 'liaison.db'}"
    db.upgrade(url)
    engine = db.make_engine(url)
    with db.make_session_factory(engine)() as session, session.begin():
        accounts.create_person_account(session, "zhang", "张三", PASSWORD)
    app = create_app({"DATABASE_URL": url, "TESTING": True, "SECRET_KEY": "charts"})
    app.register_blueprint(charts_page)
    yield app
    engine.dispose()


def _client(app):
    client = app.test_client()
    sign_in(client, "zhang")
    return client


def _cells(page_html: str, figure_id: str) -> list[list[str]]:
    figure = html.fromstring(page_html).get_element_by_id(figure_id)
    return [[cell.text_content().strip() for cell in row] for row in figure.xpath(".//table//tr")]


def test_the_numbers_are_a_table_with_a_header_per_series(chart_app):
    page = _client(chart_app).get("/_charts?lang=en").get_data(as_text=True)
    assert _cells(page, "by-dept") == [["Item", "通过", "未通过"], ["研发部", "7", "1"], ["人力资源部", "3", "0"]]
    assert _cells(page, "share")[1:] == [["A", "62.5%"], ["B", "37.5%"]]
    figure = html.fromstring(page).get_element_by_id("share")
    assert figure.get("data-kind") == "pie"
    assert figure.xpath(".//td/@data-value") == ["62.5", "37.5"]  # the number without its unit, for charts.js


def test_the_header_is_translated(chart_app):
    page = _client(chart_app).get("/_charts?lang=zh").get_data(as_text=True)
    assert _cells(page, "by-dept")[0][0] == "项目"


def test_chart_js_is_served_from_npm(chart_app):
    response = _client(chart_app).get("/vendor/chart.js")
    assert response.status_code == 200, "make setup installs chart.js from npm"
    assert b"Chart" in response.data[:5000]


@pytest.mark.browser
def test_the_browser_draws_each_chart_from_its_table(chart_app):
    browser_gen = chromium()
    browser = next(browser_gen)
    try:
        with serving(chart_app) as base:
            page = browser.new_page()
            page.goto(f"{base}/login")
            page.fill("#username", "zhang")
            page.fill("#password", PASSWORD)
            page.click("main form button[type=submit]")
            page.wait_for_url(lambda url: "/login" not in url)
            errors = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"{base}/_charts")
            page.wait_for_selector("figure#share.drawn canvas", state="visible")
            size = page.eval_on_selector("figure#by-dept canvas", "c => [c.width, c.height]")
            assert size[0] > 100 and size[1] > 100
            assert page.locator("figure.chart.drawn").count() == 2
            assert not errors, errors  # no CSP refusal, no script error
    finally:
        browser_gen.close()

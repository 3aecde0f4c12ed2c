"""Every page answers out-of-range and malformed input with a 4xx (or the page), never a 5xx:
ids past 64 bits, pages past any list, days at the calendar's ends, NUL bytes, unknown formats."""

from __future__ import annotations

import re

import pytest

from .conftest import sign_in

HUGE = str(2**63)
VALUES = {"int": [HUGE, "-1", "0"], "string": ["%00", "x" * 300, "..%2F..", HUGE], "path": ["x"]}
QUERIES = ["page=" + HUGE, "page=-5", "page=abc", "format=x", "format=csv&page=" + HUGE,
           "from=0001-01-01&to=9999-12-31", "created_from=0001-01-01", "created_to=9999-12-31",
           "completed_from=9999-12-31", "q=" + "%" * 200, "lang=xx", "per_page=" + HUGE]


def _urls(app) -> list[str]:
    urls = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static" or rule.rule.startswith(("/vendor", "/test/")):
            continue
        converters = re.findall(r"<(?:(\w+):)?(\w+)>", rule.rule)
        if not converters:
            urls += [rule.rule] + [f"{rule.rule}?{q}" for q in QUERIES]
            continue
        kinds = [(kind or "string", name) for kind, name in converters]
        for value_index in range(3):
            url = rule.rule
            for kind, name in kinds:
                values = VALUES.get(kind, VALUES["string"])
                url = re.sub(r"<(?:\w+:)?" + name + ">", values[value_index % len(values)], url)
            urls.append(url)
    return urls


@pytest.mark.parametrize("who", ["zhang", "root"])
def test_no_page_answers_5xx_to_out_of_range_input(app, people, who):
    client = app.test_client()
    sign_in(client, who)
    failures = []
    for url in _urls(app):
        status = client.get(url).status_code
        if status >= 500:
            failures.append((status, url))
    assert failures == []

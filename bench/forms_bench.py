"""Forms: build and validate a 60-field form (every value type, a 10-row detail table, conditions, formulas).

Measures loading and checking the schema, building its WTForms class (uncached), and validating a
full valid submission as a plain dict (API/engine path) and as browser form data (strings), plus an
invalid submission. Prints one line per measure and, last, a JSON line.

    .venv/bin/python bench/forms_bench.py [--seconds S]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from forms import build  # noqa: E402
from forms.build import FormContext, StaticProviders, validate_data, validate_formdata  # noqa: E402
from forms.schema import _checked, load_schema  # noqa: E402

DEPARTMENTS = [{"value": f"d{i}", "label": f"Dept {i}"} for i in range(40)]


def schema_60() -> dict:
    """60 top-level fields: 6 of each of 10 common kinds, with conditions, formulas and one detail table."""
    fields = []
    for i in range(6):
        fields += [
            {"name": f"title_{i}", "type": "text", "required": True, "max_length": 80,
             "label": {"zh": f"标题{i}", "en": f"Title {i}"}},
            {"name": f"note_{i}", "type": "textarea", "max_length": 2000,
             "visible_if": f"qty_{i} > 2"},
            {"name": f"qty_{i}", "type": "number", "min": 0, "max": 1000, "integer": True, "required": True},
            {"name": f"price_{i}", "type": "money", "max": 1_000_000, "required_if": f"qty_{i} > 0"},
            {"name": f"day_{i}", "type": "date", "min": "2020-01-01"},
            {"name": f"trip_{i}", "type": "date_range", "workdays": True},
            {"name": f"kind_{i}", "type": "select", "options": ["a", "b", "c", "d"], "required": True},
            {"name": f"dept_{i}", "type": "select", "provider": "departments"},
            {"name": f"tags_{i}", "type": "checkboxes", "options": ["x", "y", "z"], "max_choices": 2},
            {"name": f"total_{i}", "type": "formula", "expression": f"qty_{i} * price_{i}", "decimals": 2},
        ]
    fields[-1] = {"name": "items", "type": "table", "min_rows": 1, "max_rows": 50, "sums": ["amount"],
                  "columns": [{"name": "sku", "type": "text", "required": True},
                              {"name": "count", "type": "number", "integer": True, "min": 1},
                              {"name": "unit", "type": "money"},
                              {"name": "amount", "type": "formula", "expression": "count * unit", "decimals": 2}]}
    return {"title": {"zh": "采购申请", "en": "Purchase request"}, "fields": fields}


def submission() -> dict:
    data = {}
    for i in range(6):
        data.update({f"title_{i}": f"Order {i}", f"note_{i}": "n" * 200, f"qty_{i}": 3 + i,
                     f"price_{i}": "1234.50", f"day_{i}": "2026-11-25",
                     f"trip_{i}": {"start": "2026-11-02", "end": "2026-11-13"},
                     f"kind_{i}": "b", f"dept_{i}": "d7", f"tags_{i}": ["x", "z"]})
    data.pop("total_5", None)
    data["items"] = [{"sku": f"SKU-{r}", "count": r + 1, "unit": "9.90"} for r in range(10)]
    return data


class _Post:
    """Browser form data: every value a string, tables as NAME-I-COLUMN, multi-values repeated."""

    def __init__(self, data: dict):
        self.flat: dict[str, list[str]] = {}
        for key, value in data.items():
            if key == "items":
                for r, row in enumerate(value):
                    for col, cell in row.items():
                        self.flat[f"items-{r}-{col}"] = [str(cell)]
            elif isinstance(value, dict):
                self.flat[f"{key}-start"], self.flat[f"{key}-end"] = [value["start"]], [value["end"]]
            elif isinstance(value, list):
                self.flat[key] = [str(v) for v in value]
            else:
                self.flat[key] = [str(value)]

    def getlist(self, key):
        return list(self.flat.get(key, []))

    def __contains__(self, key):
        return key in self.flat

    def __iter__(self):
        return iter(self.flat)


def rate(fn, seconds: float) -> tuple[float, float]:
    """(calls per second, median ms) over `seconds` of repeated calls."""
    timings = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        t0 = time.perf_counter()
        fn()
        timings.append(time.perf_counter() - t0)
    return len(timings) / sum(timings), statistics.median(timings) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="time spent on each measure")
    args = parser.parse_args()
    raw = schema_60()
    context = FormContext(lang="en", providers=StaticProviders(lists={"departments": DEPARTMENTS}))
    data = submission()
    schema = load_schema(raw)
    assert len(schema.fields) == 60
    check = validate_data(schema, data, context)
    assert check.ok, check.errors
    bad = dict(data, qty_0=-1, kind_1="nope", items=[{"sku": "", "count": 0}])
    assert not validate_data(schema, bad, context).ok
    post = _Post(data)
    assert validate_formdata(schema, post, context).data == check.data

    def load_uncached():
        _checked.cache_clear()
        load_schema(raw)

    def build_uncached():
        build._cached_class.cache_clear()
        build.form_class(schema, None, "en")

    small = load_schema({"fields": raw["fields"][:10]})   # one of each kind: a typical approval form
    small_data = {k: v for k, v in data.items() if k.endswith("_0")}
    assert validate_data(small, small_data, context).ok
    results = {}
    for name, fn in (("load_schema", load_uncached), ("build_class", build_uncached),
                     ("validate_dict", lambda: validate_data(schema, data, context)),
                     ("validate_post", lambda: validate_formdata(schema, post, context)),
                     ("validate_invalid", lambda: validate_data(schema, bad, context)),
                     ("validate_10_fields", lambda: validate_data(small, small_data, context))):
        per_second, median_ms = rate(fn, args.seconds)
        results[name] = round(per_second, 1)
        print(f"{name:19s} {per_second:9.1f}/s   median {median_ms:7.3f} ms")
    print(json.dumps(results))


if __name__ == "__main__":
    main()

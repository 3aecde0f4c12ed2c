"""forms.formjs: importing bpmn.io form-js schemas (Camunda Modeler forms) into Liaison schemas."""

from __future__ import annotations

import ast
import json
import re
import sys
from pathlib import Path

import pytest

import forms.formjs as formjs
from forms.formjs import (
    EMAIL_PATTERN,
    PHONE_PATTERN,
    TIME_PATTERN,
    FeelError,
    ImportResult,
    import_formjs,
    to_name,
    translate_feel,
)

FIXTURE = Path(__file__).parent.parent / "fixtures" / "formjs" / "invoice.form"
YES_NO = [
    {"value": True, "label": {"zh": "是", "en": "Yes"}},
    {"value": False, "label": {"zh": "否", "en": "No"}},
]


def form(*components, **extra) -> dict:
    return {"components": list(components), "type": "default", "schemaVersion": 16, **extra}


def fields_of(result: ImportResult) -> dict[str, dict]:
    return {f["name"]: f for f in result.schema["fields"]}


# --------------------------------------------------------------------------- the invoice fixture


@pytest.fixture(scope="module")
def invoice() -> ImportResult:
    return import_formjs(FIXTURE.read_text(encoding="utf-8"))


def test_fixture_is_a_modeler_5_document():
    doc = json.loads(FIXTURE.read_text(encoding="utf-8"))
    assert doc["schemaVersion"] == 16
    assert doc["executionPlatform"] == "Camunda Cloud"
    assert doc["exporter"]["name"] == "Camunda Modeler"


def test_invoice_title_and_field_order(invoice):
    assert invoice.schema["title"] == "Form_InvoiceApproval"
    assert [f["name"] for f in invoice.schema["fields"]] == [
        "notice_1", "invoiceNumber", "supplier_email", "amount", "quantity", "currency",
        "costCenter", "checks", "decision", "rejectionReason", "dueDate", "received_at",
        "lineItems", "supplier_name", "vatId", "notify_supplier", "internal_note",
    ]


def test_invoice_text_becomes_notice(invoice):
    assert fields_of(invoice)["notice_1"] == {
        "name": "notice_1",
        "type": "notice",
        "content": "# Invoice approval\n\nCheck the invoice against the purchase order before approving.",
    }


def test_invoice_textfields(invoice):
    f = fields_of(invoice)
    assert f["invoiceNumber"] == {
        "name": "invoiceNumber", "type": "text", "label": "Invoice number",
        "min_length": 3, "max_length": 20, "pattern": "^INV-[0-9]+$",
        "help": "As printed on the invoice", "required": True,
    }
    assert f["supplier_email"] == {
        "name": "supplier_email", "type": "text", "label": "Supplier e-mail",
        "pattern": EMAIL_PATTERN,
        "pattern_message": {"zh": "请输入有效的电子邮件地址", "en": "Enter a valid e-mail address"},
    }


def test_invoice_numbers(invoice):
    f = fields_of(invoice)
    assert f["amount"] == {
        "name": "amount", "type": "number", "label": "Amount",
        "min": 0, "max": 1000000, "step": 0.01, "required": True,
    }
    assert f["quantity"] == {
        "name": "quantity", "type": "number", "label": "Quantity", "integer": True, "step": 1, "default": 1,
    }


def test_invoice_choices(invoice):
    f = fields_of(invoice)
    assert f["currency"] == {
        "name": "currency", "type": "select", "label": "Currency",
        "options": [
            {"value": "EUR", "label": "EUR"},
            {"value": "USD", "label": "US dollar"},
            {"value": "CNY", "label": "Renminbi"},
        ],
        "required": True, "default": "EUR",
    }
    assert f["costCenter"] == {
        "name": "costCenter", "type": "select", "label": "Cost center", "provider": "costCenters",
    }
    assert f["checks"] == {
        "name": "checks", "type": "checkboxes", "label": "Checks done",
        "options": [
            {"value": "goods_received", "label": "Goods received"},
            {"value": "prices_match", "label": "Prices match the order"},
        ],
    }
    assert f["decision"] == {
        "name": "decision", "type": "radio", "label": "Decision",
        "options": [{"value": "approve", "label": "Approve"}, {"value": "reject", "label": "Reject"}],
        "required": True,
    }
    assert f["notify_supplier"] == {
        "name": "notify_supplier", "type": "radio", "label": "Notify the supplier",
        "options": YES_NO, "default": True,
    }


def test_invoice_conditional_textarea(invoice):
    assert fields_of(invoice)["rejectionReason"] == {
        "name": "rejectionReason", "type": "textarea", "label": "Reason for rejection",
        "max_length": 500, "visible_if": "not (decision != 'reject')",
    }


def test_invoice_dates(invoice):
    f = fields_of(invoice)
    assert f["dueDate"] == {
        "name": "dueDate", "type": "date", "label": "Due date", "min": "today", "required": True,
    }
    assert f["received_at"] == {"name": "received_at", "type": "datetime", "label": "Received on"}


def test_invoice_dynamiclist_becomes_table(invoice):
    assert fields_of(invoice)["lineItems"] == {
        "name": "lineItems", "type": "table", "label": "Line items",
        "columns": [
            {"name": "description", "type": "text", "label": "Description", "required": True},
            {"name": "netPrice", "type": "number", "label": "Net price", "step": 0.01},
        ],
    }


def test_invoice_group_is_flattened_with_its_condition(invoice):
    f = fields_of(invoice)
    assert f["supplier_name"] == {
        "name": "supplier_name", "type": "text", "label": "Supplier name", "required": True,
        "visible_if": "not (amount < 100)",
    }
    assert f["vatId"] == {
        "name": "vatId", "type": "text", "label": "VAT ID", "readonly": True,
        "visible_if": "not (amount < 100)",
    }


def test_invoice_untranslatable_condition_leaves_field_visible(invoice):
    assert fields_of(invoice)["internal_note"] == {
        "name": "internal_note", "type": "text", "label": "Internal note",
    }


def test_invoice_problems(invoice):
    assert invoice.problems == [
        "component 4 (`amount`, type `number`): appearance.prefixAdorner `€` not kept",
        "component 7 (`costCenter`, type `select`): options come from the input data `costCenters`; "
        "imported as provider `costCenters`, which must be registered",
        "component 12 (`received_at`, type `datetime`): values are stored as local date-times without "
        "a time zone (form-js format `utc_offset`)",
        "component 13.3 (`attachments`, type `filepicker`): a `file` field cannot be a table column; skipped",
        "component 14 (`Field_1jr0pvz`, type `group`): group flattened; its fields are imported in its place",
        "component 15 (`notify_supplier`, type `checkbox`): checkbox imported as a Yes/No radio",
        "component 16 (`Field_1wq2dp0`, type `image`): images are not supported; skipped",
        "component 17 (`internal_note`, type `textfield`): condition `=count(checks) > 1` is not a simple "
        "FEEL expression; add visible_if by hand (function call `count(...)` is not translated)",
    ]


def test_invoice_schema_is_plain_json(invoice):
    assert json.loads(json.dumps(invoice.schema)) == invoice.schema


def test_dict_and_text_input_give_the_same_result():
    text = FIXTURE.read_text(encoding="utf-8")
    assert import_formjs(json.loads(text)) == import_formjs(text) == import_formjs(text.encode())


def test_title_argument_wins():
    assert import_formjs(form(), title="采购申请").schema == {"title": "采购申请", "fields": []}
    assert import_formjs(form()).schema["title"] == "Imported form"


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("{not json", r"not valid JSON: .*line 1, column 2"),
        ("", r"not valid JSON"),
        (b"\xff\xfe", r"not UTF-8"),
        ("[1, 2]", r"expected a JSON object, got list"),
        ('"components"', r"expected a JSON object, got str"),
        ({"type": "default"}, r"no `components` list"),
        ({"components": {"a": 1}}, r"no `components` list"),
        ('{"display": {"components": []}}', r"no `components` list"),
    ],
)
def test_bad_documents_raise_value_error(data, message):
    with pytest.raises(ValueError, match=message):
        import_formjs(data)


def test_bad_components_are_reported_not_raised():
    result = import_formjs(form(
        "oops",
        {"type": "textfield", "label": "No key"},
        {"key": "x"},
        {"type": "signature", "key": "sig", "id": "Field_9"},
        {"type": "fancy", "id": "Field_8"},
    ))
    assert result.schema["fields"] == []
    assert result.problems == [
        "component 1: not an object; skipped",
        "component 2 (`?`, type `textfield`): no key; skipped",
        "component 3 (`x`, type `?`): unsupported type `?`; skipped",
        "component 4 (`sig`, type `signature`): unsupported type `signature`; skipped",
        "component 5 (`Field_8`, type `fancy`): unsupported type `fancy`; skipped",
    ]


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("key", "name"),
    [
        ("amount", "amount"),
        ("_private", "_private"),
        ("a__b", "a__b"),
        ("invoiceNumber", "invoiceNumber"),
        ("InvoiceNumber", "InvoiceNumber"),
        ("HTTPServerURL", "HTTPServerURL"),
        ("vatID", "vatID"),
        ("line2Total", "line2Total"),
        ("address.city", "address_city"),
        ("first-name", "first_name"),
        ("first name", "first_name"),
        ("a.-b", "a_b"),
        ("-x-", "x"),
        ("1st", "_1st"),
        ("class", "class_"),
        ("Import", "Import"),
        ("金额", ""),
    ],
)
def test_to_name(key, name):
    assert to_name(key) == name
    if name:
        assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name)


def test_name_collisions_drop_the_later_component():
    result = import_formjs(form(
        {"type": "textfield", "key": "invoiceNumber", "id": "F1"},
        {"type": "textfield", "key": "invoiceNumber", "id": "F2"},
        {"type": "number", "key": "invoice-number", "id": "F3"},
        {"type": "textfield", "key": "invoice_number", "id": "F4"},
        {"type": "textfield", "key": "金额", "id": "F5"},
    ))
    assert [(f["name"], f["type"]) for f in result.schema["fields"]] == [
        ("invoiceNumber", "text"), ("invoice_number", "number"), ("field_5", "text"),
    ]
    assert result.problems == [
        "component 2 (`invoiceNumber`, type `textfield`): name `invoiceNumber` is already used by "
        "component 1; skipped",
        "component 3 (`invoice-number`, type `number`): key renamed to `invoice_number`",
        "component 4 (`invoice_number`, type `textfield`): name `invoice_number` is already used by "
        "component 3; skipped",
        "component 5 (`金额`, type `textfield`): key renamed to `field_5`",
    ]


def test_notice_names_skip_taken_names():
    result = import_formjs(form(
        {"type": "textfield", "key": "notice_1"},
        {"type": "text", "text": "Hello"},
        {"type": "text", "text": "World"},
    ))
    assert [f["name"] for f in result.schema["fields"]] == ["notice_1", "notice_2", "notice_3"]
    assert result.problems == []


# --------------------------------------------------------------------------- per-type mapping


def test_textfield_validation_types():
    result = import_formjs(form(
        {"type": "textfield", "key": "phone", "validate": {"validationType": "phone"}},
        {"type": "textfield", "key": "mail", "validate": {"validationType": "email", "pattern": "^a"}},
        {"type": "textfield", "key": "code", "validate": {"validationType": "", "pattern": "^[A-Z]{3}$"}},
    ))
    f = fields_of(result)
    assert f["phone"]["pattern"] == PHONE_PATTERN
    assert f["phone"]["pattern_message"]["en"].startswith("Enter an international phone number")
    assert f["mail"]["pattern"] == EMAIL_PATTERN
    assert f["code"] == {"name": "code", "type": "text", "pattern": "^[A-Z]{3}$"}
    assert result.problems == [
        "component 1 (`phone`, type `textfield`): phone validation approximated by a pattern for "
        "international numbers",
        "component 2 (`mail`, type `textfield`): pattern `^a` not kept (the email pattern is used)",
    ]


@pytest.mark.parametrize(
    ("pattern", "good", "bad"),
    [
        (EMAIL_PATTERN, ["a@b.de", "first.last+tag@mail.example.com"], ["a@", "@b.de", "a b@c.de"]),
        (PHONE_PATTERN, ["+4930664040900", "00861380000000"], ["030664040900", "+49 30 664", "+0123456789"]),
        (TIME_PATTERN, ["00:00", "09:30", "23:59"], ["24:00", "9:30", "12:60", "12:30+01:00"]),
    ],
)
def test_generated_patterns(pattern, good, bad):
    assert all(re.search(pattern, value) for value in good)
    assert not any(re.search(pattern, value) for value in bad)


def test_number_details():
    result = import_formjs(form(
        {"type": "number", "key": "a", "decimalDigits": 3},
        {"type": "number", "key": "b", "increment": 0.5, "decimalDigits": 1},
        {"type": "number", "key": "c", "increment": "=step", "serializeToString": True,
         "validate": {"min": "=lower", "max": "100"}},
        {"type": "number", "key": "d", "appearance": {"suffixAdorner": "kg"}, "defaultValue": 5},
    ))
    f = fields_of(result)
    assert f["a"] == {"name": "a", "type": "number", "step": 0.001}
    assert f["b"] == {"name": "b", "type": "number", "step": 0.5}
    assert f["c"] == {"name": "c", "type": "number", "max": 100}
    assert f["d"] == {"name": "d", "type": "number", "default": 5}
    assert result.problems == [
        "component 3 (`c`, type `number`): validate.min `=lower` is an expression; not kept",
        "component 3 (`c`, type `number`): increment `=step` is not a number; not kept",
        "component 3 (`c`, type `number`): serializeToString not kept; the value is submitted as a number",
        "component 4 (`d`, type `number`): appearance.suffixAdorner `kg` not kept",
    ]


def test_datetime_subtypes():
    result = import_formjs(form(
        {"type": "datetime", "key": "d", "dateLabel": "Day"},
        {"type": "datetime", "key": "t", "subtype": "time", "timeLabel": "At", "validate": {"required": True}},
        {"type": "datetime", "key": "dt", "subtype": "datetime", "dateLabel": "When",
         "timeSerializingFormat": "no_timezone", "disallowPassedDates": True},
        {"type": "datetime", "key": "u", "subtype": "datetime", "dateLabel": "UTC"},
    ))
    f = fields_of(result)
    assert f["d"] == {"name": "d", "type": "date", "label": "Day"}
    assert f["t"] == {
        "name": "t", "type": "text", "label": "At", "pattern": TIME_PATTERN,
        "pattern_message": {"zh": "请输入时间 HH:MM", "en": "Enter a time as HH:MM"}, "required": True,
    }
    assert f["dt"] == {"name": "dt", "type": "datetime", "label": "When"}
    assert f["u"] == {"name": "u", "type": "datetime", "label": "UTC"}
    assert result.problems == [
        "component 2 (`t`, type `datetime`): time-only field imported as text with an HH:MM pattern",
        "component 3 (`dt`, type `datetime`): disallowPassedDates not kept",
        "component 4 (`u`, type `datetime`): values are stored as local date-times without a time zone "
        "(form-js format `utc_offset`)",
    ]


def test_checkbox_defaults_to_false_and_required_is_reported():
    result = import_formjs(form(
        {"type": "checkbox", "key": "terms", "label": "I accept", "validate": {"required": True}},
    ))
    assert result.schema["fields"] == [{
        "name": "terms", "type": "radio", "label": "I accept", "options": YES_NO,
        "default": False, "required": True,
    }]
    assert result.problems == [
        "component 1 (`terms`, type `checkbox`): checkbox imported as a Yes/No radio",
        "component 1 (`terms`, type `checkbox`): form-js requires this checkbox to be checked; "
        "Liaison only requires an answer",
    ]


def test_option_sources():
    result = import_formjs(form(
        {"type": "taglist", "key": "tags", "values": [{"label": "A", "value": "a"}, {"value": "b"}],
         "defaultValue": ["a"]},
        {"type": "select", "key": "dyn", "valuesExpression": "=options"},
        {"type": "radio", "key": "none"},
        {"type": "checklist", "key": "empty", "values": []},
    ))
    assert result.schema["fields"] == [{
        "name": "tags", "type": "select", "multiple": True,
        "options": [{"value": "a", "label": "A"}, {"value": "b", "label": "b"}], "default": ["a"],
    }]
    assert result.problems == [
        "component 2 (`dyn`, type `select`): options come from the FEEL expression `=options`; "
        "skipped (add options or a provider by hand)",
        "component 3 (`none`, type `radio`): no options; skipped",
        "component 4 (`empty`, type `checklist`): no options; skipped",
    ]


def test_filepicker():
    result = import_formjs(form(
        {"type": "filepicker", "key": "scan", "label": "Scan", "accept": ".pdf, image/*,application/pdf"},
        {"type": "filepicker", "key": "many", "multiple": True, "validate": {"required": True}},
        {"type": "filepicker", "key": "expr", "multiple": "=allowMany", "accept": "=types"},
    ))
    f = fields_of(result)
    assert f["scan"] == {"name": "scan", "type": "file", "label": "Scan", "accept": [".pdf", "image/*"],
                         "max_files": 1}
    assert f["many"] == {"name": "many", "type": "file", "required": True}
    assert f["expr"] == {"name": "expr", "type": "file", "max_files": 1}
    assert result.problems == [
        "component 1 (`scan`, type `filepicker`): accept entries not kept: `application/pdf`",
        "component 3 (`expr`, type `filepicker`): accept `=types` is an expression; not kept",
        "component 3 (`expr`, type `filepicker`): multiple `=allowMany` is an expression; "
        "imported as a single file",
    ]


def test_expression_becomes_formula_when_simple():
    result = import_formjs(form(
        {"type": "expression", "key": "total", "expression": "=netPrice * (1 + vatRate)", "computeOn": "change"},
        {"type": "expression", "key": "label", "expression": "=string(total)"},
        {"type": "number", "key": "netPrice"},
        {"type": "number", "key": "vatRate", "conditional": {"hide": "=label = \"x\""}},
    ))
    f = fields_of(result)
    assert f["total"] == {"name": "total", "type": "formula", "expression": "netPrice * (1 + vatRate)"}
    assert "label" not in f
    assert "visible_if" not in f["vatRate"]
    assert result.problems == [
        "component 2 (`label`, type `expression`): expression `=string(total)` is not a simple FEEL "
        "expression; skipped (function call `string(...)` is not translated)",
        "component 4 (`vatRate`, type `number`): condition `=label = \"x\"` is not a simple FEEL expression; "
        "add visible_if by hand (`label` is not a field of this form)",
    ]


def test_text_and_html_notices():
    result = import_formjs(form(
        {"type": "text", "text": "Hello {{name}}", "id": "T1"},
        {"type": "text", "text": "=greeting", "id": "T2"},
        {"type": "html", "id": "H1",
         "content": "<h2>Terms</h2><p>Read the <b>terms</b>&amp;conditions.</p><script>x()</script>"
                    "<ul><li>one</li><li>two</li></ul>"},
    ))
    assert result.schema["fields"] == [
        {"name": "notice_1", "type": "notice", "content": "Hello {{name}}"},
        {"name": "notice_2", "type": "notice", "content": "Terms\n\nRead the terms&conditions.\n\none\n\ntwo"},
    ]
    assert result.problems == [
        "component 1 (`T1`, type `text`): template placeholders ({{ }}) are kept as typed, not filled in",
        "component 2 (`T2`, type `text`): text is missing or a FEEL expression; skipped",
        "component 3 (`H1`, type `html`): HTML imported as plain text",
    ]


def test_layout_components_are_skipped_silently_and_others_reported():
    result = import_formjs(form(
        {"type": "button", "action": "submit", "label": "Submit"},
        {"type": "spacer", "height": 60},
        {"type": "separator"},
        {"type": "iframe", "id": "I1", "url": "https://example.com"},
        {"type": "documentPreview", "id": "D1"},
        {"type": "table", "id": "TB", "columns": [{"label": "A", "key": "a"}], "dataSource": "=rows"},
    ))
    assert result.schema["fields"] == []
    assert result.problems == [
        "component 4 (`I1`, type `iframe`): iframes are not supported; skipped",
        "component 5 (`D1`, type `documentPreview`): document previews are not supported; skipped",
        "component 6 (`TB`, type `table`): read-only data tables are not supported; skipped",
    ]


def test_readonly_and_disabled():
    result = import_formjs(form(
        {"type": "textfield", "key": "a", "disabled": True},
        {"type": "textfield", "key": "b", "readonly": "=locked"},
        {"type": "textfield", "key": "c", "readonly": False, "disabled": "=off"},
    ))
    f = fields_of(result)
    assert f["a"] == {"name": "a", "type": "text", "readonly": True}
    assert f["b"] == {"name": "b", "type": "text"}
    assert f["c"] == {"name": "c", "type": "text"}
    assert result.problems == [
        "component 1 (`a`, type `textfield`): disabled imported as readonly (form-js does not submit "
        "disabled fields)",
        "component 2 (`b`, type `textfield`): readonly expression `=locked` not kept",
        "component 3 (`c`, type `textfield`): disabled expression `=off` not kept",
    ]


# --------------------------------------------------------------------------- containers


def test_group_with_path_prefixes_names_and_conditions_use_the_full_path():
    result = import_formjs(form(
        {"type": "group", "id": "G1", "path": "address", "label": "Address", "components": [
            {"type": "textfield", "key": "city"},
            {"type": "group", "id": "G2", "path": "geo", "components": [{"type": "number", "key": "lat"}]},
        ]},
        {"type": "textfield", "key": "note", "conditional": {"hide": "=address.city = null"}},
        {"type": "textfield", "key": "other", "conditional": {"hide": "=address.street = null"}},
    ))
    f = fields_of(result)
    assert list(f) == ["address_city", "address_geo_lat", "note", "other"]
    assert f["note"]["visible_if"] == "not (address_city == None)"
    assert "visible_if" not in f["other"]
    assert result.problems == [
        "component 1 (`address`, type `group`): group with path `address` flattened; its fields are "
        "named `address_<key>`",
        "component 1.1 (`city`, type `textfield`): key renamed to `address_city`",
        "component 1.2 (`geo`, type `group`): group with path `geo` flattened; its fields are named "
        "`address_geo_<key>`",
        "component 1.2.1 (`lat`, type `number`): key renamed to `address_geo_lat`",
        "component 3 (`other`, type `textfield`): condition `=address.street = null` is not a simple FEEL "
        "expression; add visible_if by hand (path `address.street` is not translated)",
    ]


def test_dotted_keys_are_renamed_and_usable_in_conditions():
    result = import_formjs(form(
        {"type": "textfield", "key": "customer.name"},
        {"type": "textfield", "key": "x", "conditional": {"hide": "=customer.name = \"\""}},
    ))
    assert fields_of(result)["x"]["visible_if"] == "not (customer_name == '')"
    assert result.problems == ["component 1 (`customer.name`, type `textfield`): key renamed to `customer_name`"]


def test_nested_group_conditions_are_combined():
    result = import_formjs(form(
        {"type": "textfield", "key": "kind"},
        {"type": "group", "id": "outer", "conditional": {"hide": "=kind = \"a\""}, "components": [
            {"type": "group", "id": "inner", "conditional": {"hide": True}, "components": [
                {"type": "textfield", "key": "deep", "conditional": {"hide": "=kind = \"b\""}},
            ]},
            {"type": "textfield", "key": "shallow", "conditional": {"hide": "=foo.bar"}},
            {"type": "textfield", "key": "plain", "conditional": {"hide": False}},
        ]},
    ))
    f = fields_of(result)
    assert f["deep"]["visible_if"] == "not (kind == 'a') and False and not (kind == 'b')"
    assert f["shallow"]["visible_if"] == "not (kind == 'a')"
    assert f["plain"]["visible_if"] == "not (kind == 'a')"
    assert result.problems == [
        "component 2 (`outer`, type `group`): group flattened; its fields are imported in its place",
        "component 2.1 (`inner`, type `group`): group flattened; its fields are imported in its place",
        "component 2.2 (`shallow`, type `textfield`): condition `=foo.bar` is not a simple FEEL expression; "
        "add visible_if by hand (path `foo.bar` is not translated)",
    ]


def test_group_condition_failure_is_reported_once():
    result = import_formjs(form(
        {"type": "group", "id": "G", "conditional": {"hide": "=today() > x"}, "components": [
            {"type": "textfield", "key": "a"},
            {"type": "textfield", "key": "b"},
        ]},
    ))
    assert all("visible_if" not in f for f in result.schema["fields"])
    assert result.problems == [
        "component 1 (`G`, type `group`): group flattened; its fields are imported in its place",
        "component 1 (`G`, type `group`): condition `=today() > x` is not a simple FEEL expression; "
        "add visible_if by hand (function call `today(...)` is not translated)",
    ]


def test_multipage_is_flattened():
    result = import_formjs(form(
        {"type": "multipage", "id": "MP", "components": [
            {"type": "page", "id": "P1", "components": [{"type": "textfield", "key": "a"}]},
        ]},
    ))
    assert [f["name"] for f in result.schema["fields"]] == ["a"]
    assert result.problems == [
        "component 1 (`MP`, type `multipage`): multipage flattened; its fields are imported in its place",
        "component 1.1 (`P1`, type `page`): page flattened; its fields are imported in its place",
    ]


def test_dynamiclist_details():
    result = import_formjs(form(
        {"type": "dynamiclist", "path": "rows", "label": "Rows", "allowAddRemove": False,
         "defaultRepetitions": 3, "conditional": {"hide": "=count = 0"}, "components": [
             {"type": "textfield", "key": "name", "conditional": {"hide": "=x"}},
             {"type": "checkbox", "key": "ok"},
             {"type": "checklist", "key": "tags", "values": [{"label": "A", "value": "a"}]},
             {"type": "group", "id": "G", "components": []},
             {"type": "dynamiclist", "path": "inner", "components": []},
             {"type": "text", "text": "hi", "id": "T"},
             {"type": "spacer"},
             {"type": "textfield", "key": "name"},
         ]},
        {"type": "number", "key": "count"},
        {"type": "dynamiclist", "id": "DL2", "components": [{"type": "textfield", "key": "a"}]},
        {"type": "dynamiclist", "path": "empty", "components": [{"type": "image", "id": "I"}]},
    ))
    assert result.schema["fields"] == [
        {"name": "rows", "type": "table", "label": "Rows",
         "columns": [
             {"name": "name", "type": "text"},
             {"name": "ok", "type": "radio", "options": YES_NO, "default": False},
         ],
         "min_rows": 3, "max_rows": 3, "visible_if": "not (count == 0)"},
        {"name": "count", "type": "number"},
    ]
    assert result.problems == [
        "component 1.1 (`name`, type `textfield`): conditions on table columns are not supported; dropped",
        "component 1.2 (`ok`, type `checkbox`): checkbox imported as a Yes/No radio",
        "component 1.3 (`tags`, type `checklist`): a `checkboxes` field cannot be a table column; skipped",
        "component 1.4 (`G`, type `group`): `group` inside a dynamic list is not supported; skipped",
        "component 1.5 (`inner`, type `dynamiclist`): `dynamiclist` inside a dynamic list is not supported; "
        "skipped",
        "component 1.6 (`T`, type `text`): `text` inside a dynamic list is not supported; skipped",
        "component 1.8 (`name`, type `textfield`): name `name` is already used by component 1.1; skipped",
        "component 3 (`DL2`, type `dynamiclist`): dynamic list without a path; skipped",
        "component 4 (`empty`, type `dynamiclist`): dynamic list without importable columns; skipped",
        "component 4.1 (`I`, type `image`): `image` inside a dynamic list is not supported; skipped",
    ]


# --------------------------------------------------------------------------- FEEL translator


@pytest.mark.parametrize(
    ("feel", "python"),
    [
        ('=a = "x"', "a == 'x'"),
        ('a = "x"', "a == 'x'"),
        ("=a != 1", "a != 1"),
        ("= a < 1.5", "a < 1.5"),
        ("=a <= .5", "a <= 0.5"),
        ("=a > -3", "a > -3"),
        ("=a >= b", "a >= b"),
        ("=a = true", "a == True"),
        ("=a = false", "a == False"),
        ("=a = null", "a == None"),
        ("=a != null", "a != None"),
        ("=true", "True"),
        ("=a", "a"),
        ('=a = "x" and b = 2', "a == 'x' and b == 2"),
        ('=a = "x" or b = 2', "a == 'x' or b == 2"),
        ("=a or b and c", "a or b and c"),
        ("=(a or b) and c", "(a or b) and c"),
        ("=not(a)", "not a"),
        ("=not(a = 1)", "not (a == 1)"),
        ("=not(a) = b", "(not a) == b"),
        ("=not(not(a))", "not (not a)"),
        ("=not(a) and b", "not a and b"),
        ("=a + b * c > 10", "a + b * c > 10"),
        ("=(a + b) * c", "(a + b) * c"),
        ("=a - (b - c)", "a - (b - c)"),
        ("=a - b - c", "a - b - c"),
        ("=a / (b * c)", "a / (b * c)"),
        ("=-(a + b)", "-(a + b)"),
        ("=- -a", "-(-a)"),
        ("=(a = 1) = (b = 2)", "(a == 1) == (b == 2)"),
        ("=((a))", "a"),
        ('=a = "it\'s"', 'a == "it\'s"'),
        ('=a = "say \\"hi\\""', "a == 'say \"hi\"'"),
        ('=a = "\\u00e9t\\u00e9"', "a == 'été'"),
        ('=a = "采购"', "a == '采购'"),
        ("=if a > 1 then \"big\" else \"small\"", "'big' if a > 1 else 'small'"),
        ("=if a then 1 else if b then 2 else 3", "1 if a else 2 if b else 3"),
        ("=(if a then 1 else 2) + 1", "(1 if a else 2) + 1"),
        ("=if (if a then b else c) then 1 else 2", "1 if (b if a else c) else 2"),
        ("  =  a=1  ", "a == 1"),
    ],
)
def test_translate_feel(feel, python):
    assert translate_feel(feel) == python
    ast.parse(python, mode="eval")


@pytest.mark.parametrize(
    ("feel", "reason"),
    [
        ("=count(items) > 0", "function call `count(...)` is not translated"),
        ("=string length(a) > 3", "unexpected `length`"),
        ("=date(a) < today()", "function call `date(...)` is not translated"),
        ("=a.b = 1", "path `a.b` is not translated"),
        ('=a in ["x", "y"]', "`in` is not translated"),
        ("=a in [1..5]", "`in` is not translated"),
        ("=[1, 2]", "lists and ranges are not translated"),
        ("={a: 1}", "contexts are not translated"),
        ("=items[1]", "filters and list access are not translated"),
        ("=a between 1 and 5", "`between` is not translated"),
        ("=a instance of number", "`instance of` is not translated"),
        ("=a ** 2", "`**` is not translated"),
        ("=1 < a < 3", "chained comparisons are not translated"),
        ("=some x in xs satisfies x > 1", "`some` expressions are not translated"),
        ("=every x in xs satisfies x > 1", "`every` expressions are not translated"),
        ("=for x in xs return x", "`for` expressions are not translated"),
        ("=function(x) x", "function definitions are not translated"),
        ("=not a", "`not` must be written as a call"),
        ("=a == 1", "unexpected `=`"),
        ("=a = 'x'", "unexpected character `'`"),
        ('=a = "open', "unterminated string"),
        ('=a = "\\q"', "unknown escape"),
        ("=@\"2024-01-01\"", "unexpected character `@`"),
        ("=`first name` = 1", "unexpected character ```"),
        ("=", "empty expression"),
        ("", "empty expression"),
        ("=(a", "expected `)`, found end of expression"),
        ("=a +", "unexpected end of expression"),
        ("=if a then b", "expected `else`, found end of expression"),
        ("=a b", "unexpected `b`"),
        ("=class = 1", "`class` is a Python keyword"),
    ],
)
def test_translate_feel_refuses(feel, reason):
    with pytest.raises(FeelError) as info:
        translate_feel(feel)
    assert reason in str(info.value)
    assert isinstance(info.value, ValueError)


def test_translate_feel_with_names():
    names = {"invoiceType": "invoice_type", "address.city": "address_city"}
    assert translate_feel('=invoiceType = "x" and address.city != null', names) == (
        "invoice_type == 'x' and address_city != None"
    )
    with pytest.raises(FeelError, match="`other` is not a field of this form"):
        translate_feel("=other", names)
    with pytest.raises(FeelError, match="path `address.zip` is not translated"):
        translate_feel("=address.zip", names)


# --------------------------------------------------------------------------- module hygiene


def test_formjs_imports_only_the_standard_library():
    tree = ast.parse(Path(formjs.__file__).read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}

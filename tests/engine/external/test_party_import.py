"""Importing parties and contacts: CSV (UTF-8 with BOM, GBK) and XLSX, dry run with row errors, bulk apply."""

from __future__ import annotations

import openpyxl
import pytest

from engine.external import parties
from engine.external.party_import import (
    PartyImportRefusedError,
    apply_party_import,
    plan_party_import,
    read_party_file,
)
from tests.engine.external.conftest import NOW

ZH = "类型,编码,名称,英文名称,联系人,邮箱,电话,语言\n"
ROWS = ("供应商,ACME,艾克米,Acme,王伟,Wang@Acme.example,138,英文\n"
        "供应商,ACME,艾克米,Acme,李娜,li@acme.example,,\n"
        "customer,BETA,贝塔,,,,,\n")


def _import(conn, table):
    plan = plan_party_import(conn, table)
    assert plan.ok, plan.errors
    return apply_party_import(conn, plan, NOW)


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gbk"])
def test_csv_with_chinese_headers_creates_parties_and_contacts(conn, tmp_path, encoding):
    path = tmp_path / "parties.csv"
    path.write_bytes((ZH + ROWS).encode(encoding))
    counts = _import(conn, read_party_file(path))
    assert counts["parties_create"] == 2 and counts["contacts_create"] == 2
    acme = parties.party_by_key(conn, "ACME")
    assert (acme.kind, acme.name, acme.name_en, acme.contacts) == ("supplier", "艾克米", "Acme", 2)
    contacts = {c.email: (c.name, c.phone, c.locale) for c in parties.contacts_of(conn, acme.id)}
    assert contacts == {"wang@acme.example": ("王伟", "138", "en"), "li@acme.example": ("李娜", None, "zh")}
    assert parties.party_by_key(conn, "BETA").kind == "customer"


def test_reimport_updates_what_changed_and_nothing_else(conn, tmp_path):
    path = tmp_path / "parties.csv"
    path.write_text(ZH + ROWS, encoding="utf-8")
    _import(conn, read_party_file(path))
    path.write_text(ZH + ROWS.replace("138", "139").replace("贝塔,", "贝塔公司,"), encoding="utf-8")
    counts = _import(conn, read_party_file(path))
    assert (counts["parties_update"], counts["parties_same"], counts["contacts_update"], counts["contacts_same"]) == (
        1, 1, 1, 1)
    assert parties.party_by_key(conn, "BETA").name == "贝塔公司"


def test_xlsx_with_english_headers(conn, tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Kind", "Party Key", "Party Name", "Contact Name", "E-mail", "Phone", "Language"])
    sheet.append(["supplier", "GAMMA", "伽马", "Zhao", "zhao@gamma.example", 13800000000, "zh"])
    path = tmp_path / "parties.xlsx"
    book.save(path)
    _import(conn, read_party_file(path))
    [contact] = parties.contacts_of(conn, parties.party_by_key(conn, "GAMMA").id)
    assert (contact.email, contact.phone) == ("zhao@gamma.example", "13800000000")


def test_dry_run_reports_every_bad_row_and_apply_refuses_it(conn):
    rows = [{"kind": "vendor", "party_key": "X", "party_name": "X"},
            {"kind": "supplier", "party_key": "A B", "party_name": "A"},
            {"kind": "supplier", "party_key": "C", "party_name": "C", "contact_name": "Zhou", "email": "nope"},
            {"kind": "supplier", "party_key": "C", "party_name": "Other name"},
            {"kind": "supplier", "party_key": "D", "party_name": "D", "contact_name": "Qian", "email": "q@d.example",
             "locale": "fr"},
            {"kind": "supplier", "party_key": "E", "party_name": "E", "contact_name": "Sun", "email": "s@e.example"},
            {"kind": "supplier", "party_key": "E", "party_name": "E", "contact_name": "Sun", "email": "S@e.example"}]
    plan = plan_party_import(conn, rows)
    assert [e.row for e in plan.errors] == [2, 3, 4, 5, 6, 8]
    assert "vendor" in str(plan.errors[0]) and "row 4" in str(plan.errors[3])
    assert plan.to_dict()["ok"] is False
    with pytest.raises(PartyImportRefusedError):
        apply_party_import(conn, plan, NOW)
    assert parties.list_parties(conn) == []


def test_missing_required_column_is_reported_once(conn):
    plan = plan_party_import(conn, [{"编码": "A", "联系人": "Li"}])
    assert [e.row for e in plan.errors] == [1, 1]

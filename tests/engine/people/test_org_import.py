"""Org chart import from CSV and XLSX: the dry run's findings, applying, re-importing, hostile files."""

from __future__ import annotations

import io
import json
import zipfile

import openpyxl
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from cli import main as cli_main
from engine.data.models import AdminGrant, Department, Person, Position, Role
from engine.people import org, org_files, org_import
from engine.people.org_import import ImportRefusedError, OrgTable, UnreadableOrgFileError, plan_import
from tests.conftest import FIXTURES

SAMPLE = FIXTURES / "org" / "sample.csv"
HEADER = ["username", "name", "email", "employee_no", "department", "department_head", "manager", "roles"]


def _table(*rows, header=HEADER) -> OrgTable:
    """A table from rows given as lists in HEADER order; the first is row 2."""
    return OrgTable.from_records([dict(zip(header, row, strict=False)) for row in rows], "people.csv")


def _import(sessions, rows, **options):
    with sessions() as session, session.begin():
        plan = plan_import(session, rows, **options)
        if plan.ok:
            org_import.apply_import(session, plan)
        return plan


def _plan(sessions, rows, **options):
    with sessions() as session:
        return plan_import(session, rows, **options)


def _errors(plan) -> list[str]:
    return [str(e) for e in plan.errors]


def _person(sessions, username):
    with sessions() as session:
        return org.person_by_username(session, username)


# -- the sample file -----------------------------------------------------------------------------------

def test_sample_csv_creates_people_departments_heads_and_managers(sessions):
    plan = _import(sessions, org_import.read_org_file(SAMPLE))
    assert plan.errors == []
    assert plan.counts()["create"] == 20
    assert plan.new_departments[:3] == ["总部", "总部/研发部", "总部/研发部/平台组"]
    assert set(plan.new_roles) == {"executive", "rd_lead", "finance", "approver", "hr", "trainer", "reception"}
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Department)) == 8
        platform = session.scalar(select(Department).where(Department.name == "平台组"))
        rd = session.scalar(select(Department).where(Department.name == "研发部"))
        hq = session.scalar(select(Department).where(Department.name == "总部"))
        assert platform.path == f"/{hq.id}/{rd.id}/{platform.id}/" and platform.parent_id == rd.id
        assert [p.username for p in org.members(session, rd.id, include_subdepartments=True)] == [
            "feng.lei", "he.xin", "li.na", "liang.bo", "wang.qiang", "wu.hao", "xu.fang", "zhao.min", "zheng.yu"]
        assert org.department_head(session, platform.id).username == "wang.qiang"
        assert org.manager_of(session, "wu.hao").username == "wang.qiang"  # named by employee number E003
        assert org.manager_of(session, "zheng.yu").username == "wang.qiang"  # named by e-mail
        assert org.manager_of(session, "wu.hao", 3).username == "zhang.wei"
        assert org.groups_of(session, "chen.jing") == ("approver", "finance")
        assert org.groups_of(session, "luo.dan") == ("hr", "trainer")
        assert org.person_by_username(session, "ma.chao").active is False
        assert org.person_by_username(session, "hu.yan").email == "hu.yan@example.com"
        assert session.scalar(select(Position.name).join(Person, Person.position_id == Position.id)
                              .where(Person.username == "xu.fang")) == "测试工程师"


def test_reimport_is_idempotent(sessions):
    _import(sessions, org_import.read_org_file(SAMPLE))
    again = _import(sessions, org_import.read_org_file(SAMPLE))
    assert again.counts() | {"rows": 20} == {
        "rows": 20, "create": 0, "update": 0, "unchanged": 20, "deactivate": 0, "errors": 0,
        "new_departments": 0, "new_positions": 0, "new_roles": 0}
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Person)) == 20
        assert session.scalar(select(func.count()).select_from(Department)) == 8


def test_gbk_csv_reads_like_utf8(sessions, tmp_path):
    text = SAMPLE.read_bytes().decode("utf-8-sig")
    path = tmp_path / "people.csv"
    path.write_bytes(text.encode("gbk"))
    table = org_import.read_org_file(path)
    assert table.columns[:2] == ("username", "name")
    assert table.rows[0] == (2, {"username": "zhang.wei", "name": "张伟", "name_en": "Zhang Wei",
                                 "email": "zhang.wei@example.com", "employee_no": "E001", "department": "总部",
                                 "department_head": "是", "position": "总经理", "manager": "",
                                 "roles": "executive", "active": "是"})
    plan = _import(sessions, table)
    assert plan.counts()["create"] == 20 and _person(sessions, "li.na").name == "李娜"


def test_utf8_csv_without_bom_and_with_tabs(tmp_path):
    path = tmp_path / "people.txt"
    path.write_text("用户名\t姓名\t工号\nli\t李四\t7\n\n", encoding="utf-8")
    table = org_import.read_org_file(path)
    assert table.rows == [(2, {"username": "li", "name": "李四", "employee_no": "7"})]


def _xlsx(path, rows):
    workbook = openpyxl.Workbook()
    for row in rows:
        workbook.active.append(row)
    workbook.save(path)
    return path


def test_xlsx_with_english_headers_numbers_and_blank_rows(sessions, tmp_path):
    path = _xlsx(tmp_path / "people.xlsx", [
        ["Username", "Name", "Employee No", "Department", "Manager", "Active", "Notes"],
        ["boss", "Boss", 1001, "HQ", None, True, "x"],
        [None, None, None, None, None, None, None],
        ["dev", "Dev", 1002.0, "HQ/Dev", 1001, "yes", None],
        ["ops", "Ops", 1003, "HQ/Ops", "=A2", "no", None],
    ])
    table = org_import.read_org_file(path)
    assert [n for n, _ in table.rows] == [2, 4, 5]
    assert table.rows[1][1]["employee_no"] == "1002"
    # a formula is never evaluated: only the value Excel saved with it counts (openpyxl saves none)
    assert table.rows[2][1]["manager"] == ""
    table.rows[2][1]["manager"] = "bob"
    plan = _plan(sessions, table)
    assert _errors(plan) == ["5: unknown manager `bob`: no username, employee number or e-mail in the file "
                             "or the directory"]
    assert [str(w) for w in plan.warnings] == ["1: column `Notes` is not known and is ignored"]
    table.rows[2][1]["manager"] = "boss"
    _import(sessions, table)
    assert _manager(sessions, "dev") == "boss"
    assert _manager(sessions, "ops") == "boss"
    assert _person(sessions, "ops").active is False


def _manager(sessions, username):
    with sessions() as session:
        manager = org.manager_of(session, username)
        return manager.username if manager else None


# -- every kind of error -------------------------------------------------------------------------------

def test_missing_required_columns_are_reported_once_on_the_header_row(sessions):
    plan = _plan(sessions, OrgTable.from_records([{"用户名": "a", "邮箱": "a@example.com"}], "p.csv"))
    assert _errors(plan) == ["1: missing required column `name / 姓名`"]
    assert plan.report()[-1] == "p.csv:1: missing required column `name / 姓名`"


def test_a_column_given_twice_is_an_error():
    table = org_import.read_org_bytes("username,name,姓名\na,A,甲\n".encode(), "p.csv")
    assert [str(p) for p in table.problems] == ["1: column `姓名` appears twice"]


def test_row_values_are_checked(sessions):
    plan = _plan(sessions, _table(
        ["", "No Username"], ["a b", "Spaces"], ["c", ""], ["d", "D", "not-an-email"], ["e", "E", "", "", "", "maybe"],
        ["f", "F", "", "", "", "yes"]))
    assert _errors(plan) == [
        "2: username is empty", "3: username `a b` contains spaces", "4: name is empty",
        "5: `not-an-email` is not an e-mail address", "6: department_head must be yes or no (是/否), not `maybe`",
        "7: marked as department head but has no department"]


def test_duplicates_within_the_file(sessions):
    plan = _plan(sessions, _table(["a", "A", "a@example.com", "E1"], ["b", "B", "A@Example.com", "E2"],
                                  ["c", "C", "c@example.com", "E1"], ["a", "A again"]))
    assert _errors(plan) == ["3: duplicate e-mail `a@example.com` (also on row 2)",
                             "4: duplicate employee number `E1` (also on row 2)",
                             "5: duplicate username `a` (also on row 2)"]


def test_values_of_existing_people_outside_the_file_are_taken(sessions):
    _import(sessions, _table(["old", "Old", "old@example.com", "E9"], ["other", "Other", "other@example.com", "E8"]))
    plan = _plan(sessions, _table(["other", "Other", "old@example.com", "E9"]))
    assert _errors(plan) == [
        "2: employee number `E9` already belongs to `old`, who is not in this file",
        "2: e-mail `old@example.com` already belongs to `old`, who is not in this file"]
    # a new username with a known employee number is that person, renamed
    assert _plan(sessions, _table(["new", "New", "old@example.com", "E9"])).people[0].existing_id is not None


def test_two_rows_matching_one_existing_person(sessions):
    _import(sessions, _table(["li", "Li", "li@example.com", "E1"]))
    plan = _plan(sessions, _table(["li", "Li"], ["li.si", "Li Si", "", "E1"]))
    assert _errors(plan) == ["3: is the same person as row 2 (`li`, by employee number)"]


def test_unknown_manager(sessions):
    plan = _plan(sessions, _table(["a", "A", "", "", "", "", "zhao"]))
    assert _errors(plan) == ["2: unknown manager `zhao`: no username, employee number or e-mail in the file "
                             "or the directory"]


def test_a_loop_in_reporting_lines_is_reported_whole(sessions):
    plan = _plan(sessions, _table(["top", "Top"], ["a", "A", "", "", "", "", "c"], ["b", "B", "", "", "", "", "a"],
                                  ["c", "C", "", "", "", "", "b"], ["d", "D", "", "", "", "", "a"]))
    assert _errors(plan) == ["3: loop in reporting lines: a -> c -> b -> a (also rows 4, 5)"]
    assert plan.people[4].action == "create" and plan.people[1].action == "invalid"


def test_being_ones_own_manager_is_a_loop(sessions):
    plan = _plan(sessions, _table(["a", "A", "a@example.com", "", "", "", "A@example.com"]))
    assert _errors(plan) == ["2: loop in reporting lines: a -> a"]


def test_a_loop_through_people_not_in_the_file(sessions):
    _import(sessions, _table(["a", "A"], ["b", "B", "", "", "", "", "a"]))
    plan = _plan(sessions, _table(["a", "A", "", "", "", "", "b"]))
    assert _errors(plan) == ["2: loop in reporting lines: a -> b -> a"]


def test_department_names_paths_and_ambiguity(sessions):
    _import(sessions, _table(["x", "X", "", "", "总部/研发部/平台组"], ["y", "Y", "", "", "分部/平台组"]))
    plan = _plan(sessions, _table(["z", "Z", "", "", "平台组"], ["w", "W", "", "", "研发部"],
                                  ["v", "V", "", "", "总部//研发部"]))
    assert _errors(plan) == [
        "2: department `平台组` is ambiguous: 2 departments have that name; write its path, e.g. `分部/平台组`",
        "4: department `总部//研发部`: every name in the path must have 1 to 200 characters"]
    assert plan.new_departments == []  # 研发部 is unique: the existing one


def test_two_heads_for_one_department(sessions):
    plan = _plan(sessions, _table(["a", "A", "", "", "总部", "是"], ["b", "B", "", "", "总部", "yes"]))
    assert _errors(plan) == ["3: department `总部` gets two heads: `a` (row 2) and `b`"]


def test_a_plan_with_errors_is_refused_and_writes_nothing(sessions):
    with sessions() as session, session.begin():
        plan = plan_import(session, _table(["a", "A", "", "", "新部门", "", "", "new_role"], ["b", ""]))
        with pytest.raises(ImportRefusedError, match="1 errors, nothing was imported"):
            org_import.apply_import(session, plan)
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Person)) == 0
        assert session.scalar(select(func.count()).select_from(Role)) == 0


# -- updates -------------------------------------------------------------------------------------------

def test_a_changed_manager_is_an_update(sessions):
    rows = [["boss", "Boss"], ["mid", "Mid", "", "", "", "", "boss"], ["dev", "Dev", "", "", "", "", "mid"]]
    _import(sessions, _table(*rows))
    rows[2][6] = "boss"
    plan = _import(sessions, _table(*rows))
    assert plan.counts()["update"] == 1 and plan.counts()["unchanged"] == 2
    assert [(p.username, p.changes) for p in plan.people if p.action == "update"] == [("dev", ("manager",))]
    assert _manager(sessions, "dev") == "boss"


def test_matching_by_employee_number_renames_the_username(sessions):
    _import(sessions, _table(["li", "Li", "li@example.com", "E1"]))
    plan = _import(sessions, _table(["li.si", "Li Si", "li@example.com", "E1"]))
    assert plan.counts()["update"] == 1 and plan.people[0].changes == ("username", "name")
    assert "username of `li` changes to `li.si`" in str(plan.warnings[0])
    assert _person(sessions, "li") is None and _person(sessions, "li.si").employee_no == "E1"


def test_people_can_swap_e_mails_and_employee_numbers(sessions):
    _import(sessions, _table(["a", "A", "a@example.com", "E1"], ["b", "B", "b@example.com", "E2"]))
    plan = _import(sessions, _table(["a", "A", "b@example.com", "E2"], ["b", "B", "a@example.com", "E1"]))
    assert plan.counts()["update"] == 2
    assert (_person(sessions, "a").email, _person(sessions, "b").employee_no) == ("b@example.com", "E1")


def test_roles_are_replaced_and_new_roles_reported(sessions):
    _import(sessions, _table(["a", "A", "", "", "", "", "", "hr, finance"]))
    plan = _import(sessions, _table(["a", "A", "", "", "", "", "", "finance、auditor"]))
    assert plan.new_roles == ["auditor"] and plan.people[0].changes == ("roles",)
    with sessions() as session:
        assert org.groups_of(session, "a") == ("auditor", "finance")


def test_the_department_head_moves_with_the_flag(sessions):
    rows = [["a", "A", "", "", "总部", "是"], ["b", "B", "", "", "总部", ""]]
    _import(sessions, _table(*rows))
    rows[0][5], rows[1][5] = "否", "是"
    plan = _import(sessions, _table(*rows))
    assert [p.changes for p in plan.people] == [("department_head",), ("department_head",)]
    with sessions() as session:
        assert org.department_head(session, "总部").username == "b"


def test_absent_columns_leave_attributes_alone(sessions):
    _import(sessions, _table(["a", "A", "a@example.com", "E1", "总部", "", "", "hr"]))
    plan = _import(sessions, OrgTable.from_records([{"username": "a", "name": "A"}]))
    assert plan.counts()["unchanged"] == 1
    person = _person(sessions, "a")
    assert (person.email, person.employee_no, person.department_id) == ("a@example.com", "E1", 1)


def test_missing_people_are_kept_or_deactivated_on_request(sessions):
    _import(sessions, _table(["a", "A"], ["b", "B"], ["admin", "Admin"]))
    with sessions() as session, session.begin():
        session.add(AdminGrant(person_id=org.person_by_username(session, "admin").id, department_id=None))
    assert _import(sessions, _table(["a", "A"])).counts()["deactivate"] == 0
    assert _person(sessions, "b").active
    plan = _import(sessions, _table(["a", "A"]), deactivate_missing=True)
    assert plan.deactivate == ["b"]  # a super admin is never deactivated by an import
    person = _person(sessions, "b")
    assert person.active is False and person.session_version == 2
    assert _person(sessions, "admin").active


def test_progress_is_reported_up_to_the_total(sessions):
    seen = []
    with sessions() as session, session.begin():
        plan = plan_import(session, org_import.read_org_file(SAMPLE), on_progress=lambda d, t: seen.append((d, t)))
        org_import.apply_import(session, plan, on_progress=lambda d, t: seen.append((d, t)))
    assert seen[0] == (20, 20) and seen[-1] == (20, 20)
    assert all(done <= total for done, total in seen)


# -- hostile and unreadable files ----------------------------------------------------------------------

def _refused(path_or_bytes, name="people.xlsx") -> str:
    with pytest.raises(UnreadableOrgFileError) as caught:
        if isinstance(path_or_bytes, bytes):
            org_import.read_org_bytes(path_or_bytes, name)
        else:
            org_import.read_org_file(path_or_bytes)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_an_xlsx_that_is_not_a_zip_is_refused():
    assert _refused(b"username,name\n") == "people.xlsx: not an XLSX file (not a zip archive)"


def test_a_zip_bomb_is_refused_before_unpacking():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * (40 * 2**20))
    assert "compressed suspiciously well (a zip bomb?)" in _refused(buffer.getvalue())


def test_a_workbook_unpacking_past_the_cap_is_refused(tmp_path, monkeypatch):
    path = _xlsx(tmp_path / "p.xlsx", [["username", "name"], ["a", "A"]])
    monkeypatch.setattr(org_files, "MAX_XLSX_UNPACKED", 1000)
    assert "unpacks to more than" in _refused(path)


def test_an_entity_declaration_is_refused(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><!DOCTYPE t [<!ENTITY a "aaaa">]><t>&a;</t>')
    assert "declares a DTD or entities" in _refused(buffer.getvalue())


def test_a_broken_workbook_is_refused():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "not a workbook")
    assert _refused(buffer.getvalue()) == "people.xlsx: not a readable XLSX workbook (KeyError)"


def test_size_and_row_caps(tmp_path, monkeypatch):
    path = tmp_path / "p.csv"
    path.write_text("username,name\n" + "".join(f"u{i},U{i}\n" for i in range(6)))
    monkeypatch.setattr(org_files, "MAX_ROWS", 5)
    assert _refused(path).endswith("more than 5 rows")
    workbook = _xlsx(tmp_path / "big.xlsx", [["username", "name"], ["a", "A"]])
    monkeypatch.setattr(org_files, "MAX_FILE_BYTES", 10)
    assert _refused(path).endswith("file is larger than 0 MB")
    assert _refused(workbook) == f"{workbook}: file is larger than 0 MB"
    assert _refused(b"\xd0\xcf\x11\xe0rest", "old.xls") == "old.xls: old Excel .xls format: save it as .xlsx or CSV"
    assert "not a text file" in _refused(b"a\0b", "x.csv")


# -- the command ---------------------------------------------------------------------------------------

def _cli(database_url, *args):
    return CliRunner().invoke(cli_main, ["--database-url", database_url, "import-org", *args])


def test_cli_dry_run_applies_nothing_and_import_applies(database_url, sessions):
    dry = _cli(database_url, str(SAMPLE), "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert dry.output.splitlines()[0].startswith("20 rows: 20 to create")
    assert _person(sessions, "li.na") is None
    done = _cli(database_url, str(SAMPLE), "--json")
    assert done.exit_code == 0 and json.loads(done.output)["applied"] is True
    assert _person(sessions, "li.na").name == "李娜"


def test_cli_prints_each_error_with_file_and_row_and_exits_1(database_url, sessions, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("username,name,manager\na,A,b\nb,B,a\nc,,\n", encoding="utf-8")
    result = _cli(database_url, str(path))
    assert result.exit_code == 1
    assert f"{path}:2: loop in reporting lines: a -> b -> a (also rows 3)" in result.output
    assert f"{path}:4: name is empty" in result.output
    assert _person(sessions, "a") is None


def test_cli_refuses_a_hostile_file_with_one_line(database_url, tmp_path):
    path = tmp_path / "evil.xlsx"
    path.write_bytes(b"MZ\x90\x00 definitely not a workbook")
    result = _cli(database_url, str(path))
    assert result.exit_code == 2
    assert result.output.strip() == f"error: {path}: not an XLSX file (not a zip archive)"

"""The directory behind the pickers: people and departments found by what one types, on both databases."""

from __future__ import annotations

import pytest

from engine.data.models import Department, Person
from engine.people import directory

# id, code, name, name_en, parent, path
DEPARTMENTS = [(1, "HQ", "总部", "Head office", None, "/1/"), (2, "SALES", "销售部", "Sales", 1, "/1/2/"),
               (3, "SALES-E", "华东销售", "Sales East", 2, "/1/2/3/"), (4, "FIN", "财务部", "Finance", 1, "/1/4/"),
               (5, "PCT_50", "百分之五十", None, 1, "/1/5/")]
# username, name, name_en, employee number, department, active
PEOPLE = [("zhang", "张三", "Zhang San", "E1001", 2, True), ("zhangwei", "张伟", "Zhang Wei", "E1002", 3, True),
          ("li", "李四", "Li Si", "E2001", 4, True), ("azhar", "阿扎尔", "Azhar", None, None, True),
          ("zhao", "赵六", None, "E3001", 4, False), ("wang", "王五", "Wang Wu", "E1003", 3, True),
          ("under_score", "下划线", None, None, None, True)]


@pytest.fixture
def directory_db(sessions):
    """Departments and people written through the models; returns the session factory."""
    with sessions() as session, session.begin():
        session.add_all(Department(id=i, code=c, name=n, name_en=e, parent_id=p, path=path)
                        for i, c, n, e, p, path in DEPARTMENTS)
        session.flush()
        session.add_all(Person(username=u, name=n, name_en=e, employee_no=no, department_id=d, active=a,
                               email=f"{u}@Example.com")
                        for u, n, e, no, d, a in PEOPLE)
    return sessions


def _usernames(hits) -> list[str]:
    return [hit.username for hit in hits]


def test_people_by_username_prefix_and_contains_exact_first(directory_db):
    with directory_db() as session:
        # "zhang" is exact, "zhangwei" a prefix, "azhar" only contains "zh"
        assert _usernames(directory.search_people(session, "zhang")) == ["zhang", "zhangwei"]
        assert _usernames(directory.search_people(session, "ZH")) == ["zhang", "zhangwei", "azhar"]
        assert _usernames(directory.search_people(session, "  Zh  ")) == ["zhang", "zhangwei", "azhar"]


def test_people_by_chinese_and_english_name(directory_db):
    with directory_db() as session:
        assert _usernames(directory.search_people(session, "张")) == ["zhang", "zhangwei"]
        assert _usernames(directory.search_people(session, "三")) == ["zhang"]
        assert _usernames(directory.search_people(session, "wu")) == ["wang"]
        assert _usernames(directory.search_people(session, "zhang s")) == ["zhang"]


def test_people_by_employee_number_and_email(directory_db):
    with directory_db() as session:
        assert _usernames(directory.search_people(session, "e100")) == ["wang", "zhang", "zhangwei"]
        assert _usernames(directory.search_people(session, "E2001")) == ["li"]
        assert _usernames(directory.search_people(session, "li@example.com")) == ["li"]
        assert directory.search_people(session, "example.com") == []  # e-mail: a prefix only


def test_inactive_people_are_never_found(directory_db):
    with directory_db() as session:
        assert directory.search_people(session, "zhao") == []
        assert directory.search_people(session, "赵六") == []
        assert directory.search_people(session, "E3001") == []


def test_hit_carries_names_and_department(directory_db):
    with directory_db() as session:
        [hit] = directory.search_people(session, "zhangwei")
        [loner] = directory.search_people(session, "azhar")
    assert (hit.username, hit.name, hit.name_en, hit.department, hit.department_en) == \
        ("zhangwei", "张伟", "Zhang Wei", "华东销售", "Sales East")
    assert hit.label("zh") == "张伟" and hit.label("en") == "Zhang Wei"
    assert hit.department_label("en") == "Sales East" and hit.department_label("zh") == "华东销售"
    assert loner.department is None and loner.department_label("en") == ""


def test_empty_query_limit_and_wildcards(directory_db):
    with directory_db() as session:
        assert directory.search_people(session, "") == []
        assert directory.search_people(session, "   ") == []
        assert directory.search_people(session, None) == []
        assert len(directory.search_people(session, "a", limit=2)) == 2
        assert len(directory.search_people(session, "a", limit=10_000)) <= directory.MAX_LIMIT
        # LIKE's wildcards are taken literally
        assert directory.search_people(session, "%") == []
        assert _usernames(directory.search_people(session, "_")) == ["under_score"]
        assert _usernames(directory.search_people(session, "r_s")) == ["under_score"]


def test_scope_keeps_a_department_subtree(directory_db):
    with directory_db() as session:
        assert _usernames(directory.search_people(session, "w", scope="SALES")) == ["wang", "zhangwei"]
        assert _usernames(directory.search_people(session, "w", scope=3)) == ["wang", "zhangwei"]
        assert directory.search_people(session, "w", scope="FIN") == []
        assert directory.search_people(session, "w", scope="NOPE") == []


def test_departments_by_code_and_names(directory_db):
    with directory_db() as session:
        assert [d.code for d in directory.search_departments(session, "sales")] == ["SALES", "SALES-E"]
        assert [d.code for d in directory.search_departments(session, "销售")] == ["SALES", "SALES-E"]
        assert [d.code for d in directory.search_departments(session, "east")] == ["SALES-E"]
        assert [d.code for d in directory.search_departments(session, "fin")] == ["FIN"]
        assert [d.code for d in directory.search_departments(session, "pct_")] == ["PCT_50"]
        assert directory.search_departments(session, "") == []
        [east] = directory.search_departments(session, "sales-e")
        [top] = directory.search_departments(session, "HQ")
    assert (east.name, east.parent, east.parent_en) == ("华东销售", "销售部", "Sales")
    assert east.label("en") == "Sales East" and east.parent_label("en") == "Sales"
    assert top.parent is None and top.parent_label("zh") == ""


def test_display_people_keeps_order_and_shows_inactive(directory_db):
    with directory_db() as session:
        hits = directory.display_people(session, ["li", "nobody", "zhao", "", "li", " zhang "])
    assert [(h.username, h.active) for h in hits] == [("li", True), ("zhao", False), ("zhang", True)]
    assert hits[0].department == "财务部"
    with directory_db() as session:
        assert directory.display_people(session, []) == []

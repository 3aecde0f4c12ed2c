"""People and departments are listed in pinyin order of their names (`engine.data.sorting`), on SQLite and
PostgreSQL alike, through every engine function that lists them; the key follows the name on create,
import and rename."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from engine.data.models import AdminGrant, Department, Person, PersonRole, Role
from engine.data.project_models import Project, ProjectMember
from engine.data.room_models import Room
from engine.data.sorting import department_sort_key, in_pinyin_order, sort_key
from engine.notify import recipients
from engine.notify.render import Event
from engine.packages import deployment as packages
from engine.people import directory, org, org_import, people_admin, roles, starting
from engine.people.accounts import SessionUser
from engine.people.org_import import OrgTable, plan_import
from engine.projects import projects
from engine.runtime import assignment
from engine.training import assignments, courses, scores
from engine.work import room_requests

# the brief's list, and where each goes: 艾米 ai mi < Alice < 李四 li < 王五 wang < 曾强 zeng (surname) < 张三 zhang
NAMES = {"zhangsan": "张三", "lisi": "李四", "wangwu": "王五", "alice": "Alice", "aimi": "艾米", "zengqiang": "曾强"}
PINYIN_ORDER = ["aimi", "alice", "lisi", "wangwu", "zengqiang", "zhangsan"]
# usernames in the reverse order, so that ordering by username would fail every check
USERNAMES = {name: f"u{9 - i}" for i, name in enumerate(PINYIN_ORDER)}
ROOT = Path(__file__).resolve().parents[3]


def test_keys_follow_pinyin_with_latin_names_among_them():
    assert sort_key("张三") == "zhang san" and sort_key("Alice") == "alice" and sort_key("艾米") == "ai mi"
    assert sorted(NAMES.values(), key=sort_key) == ["艾米", "Alice", "李四", "王五", "曾强", "张三"]
    assert sort_key("李安") < sort_key("连")  # character by character: li < lian
    assert sort_key("Ｅｍｉｌｅ") == sort_key("Émile") == "emile"  # full-width and accented letters
    assert sort_key("3号") > sort_key("Zoe")  # neither a letter nor a Chinese character: last
    assert in_pinyin_order(["张三", "Bob", "白云"], lambda n: n) == ["白云", "Bob", "张三"]


@pytest.mark.parametrize(("name", "key"), [("曾强", "zeng qiang"), ("单雄信", "shan xiong xin"), ("解缙", "xie jin"),
                                           ("仇英", "qiu ying"), ("尉迟恭", "yu chi gong"), ("查良镛", "zha liang yong")])
def test_polyphonic_surnames_are_read_as_surnames(name, key):
    assert sort_key(name) == key


def test_departments_are_not_read_as_surnames():
    assert department_sort_key("单证部") == "dan zheng bu" and sort_key("单证部").startswith("shan")


def _directory(sessions) -> None:
    """The six people (usernames against the pinyin order) in one department, holding one role; u9 is a
    super admin and the department's admin."""
    with sessions() as session, session.begin():
        department = Department(code="sales", name="销售部", path="")
        role = Role(key="clerk", name="Clerk")
        session.add_all([department, role])
        session.flush()
        department.path = f"/{department.id}/"
        people = [Person(username=USERNAMES[key], name=NAMES[key], email=f"{USERNAMES[key]}@example.com",
                         department_id=department.id) for key in reversed(PINYIN_ORDER)]
        session.add_all(people)
        session.flush()
        session.add_all(PersonRole(person_id=p.id, role_id=role.id) for p in people)
        session.add_all(AdminGrant(person_id=p.id, department_id=None) for p in people)
        session.add(Project(name="P", owner="u9", created_by="u9"))
        session.flush()
        session.add_all(ProjectMember(project_id=1, kind="person", ref=p.username) for p in people)


EXPECTED = [NAMES[key] for key in PINYIN_ORDER]


def _names(session, usernames) -> list[str]:
    found = dict(session.execute(select(Person.username, Person.name)).all())
    return [found[u] for u in usernames]


def _super_admin() -> SessionUser:
    return SessionUser(1, "u9", "艾米", "zh", (), True, (), 1)


def test_every_list_of_people_is_in_pinyin_order(sessions):
    _directory(sessions)
    with sessions() as session:
        assert [r.name for r in people_admin.list_people(session, "u9")[0]] == EXPECTED
        assert [h.name for h in directory.search_people(session, "u", limit=50)] == EXPECTED  # the pickers
        assert [p.name for p in org.members(session, "sales")] == EXPECTED
        role_id = session.scalar(select(Role.id))
        assert [m.name for m in roles.get_role(session, _super_admin(), role_id)[1]] == EXPECTED
        assert [a.name for a in roles.list_admins(session, _super_admin()).super_admins] == EXPECTED
        assert [p.name for p in projects.member_people(session, session.get(Project, 1))] == EXPECTED
        assert [p.name for p in assignments.people_to_assign(session, departments=["sales"])] == EXPECTED
        room = Room(key="r", name="R", needs_approval=True, approver_role="clerk")
        assert _names(session, room_requests.approvers_of(session, room)) == EXPECTED
        assert _names(session, org.by_name(session, [*USERNAMES.values(), None])[:-1]) == EXPECTED
        conn = session.connection()
        assert _names(session, assignment.role_members(conn, ["clerk"])) == EXPECTED
        members = recipients.look_up(conn, [Event("cc", groups=["clerk"])]).members["clerk"]  # a role copied to
        assert _names(session, members) == EXPECTED
        for rule in ("department:sales", "department:sales+"):
            resolved = assignment.resolve(conn, assignment.parse_rule(rule), initiator=None, data={},
                                          evaluate=lambda *_: None)
            assert _names(session, resolved.users) == EXPECTED


def test_the_training_score_table_lists_people_in_pinyin_order(sessions):
    _directory(sessions)
    with sessions() as session, session.begin():
        packages.deploy(session, packages.load_package(ROOT / "processes" / "training_assessment"), "admin")
        course_id = courses.save_course(session, "u9", ("hr",), False, courses.CourseInput(
            title="安全", title_en="Safety", quiz=[{"name": "q1", "kind": "true_false", "question": {"zh": "对?"},
                                                   "answer": True, "points": 100}]))
    assert assignments.assign(sessions, "u9", ("hr",), False, course_id, departments=["sales"]).assigned
    with sessions() as session:  # the page and its CSV / XLSX exports read this table
        assert [r.name for r in scores.score_table(session, ("hr",), False, course_id=course_id).rows] == EXPECTED


def test_department_search_is_in_pinyin_order(sessions):
    with sessions() as session, session.begin():
        for code, name in (("d1", "质检部"), ("d2", "采购部"), ("d3", "Admin 部"), ("d4", "白板部")):
            session.add(Department(code=code, name=name, path=f"/{code}/"))
    with sessions() as session:
        assert [h.name for h in directory.search_departments(session, "部")] == ["Admin 部", "白板部", "采购部", "质检部"]


def test_departments_are_listed_in_chart_order_siblings_by_pinyin(sessions):
    """Each department right after its parent, siblings by pinyin (ids against that order, and a two-digit
    id that a path's text order would put before a one-digit one)."""
    with sessions() as session, session.begin():
        for i, parent, name in ((1, None, "总部"), (12, 1, "研发部"), (3, 1, "财务部"), (4, 12, "平台组"),
                                (5, 12, "Apps 组"), (6, None, "子公司"), (7, 1, "单证部")):
            path = f"/{i}/" if parent is None else (f"/1/{i}/" if parent == 1 else f"/1/12/{i}/")
            session.add(Department(id=i, code=f"d{i}", name=name, parent_id=parent, path=path))
    chart = ["子公司", "总部", "财务部", "单证部", "研发部", "Apps 组", "平台组"]  # zi gong si < zong bu
    with sessions() as session:
        assert [name for _, name in courses.department_choices(session)] == chart
        session.add(Person(id=99, username="root", name="Root"))
        session.flush()
        session.add(AdminGrant(person_id=99, department_id=None))
        session.flush()
        assert [d.name for d in starting.managed_departments(session, "root")] == chart


def _import(sessions, *rows):
    table = OrgTable.from_records([dict(zip(["username", "name", "department"], r, strict=True)) for r in rows],
                                  "people.csv")
    with sessions() as session, session.begin():
        plan = plan_import(session, table)
        assert plan.ok, plan.errors
        org_import.apply_import(session, plan)


def _keys(sessions, model, column) -> dict[str, str]:
    with sessions() as session:
        return dict(session.execute(select(column, model.sort_key)).all())


def test_import_and_rename_keep_the_key(sessions):
    _import(sessions, ("zs", "张三", "总部/单证部"), ("zq", "曾强", "总部"))
    assert _keys(sessions, Person, Person.username) == {"zs": "zhang san", "zq": "zeng qiang"}
    assert _keys(sessions, Department, Department.name) == {"总部": "zong bu", "单证部": "dan zheng bu"}
    _import(sessions, ("zs", "Alice", "总部"), ("zq", "曾强", "总部"))  # an edit of the name by re-import
    assert _keys(sessions, Person, Person.username) == {"zs": "alice", "zq": "zeng qiang"}
    with sessions() as session, session.begin():  # and of an ORM object
        session.scalar(select(Person).where(Person.username == "zq")).name = "解缙"
    assert _keys(sessions, Person, Person.username)["zq"] == "xie jin"

"""An org chart for the notice tests: HQ > R&D > Team A, HQ > HR; roles; a super admin."""

from __future__ import annotations

import pytest

from engine.data.models import AdminGrant, Department, Person, PersonRole, Role

# username -> (department code or None, e-mail, locale)
PEOPLE = {"zhou": ("hq", "zhou@example.com", "zh"), "li": ("rd", "li@example.com", "zh"),
          "zhang": ("team_a", "zhang@example.com", "en"), "wang": ("team_a", None, "zh"),
          "hu": ("hr", "hu@example.com", "zh"), "admin": (None, "admin@example.com", "zh"),
          "gone": ("rd", "gone@example.com", "zh")}


@pytest.fixture
def org(sessions):
    """The chart; returns {username: person id}. `gone` is inactive; hu has role hr; admin is super admin."""
    return build_org(sessions)


def build_org(sessions) -> dict:
    """The `org` fixture's rows."""
    with sessions() as session, session.begin():
        depts = {}
        for code, name, parent in (("hq", "总部", None), ("rd", "研发部", "hq"), ("team_a", "研发一组", "rd"),
                                   ("hr", "人事部", "hq")):
            dept = Department(code=code, name=name, name_en=code.upper(), path="",
                              parent_id=depts[parent].id if parent else None)
            session.add(dept)
            session.flush()
            dept.path = (depts[parent].path if parent else "/") + f"{dept.id}/"
            depts[code] = dept
        ids = {}
        for username, (code, email, locale) in PEOPLE.items():
            person = Person(username=username, name=f"{username}-名", name_en=username.title(), email=email,
                            locale=locale, department_id=depts[code].id if code else None, active=username != "gone")
            session.add(person)
            session.flush()
            ids[username] = person.id
        role = Role(key="hr", name="人事", name_en="HR")
        session.add(role)
        session.flush()
        session.add(PersonRole(person_id=ids["hu"], role_id=role.id))
        session.add(AdminGrant(person_id=ids["admin"], department_id=None))
    return ids

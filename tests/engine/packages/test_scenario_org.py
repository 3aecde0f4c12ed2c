"""A scenario's `org:` (engine/packages/scenario_org.py): its people join the scratch directory, and a
malformed one is that scenario's failure, said in words."""

from __future__ import annotations

from engine.packages.scenario_org import org_people, org_problems

ORG = {"org": {"managers": {"zhang": "li"}, "roles": {"finance": ["qian"]},
               "departments": {"RD": {"head": "li", "members": ["zhang", "wang"]}}}}


def test_every_person_the_org_names_joins_the_directory():
    assert org_people(ORG) == {"zhang", "li", "qian", "wang"}
    assert org_problems(ORG) == [] and org_problems({}) == []


def test_a_malformed_org_is_named():
    assert org_problems({"org": {"manager": {}}}) == [
        "`org` must be a mapping of `managers`, `roles` and `departments`"]
    assert org_problems({"org": {"roles": {"finance": "qian"}, "departments": {"RD": ["li"]}}}) == [
        "`org.roles` maps a role key to a list of usernames",
        "`org.departments` maps a code to `{head: USER, members: [USER, ...]}`"]
    assert org_people({"org": {"roles": {"finance": "qian"}}}) == set()

"""Assignment rules (`liaison:approvers`): parsing, resolving against the org chart, fallbacks, deploy checks."""

from __future__ import annotations

import pytest
import yaml
from sqlalchemy import event

from engine.bpmn import sandbox
from engine.data.models import AdminGrant, Department, Person, PersonRole, Role
from engine.errors import InvalidPackageError, ProcessRuntimeError
from engine.packages import deployment as packages
from engine.runtime import assignment
from engine.runtime.assignment import Resolution, parse_rule, resolve, resolve_task
from engine.runtime.assignment_checks import admins_problems, rule_problems
from tests.engine.conftest import write_package

# id, code, path: EMPTY has nobody and no head
DEPARTMENTS = [(1, "HQ", None, "/1/"), (2, "RD", 1, "/1/2/"), (3, "PLT", 2, "/1/2/3/"), (4, "FIN", 1, "/1/4/"),
               (22, "SALES", 1, "/1/22/"), (5, "EMPTY", 1, "/1/5/")]
# username, department, manager, active, head of, roles
PEOPLE = [("ceo", 1, None, True, 1, ()), ("cto", 2, "ceo", True, 2, ("rd_lead",)),
          ("lead", 3, "cto", True, 3, ("reviewer",)), ("dev", 3, "lead", True, None, ("dev", "reviewer")),
          ("gone", 3, "lead", False, None, ("dev", "ghost")), ("intern", 3, "gone", True, None, ()),
          ("cfo", 4, "ceo", True, None, ("finance",)), ("acct", 4, "cfo", True, None, ("finance",)),
          ("oldhead", 4, "ceo", False, 4, ()), ("sales", 22, "ceo", True, 22, ()),
          ("root", None, None, True, None, ()), ("loner", None, None, True, None, ())]


def _no_evaluate(expression, data):
    raise AssertionError("only expr: rules evaluate")


def _evaluate(expression, data):
    return sandbox.evaluate(expression, data)


@pytest.fixture
def chart(sessions):
    """The org chart above, written through the models; returns the session factory."""
    with sessions() as session, session.begin():
        session.add_all(Department(id=i, code=c, name=c, parent_id=p, path=path) for i, c, p, path in DEPARTMENTS)
        session.flush()
        people = {u: Person(username=u, name=u.title(), department_id=d, active=a) for u, d, _m, a, _h, _r in PEOPLE}
        session.add_all(people.values())
        session.flush()
        roles = {}
        for username, _dept, manager, _active, head, keys in PEOPLE:
            people[username].manager_id = people[manager].id if manager else None
            if head:
                session.get(Department, head).head_id = people[username].id
            for key in keys:
                if key not in roles:
                    roles[key] = Role(key=key, name=key)
                    session.add(roles[key])
                    session.flush()
                session.add(PersonRole(person_id=people[username].id, role_id=roles[key].id))
        session.add(Role(key="nobody_holds", name="empty role"))
        session.add_all([AdminGrant(person_id=people["root"].id, department_id=None),
                         AdminGrant(person_id=people["cto"].id, department_id=2)])
    return sessions


def _resolve(chart, text, initiator="dev", data=None, evaluate=_no_evaluate, **options) -> Resolution:
    with chart() as session:
        return resolve(session.connection(), parse_rule(text), initiator=initiator, data=data or {},
                       evaluate=evaluate, **options)


def _users(chart, text, initiator="dev", **options) -> list[str]:
    result = _resolve(chart, text, initiator, empty="skip", **options)
    assert result.groups == []
    return result.users


# -- syntax ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, canonical", [
    ("users:alice,bob", "users:alice,bob"), (" users: alice , bob,alice ", "users:alice,bob"),
    ("role:finance", "role:finance"), ("role:finance,hr", "role:finance,hr"),
    ("department:SALES", "department:SALES"), ("department:SALES+", "department:SALES+"),
    ("initiator", "initiator"), ("manager", "manager"), ("manager:1", "manager"), ("manager:2", "manager:2"),
    ("department_head", "department_head"), ("department_head:SALES", "department_head:SALES"),
    ("picked:approver", "picked:approver"), ("expr:owner if amount > 10 else 'x'", "expr:owner if amount > 10 else 'x'"),
])
def test_every_rule_kind_parses_to_its_canonical_text(text, canonical):
    assert str(parse_rule(text)) == canonical


def test_parsed_rules_carry_their_parts():
    assert parse_rule("users:alice,bob").names == ("alice", "bob")
    assert parse_rule("department:SALES+") == assignment.Rule("department", value="SALES", subtree=True)
    assert parse_rule("manager:3").level == 3
    assert parse_rule("department_head").value is None


@pytest.mark.parametrize("text, message", [
    ("", "the rule is empty (expected one of: users, role, department, initiator, manager, department_head, "
         "picked, expr)"),
    ("boss:1", "unknown rule kind `boss` (known: users, role, department, initiator, manager, department_head, "
               "picked, expr)"),
    ("users", "`users` needs usernames, e.g. `users:alice,bob`"),
    ("users:", "`users:` has nothing after the colon (expected usernames, comma-separated)"),
    ("manager:", "`manager:` has nothing after the colon (write `manager` alone, or `manager:2`)"),
    ("initiator:", "`initiator:` has nothing after the colon (write `initiator` alone)"),
    ("users:alice,,bob", "`users:alice,,bob` has an empty username (two commas, or a comma at an end)"),
    ("users:alice smith", "`users:` username `alice smith` cannot contain spaces, `:` or `+`"),
    ("role", "`role` needs role keys, e.g. `role:finance`"),
    ("department", "`department` needs a department code, e.g. `department:SALES` (or `department:SALES+`)"),
    ("department:SALES,HR", "`department:SALES,HR`: `SALES,HR` is not a department code "
                            "(one code, optionally followed by +)"),
    ("initiator:me", "`initiator` takes no argument (got `initiator:me`)"),
    ("manager:0", "`manager:0`: the level must be a whole number from 1 to 20 (1 is the direct manager)"),
    ("manager:two", "`manager:two`: the level must be a whole number from 1 to 20 (1 is the direct manager)"),
    ("manager:21", "`manager:21`: the level must be a whole number from 1 to 20 (1 is the direct manager)"),
    ("department_head:A B", "`department_head:A B`: `A B` is not a department code"),
    ("picked", "`picked` needs the start-form field holding the user, e.g. `picked:approver`"),
    ("picked:my-field", "`picked:my-field`: `my-field` is not a field name"),
    ("expr:", "`expr` needs an expression, e.g. `expr:data_owner if amount > 1000 else 'alice'`"),
    ("expr:${owner}", "`expr:${owner}`: write the Python expression without ${...}"),
])
def test_bad_syntax_is_refused_with_a_precise_message(text, message):
    with pytest.raises(ValueError) as caught:
        parse_rule(text)
    assert str(caught.value) == message


def test_an_unsafe_expression_is_refused_when_parsed():
    with pytest.raises(ValueError, match=r"^`expr:__import__\('os'\)`: "):
        parse_rule("expr:__import__('os')")


# -- each kind against the org chart --------------------------------------------------------------------------

def test_named_users_keep_their_order_without_inactive_unknown_or_repeated_people(chart):
    assert _users(chart, "users:cfo,gone,nobody,acct,cfo") == ["cfo", "acct"]


def test_a_role_is_offered_as_candidate_groups(chart):
    assert _resolve(chart, "role:finance") == Resolution(users=[], groups=["finance"])
    assert _resolve(chart, "role:finance,rd_lead").groups == ["finance", "rd_lead"]


def test_a_role_only_inactive_people_hold_yields_nobody(chart):
    assert _resolve(chart, "role:ghost", empty="skip") == Resolution(
        users=[], groups=[], skipped=True, note="rule `role:ghost` yielded nobody; skipped", skip_reason="nobody")
    assert _resolve(chart, "role:no_such_role", empty="skip").skipped


def test_department_members_with_and_without_subdepartments(chart):
    assert _users(chart, "department:PLT") == ["dev", "intern", "lead"]
    assert _users(chart, "department:RD") == ["cto"]
    assert _users(chart, "department:RD+") == ["cto", "dev", "intern", "lead"]
    assert _users(chart, "department:EMPTY") == []
    assert _users(chart, "department:NOPE+") == []


def test_the_initiator(chart):
    assert _users(chart, "initiator") == ["dev"]
    assert _users(chart, "initiator", initiator="gone") == []


def test_nth_manager_up_the_reporting_line_and_nobody_past_the_top(chart):
    assert [_users(chart, f"manager:{level}") for level in (1, 2, 3, 4)] == [["lead"], ["cto"], ["ceo"], []]
    assert _users(chart, "manager") == ["lead"]
    assert _users(chart, "manager", initiator="ceo") == []
    assert _users(chart, "manager", initiator="intern") == []  # their manager left the company
    assert _users(chart, "manager:2", initiator="intern") == ["lead"]


def test_department_head_of_the_initiator_or_of_a_named_department(chart):
    assert _users(chart, "department_head") == ["lead"]
    assert _users(chart, "department_head", initiator="lead") == ["cto"]  # own head: the next one up
    assert _users(chart, "department_head", initiator="loner") == []
    assert _users(chart, "department_head:SALES") == ["sales"]
    assert _users(chart, "department_head:FIN") == []  # the head is inactive
    assert _users(chart, "department_head:EMPTY") == []


def test_initiator_rules_without_an_initiator_yield_nobody(chart):
    result = _resolve(chart, "manager:2", initiator=None, empty="skip")
    assert result == Resolution([], [], skipped=True, note="rule `manager:2` yielded nobody (no initiator); skipped",
                                skip_reason="nobody")


def test_picked_users_from_the_start_form(chart):
    assert _users(chart, "picked:approver", data={"approver": "cfo"}) == ["cfo"]
    assert _users(chart, "picked:approvers", data={"approvers": ["acct", "gone", "cfo", "acct"]}) == ["acct", "cfo"]
    assert _users(chart, "picked:approver", data={}) == []
    assert _users(chart, "picked:approver", data={"approver": None}) == []


def test_picked_value_that_is_no_username_fails_naming_the_rule(chart):
    with pytest.raises(ProcessRuntimeError) as caught:
        _resolve(chart, "picked:approver", data={"approver": {"id": 3}}, element_id="approve")
    assert str(caught.value) == ("element `approve`: approver rule `picked:approver` gave dict `{'id': 3}`, "
                                 "expected a username or a list of usernames")
    assert caught.value.element_id == "approve"


def test_expression_over_process_data_through_the_given_evaluator(chart):
    rule = "expr:['cfo', 'acct'] if amount > 1000 else owner"
    assert _users(chart, rule, data={"amount": 5000, "owner": "sales"}, evaluate=_evaluate) == ["cfo", "acct"]
    assert _users(chart, rule, data={"amount": 5, "owner": "sales"}, evaluate=_evaluate) == ["sales"]
    assert _users(chart, "expr:'cfo,acct'", evaluate=_evaluate) == ["cfo", "acct"]
    assert _users(chart, "expr:None", evaluate=_evaluate) == []
    seen = []
    _users(chart, "expr:x", data={"x": "ceo"}, evaluate=lambda expression, data: seen.append((expression, data)))
    assert seen == [("x", {"x": "ceo"})]


def test_a_failing_or_ill_typed_expression_raises_naming_the_node_and_rule(chart):
    with pytest.raises(ProcessRuntimeError, match=r"^element `approve`: approver rule `expr:owner` failed: "):
        _resolve(chart, "expr:owner", evaluate=_evaluate, element_id="approve")
    with pytest.raises(ProcessRuntimeError) as caught:
        _resolve(chart, "expr:amount", data={"amount": 3}, evaluate=_evaluate)
    assert str(caught.value) == ("approver rule `expr:amount` gave int `3`, expected a username or a list of "
                                 "usernames")


# -- nobody found ----------------------------------------------------------------------------------------------

def test_empty_fails_by_default_with_the_node_and_rule_named(chart):
    with pytest.raises(ProcessRuntimeError) as caught:
        _resolve(chart, "manager:4", element_id="approve")
    assert str(caught.value) == "element `approve`: approver rule `manager:4` yielded nobody for initiator `dev`"
    assert caught.value.element_id == "approve"


def test_empty_skip_marks_the_node_skipped(chart):
    assert _resolve(chart, "department:EMPTY", empty="skip") == Resolution(
        [], [], skipped=True, note="rule `department:EMPTY` yielded nobody; skipped", skip_reason="nobody")


def test_empty_admin_goes_to_the_active_process_admins(chart):
    result = _resolve(chart, "department:EMPTY", empty="admin", process_admins=["gone", "cfo", "acct"])
    assert result == Resolution(["cfo", "acct"], [], note="rule `department:EMPTY` yielded nobody; "
                                                           "given to the process admins")


def test_empty_admin_without_active_process_admins_goes_to_the_super_admins(chart):
    result = _resolve(chart, "department:EMPTY", empty="admin", process_admins=["gone"])
    assert result == Resolution(["root"], [], note="rule `department:EMPTY` yielded nobody; given to the super admins")


def test_empty_admin_with_no_admin_at_all_fails(chart):
    with chart() as session, session.begin():
        session.query(AdminGrant).delete()
    with pytest.raises(ProcessRuntimeError) as caught:
        _resolve(chart, "department:EMPTY", empty="admin", element_id="approve")
    assert str(caught.value) == ("element `approve`: approver rule `department:EMPTY` yielded nobody for initiator "
                                 "`dev`, and there is no active process admin or super admin")


def test_unknown_options_are_refused(chart):
    with pytest.raises(ValueError, match="empty must be one of fail, skip, admin"):
        _resolve(chart, "initiator", empty="ignore")
    with pytest.raises(ValueError, match="self_approval must be one of allow, skip, manager"):
        _resolve(chart, "initiator", self_approval="deny")


# -- self approval ---------------------------------------------------------------------------------------------

def test_self_approval_allowed_by_default(chart):
    assert _resolve(chart, "users:dev,cfo") == Resolution(["dev", "cfo"], [])


def test_self_approval_skip_leaves_the_initiator_out(chart):
    assert _resolve(chart, "users:dev,cfo", self_approval="skip") == Resolution(
        ["cfo"], [], note="initiator `dev` left out (self-approval: skip)")


def test_self_approval_skip_with_nobody_left_skips_the_node_even_when_empty_says_fail(chart):
    assert _resolve(chart, "initiator", self_approval="skip") == Resolution(
        [], [], skipped=True, note="rule `initiator` yielded only the initiator `dev`; skipped (self-approval: skip)",
        skip_reason="requester")


def test_self_approval_manager_puts_the_initiators_manager_in_their_place(chart):
    assert _resolve(chart, "users:cfo,dev,acct", self_approval="manager") == Resolution(
        ["cfo", "lead", "acct"], [], note="initiator `dev` replaced by their manager `lead` (self-approval: manager)")
    assert _resolve(chart, "department:PLT", self_approval="manager").users == ["intern", "lead"]


def test_self_approval_manager_without_a_manager_falls_back_to_the_empty_option(chart):
    result = _resolve(chart, "initiator", initiator="ceo", self_approval="manager", empty="admin")
    assert result.users == ["root"]
    assert result.note == ("initiator `ceo` left out: they have no active manager (self-approval: manager); "
                           "rule `initiator` yielded nobody; given to the super admins")


def test_a_role_the_initiator_holds_names_the_other_holders_when_self_approval_is_not_allowed(chart):
    assert _resolve(chart, "role:reviewer", self_approval="allow").groups == ["reviewer"]
    assert _resolve(chart, "role:finance", self_approval="skip").groups == ["finance"]  # dev holds no finance
    assert _resolve(chart, "role:reviewer", self_approval="skip") == Resolution(
        ["lead"], [], note="initiator `dev` holds role reviewer: its holders are named instead of the group; "
                           "initiator `dev` left out (self-approval: skip)")
    assert _resolve(chart, "role:dev", self_approval="skip").skipped
    assert _resolve(chart, "role:dev", self_approval="manager").users == ["lead"]


# -- cost ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, queries", [("users:cfo,acct", 1), ("role:finance", 1), ("department:RD+", 2),
                                           ("manager:2", 1), ("department_head", 1), ("role:reviewer", 3)])
def test_a_resolution_costs_one_to_three_queries(chart, text, queries):
    statements = []
    with chart() as session:
        conn = session.connection()
        event.listen(conn, "before_cursor_execute", lambda *args: statements.append(args[2]))
        resolve(conn, parse_rule(text), initiator="dev", data={}, evaluate=_no_evaluate, self_approval="manager")
    assert len(statements) == queries


# -- resolve_task: the runtime's entry point ----------------------------------------------------------------------

def test_resolve_task_reads_the_rule_and_its_options_from_the_attributes(chart):
    with chart() as session:
        conn = session.connection()
        assert resolve_task(conn, {"assignee": "x"}, initiator="dev", data={}, evaluate=_no_evaluate) is None
        result = resolve_task(conn, {"approvers": "users:dev", "selfApproval": "manager"}, initiator="dev",
                              data={}, evaluate=_no_evaluate, element_id="approve")
        assert result == Resolution(["lead"], [], note="initiator `dev` replaced by their manager `lead` "
                                                       "(self-approval: manager)")
        with pytest.raises(ProcessRuntimeError) as caught:
            resolve_task(conn, {"approvers": "boss"}, initiator="dev", data={}, evaluate=_no_evaluate,
                         element_id="approve")
        assert str(caught.value).startswith("element `approve`: liaison:approvers `boss`: unknown rule kind `boss`")


def test_an_assignee_or_candidates_from_a_field_obey_the_self_approval_policy(chart):
    """Issue 11 item 2: `assignee="${field}"` (or candidateUsers) naming the initiator is resolved under the
    node's selfApproval as `picked:field` would be; anyone else, or `allow`, leaves the node as drawn."""
    with chart() as session:
        conn = session.connection()

        def plain(attributes, data, initiator="dev"):
            return resolve_task(conn, attributes, initiator=initiator, data=data, evaluate=_evaluate, element_id="a")

        assert plain({"assignee": "${boss}", "selfApproval": "manager"}, {"boss": "dev"}) == Resolution(
            ["lead"], [], note="initiator `dev` replaced by their manager `lead` (self-approval: manager)")
        assert plain({"assignee": "${boss}", "selfApproval": "skip"}, {"boss": "dev"}).skipped
        assert plain({"candidateUsers": "${boss}", "selfApproval": "skip"}, {"boss": ["cfo", "dev"]}).users == ["cfo"]
        assert plain({"assignee": "${boss}", "selfApproval": "manager"}, {"boss": "cfo"}) is None
        assert plain({"assignee": "${boss}"}, {"boss": "dev"}) is None  # allow by default
        assert plain({"assignee": "${boss}", "selfApproval": "allow"}, {"boss": "dev"}) is None
        assert plain({"assignee": "dev", "selfApproval": "manager"}, {}).users == ["lead"]
        both = plain({"assignee": "${boss}", "candidateGroups": "finance", "selfApproval": "skip"}, {"boss": "dev"})
        assert (both.users, both.groups, both.skipped) == ([], ["finance"], False)
        with pytest.raises(ProcessRuntimeError, match="element `a`: approver rule `picked:boss` yielded nobody"):
            plain({"assignee": "${boss}", "selfApproval": "manager"}, {"boss": "ceo"}, initiator="ceo")
    assert assignment.approver_field({"assignee": "${ boss }"}) == "boss"
    assert assignment.approver_field({"candidateUsers": "${boss}"}) == "boss"
    assert assignment.approver_field({"assignee": "${a.b}"}) is None
    assert assignment.approver_field({"approvers": "picked:x", "assignee": "${boss}"}) == "x"


def test_process_admins_come_from_package_yaml():
    assert assignment.process_admins_of({"admins": ["alice", 3, "", "bob"]}) == ["alice", "bob"]
    assert assignment.process_admins_of({}) == []
    assert admins_problems(None) == []
    assert admins_problems("alice") == ["`admins` must be a list of usernames"]


# -- deploy-time checks --------------------------------------------------------------------------------------------

def test_rule_problems_without_a_database_checks_syntax_and_options():
    assert rule_problems(None, {"form": "x"}) == []
    assert rule_problems(None, {"approvers": "manager:2", "approversEmpty": "skip", "selfApproval": "skip"}) == []
    assert rule_problems(None, {"approvers": "manager:x"}) == [
        ("error", "liaison:approvers `manager:x`: `manager:x`: the level must be a whole number from 1 to 20 "
                  "(1 is the direct manager)")]
    assert rule_problems(None, {"approvers": "initiator", "approversEmpty": "ignore", "selfApproval": "deny"}) == [
        ("error", "liaison:approversEmpty `ignore` must be fail or skip or admin")]
    assert rule_problems(None, {"approvers": "initiator", "selfApproval": "deny"}) == [
        ("error", "liaison:selfApproval `deny` must be allow or skip or manager")]
    assert rule_problems(None, {"selfApproval": "skip"}) == [
        ("warning", "liaison:approversEmpty and liaison:selfApproval have no effect without liaison:approvers, "
                    "liaison:assignee or liaison:candidateUsers")]
    assert rule_problems(None, {"selfApproval": "skip", "assignee": "${manager}"}) == []
    assert rule_problems(None, {"approvers": "initiator", "assignee": "bob", "candidateGroups": ["hr"]}) == [
        ("error", "liaison:approvers `initiator` and liaison:assignee, liaison:candidateGroups both say who gets "
                  "the task: keep one")]


def test_picked_field_must_be_on_the_start_form():
    fields = {"approver": "user", "amount": "money"}
    assert rule_problems(None, {"approvers": "picked:approver"}, start_fields=fields) == []
    assert rule_problems(None, {"approvers": "picked:boss"}, start_fields=fields) == [
        ("error", "liaison:approvers `picked:boss`: the start form has no field `boss` (its fields: amount, approver)")]
    assert rule_problems(None, {"approvers": "picked:amount"}, start_fields=fields) == [
        ("warning", "liaison:approvers `picked:amount`: field `amount` is a money field, not a user picker")]
    assert rule_problems(None, {"approvers": "picked:boss"}, start_fields=None) == []  # no start form known


def test_deploy_warnings_name_what_the_org_chart_does_not_know(chart):
    def problems(text):
        with chart() as session:
            return [message for _severity, message in rule_problems(session, {"approvers": text})]

    assert problems("users:cfo,gone,nobody") == ["liaison:approvers `users:cfo,gone,nobody`: `gone` is not active",
                                                 "liaison:approvers `users:cfo,gone,nobody`: no person with "
                                                 "username `nobody`"]
    assert problems("role:finance,nope,ghost,nobody_holds") == [
        "liaison:approvers `role:finance,nope,ghost,nobody_holds`: no role `nope`",
        "liaison:approvers `role:finance,nope,ghost,nobody_holds`: no active person holds role `ghost`",
        "liaison:approvers `role:finance,nope,ghost,nobody_holds`: no active person holds role `nobody_holds`"]
    assert problems("department:NOPE+") == ["liaison:approvers `department:NOPE+`: no department with code `NOPE`"]
    assert problems("department:EMPTY") == []
    assert problems("department_head:EMPTY") == ["liaison:approvers `department_head:EMPTY`: "
                                                 "department `EMPTY` has no head"]
    assert problems("manager:4") == []
    assert problems("manager:5") == ["liaison:approvers `manager:5`: the deepest reporting line has 4 levels"]
    assert problems("initiator") == problems("picked:x") == problems("department_head") == []
    with chart() as session:
        assert {severity for severity, _ in rule_problems(session, {"approvers": "users:nobody"})} == {"warning"}


def test_manager_depth_warning_on_an_empty_org_chart(sessions):
    with sessions() as session:
        assert rule_problems(session, {"approvers": "manager"}) == [
            ("warning", "liaison:approvers `manager`: the deepest reporting line has 0 levels")]


# -- the package loader --------------------------------------------------------------------------------------------

def _approval_package(tmp_path, approvers: str, extra: str = "", meta: dict | None = None):
    body = (f'<bpmn:startEvent id="start" liaison:form="request"/>'
            f'<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="approve"/>'
            f'<bpmn:userTask id="approve" liaison:approvers="{approvers}" {extra}/>'
            f'<bpmn:sequenceFlow id="f2" sourceRef="approve" targetRef="end"/>'
            f'<bpmn:endEvent id="end"/>')
    folder = write_package(tmp_path, "approval", {"approval": body}, meta=meta)
    (folder / "forms" / "request.yaml").write_text(yaml.safe_dump({"fields": [
        {"name": "approver", "type": "user", "label": {"zh": "审批人", "en": "Approver"}},
        {"name": "amount", "type": "money", "label": {"zh": "金额", "en": "Amount"}}]}))
    return folder


def test_a_package_with_a_valid_rule_loads(tmp_path):
    package = packages.load_package(_approval_package(tmp_path, "picked:approver", 'liaison:selfApproval="skip"',
                                                      meta={"admins": ["root"]}))
    assert package.meta["admins"] == ["root"]


@pytest.mark.parametrize("approvers, extra, message", [
    ("manager:0", "", "approve: liaison:approvers `manager:0`: `manager:0`: the level must be a whole number "
                      "from 1 to 20 (1 is the direct manager)"),
    ("picked:boss", "", "approve: liaison:approvers `picked:boss`: the start form has no field `boss` "
                        "(its fields: amount, approver)"),
    ("initiator", 'liaison:approversEmpty="never"', "approve: liaison:approversEmpty `never` must be fail or "
                                                    "skip or admin"),
])
def test_the_package_loader_refuses_bad_rules_with_the_element(tmp_path, approvers, extra, message):
    with pytest.raises(InvalidPackageError) as caught:
        packages.load_package(_approval_package(tmp_path, approvers, extra))
    assert any(str(problem).endswith(message) for problem in caught.value.problems), caught.value.problems


def test_the_package_loader_refuses_malformed_admins(tmp_path):
    with pytest.raises(InvalidPackageError, match="`admins` must be a list of usernames"):
        packages.load_package(_approval_package(tmp_path, "initiator", meta={"admins": "root"}))

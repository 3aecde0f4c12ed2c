"""The web inbox's read side: to-do with claimable pool tasks, claiming, done, my requests, counts, CSV."""

from __future__ import annotations

import csv
import io
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from engine import runtime
from engine.data import db, store
from engine.data.models import HistoryEntry, Person, utcnow
from engine.errors import NotPermittedError, TaskConflictError
from engine.runtime import operations
from engine.work import inbox
from tests.engine.conftest import flow, write_package

TASK = ('<bpmn:userTask id="{id}" name="{name}" liaison:assignee="${{assignee}}" '
        'liaison:candidateUsers="${{cand_users}}" liaison:candidateGroups="${{cand_groups}}" '
        'liaison:dueDate="${{due}}"/>')


def _body(task_name: str) -> str:
    return "\n".join(['<bpmn:startEvent id="start"/>', flow("start", "approve"),
                      TASK.format(id="approve", name=task_name), flow("approve", "end"),
                      '<bpmn:endEvent id="end"/>'])


@pytest.fixture
def deployed(tmp_path, deploy_package):
    deploy_package(write_package(tmp_path, "leave", {"leave": _body("经理审批")},
                                 meta={"name": {"zh": "请假申请", "en": "Leave Request"}}))
    deploy_package(write_package(tmp_path, "expense", {"expense": _body("Finance check")},
                                 meta={"name": {"zh": "费用报销", "en": "Expense Claim"}}))


def _start(sessions, key="leave", *, initiator="zhang", business_key=None, assignee=None, users=(), groups=(),
           due=None) -> str:
    """Start an instance whose single task goes to `assignee` and/or the candidates; returns the task id."""
    data = {"assignee": assignee, "cand_users": list(users), "cand_groups": list(groups),
            "due": due.isoformat() if due else None}
    started = runtime.start_instance(sessions, key, data, user=initiator, business_key=business_key)
    return started.open_tasks[0]["id"]


def _todo(sessions, user, groups=(), **filters):
    with sessions() as session:
        return inbox.todo(session, user, groups, **filters)


def _ids(page):
    return [item.task_id for item in page.items]


def test_todo_lists_assigned_and_claimable_tasks_newest_first(sessions, deployed):
    mine = _start(sessions, assignee="li", business_key="QJ-001")
    pooled = _start(sessions, "expense", groups=("finance",), business_key="BX-001")
    named = _start(sessions, users=("li", "wang"))
    page = _todo(sessions, "li", ("finance",))
    assert _ids(page) == [named, pooled, mine] and page.total == 3
    by_id = {item.task_id: item for item in page.items}
    assert [by_id[t].offered for t in (mine, pooled, named)] == [False, True, True]
    first = by_id[mine]
    assert (first.process_key, first.task_name) == ("leave", "经理审批")
    assert first.process_name == {"zh": "请假申请", "en": "Leave Request"}
    assert (first.initiator, first.business_key, first.due_at) == ("zhang", "QJ-001", None)
    assert first.process_label("en") == "Leave Request" and by_id[pooled].process_label("zh") == "费用报销"


def test_tasks_of_others_never_appear(sessions, deployed):
    _start(sessions, assignee="wang")
    _start(sessions, groups=("hr",))
    _start(sessions, users=("wang",))
    claimed = _start(sessions, groups=("finance",))
    runtime.claim_task(sessions, claimed, "wang", ("finance",))
    handled = _start(sessions, assignee="li")
    runtime.complete_task(sessions, handled, "li", {})
    page = _todo(sessions, "li", ("finance",))
    assert page.items == [] and page.total == 0
    with sessions() as session:
        assert inbox.counts(session, "li", ("finance",)) == {"todo": 0, "offered": 0, "overdue": 0,
                                                            "requests_running": 0}
        assert inbox.done(session, "wang").total == 0
        assert inbox.my_requests(session, "li").total == 0


def test_claimed_task_leaves_the_pool_and_stays_with_the_claimer(sessions, deployed):
    task = _start(sessions, groups=("finance",))
    runtime.claim_task(sessions, task, "li", ("finance",))
    assert [(i.task_id, i.offered) for i in _todo(sessions, "li", ("finance",)).items] == [(task, False)]
    assert _todo(sessions, "qian", ("finance",)).items == []
    runtime.claim_task(sessions, task, "li", ("finance",))  # claiming again changes nothing
    with sessions() as session:
        history = session.execute(select(HistoryEntry.actor, HistoryEntry.action, HistoryEntry.task_id)
                                  .where(HistoryEntry.action == "claimed")).all()
    assert history == [("li", "claimed", task)]
    runtime.complete_task(sessions, task, "li", {}, groups=("finance",))
    with sessions() as session:
        assert _ids(inbox.done(session, "li")) == [task]


def test_second_claimer_is_told_who_claimed_first(sessions, deployed):
    task = _start(sessions, groups=("finance",))
    runtime.claim_task(sessions, task, "li", ("finance",))
    with pytest.raises(TaskConflictError, match="already claimed by li"):
        runtime.claim_task(sessions, task, "qian", ("finance",))


def test_claiming_a_task_not_offered_to_me_is_refused(sessions, deployed):
    pooled = _start(sessions, groups=("hr",))
    assigned = _start(sessions, assignee="wang", groups=("finance",))
    with pytest.raises(NotPermittedError):
        runtime.claim_task(sessions, pooled, "li", ("finance",))
    with pytest.raises(TaskConflictError, match="already claimed by wang"):
        runtime.claim_task(sessions, assigned, "li", ("finance",))


def test_unclaim_gives_the_task_back_to_the_pool_only_by_the_claimer(sessions, deployed):
    task = _start(sessions, groups=("finance",))
    direct = _start(sessions, assignee="li", groups=("finance",))
    runtime.claim_task(sessions, task, "li", ("finance",))
    with pytest.raises(NotPermittedError):
        runtime.unclaim_task(sessions, task, "qian")
    with pytest.raises(NotPermittedError, match="not claimed from a pool"):
        runtime.unclaim_task(sessions, direct, "li")
    runtime.unclaim_task(sessions, task, "li")
    assert [(i.task_id, i.offered) for i in _todo(sessions, "qian", ("finance",)).items] == [(task, True)]
    runtime.claim_task(sessions, task, "qian", ("finance",))
    assert _ids(_todo(sessions, "qian", ("finance",))) == [task]


def test_pages_split_the_list_without_overlap(sessions, deployed):
    tasks = [_start(sessions, assignee="li") for _ in range(5)] + [_start(sessions, groups=("g",))
                                                                    for _ in range(2)]
    pages = [_todo(sessions, "li", ("g",), page=n, per_page=3) for n in (1, 2, 3, 4)]
    assert [p.total for p in pages] == [7, 7, 7, 7] and pages[0].pages == 3
    assert [_ids(p) for p in pages] == [tasks[::-1][0:3], tasks[::-1][3:6], tasks[::-1][6:], []]


def test_filters_by_process_initiator_creation_time_and_overdue(sessions, deployed):
    now = utcnow()
    late = _start(sessions, assignee="li", initiator="zhang", due=now - timedelta(hours=1))
    soon = _start(sessions, "expense", assignee="li", initiator="zhao", due=now + timedelta(hours=3))
    later = _start(sessions, groups=("g",), initiator="zhang", due=now + timedelta(days=3))
    assert _ids(_todo(sessions, "li", ("g",), process="expense")) == [soon]
    assert _ids(_todo(sessions, "li", ("g",), initiator="zhang")) == [later, late]
    assert _ids(_todo(sessions, "li", ("g",), overdue=True)) == [late]
    assert _ids(_todo(sessions, "li", ("g",), overdue=False)) == [later, soon]
    created = {i.task_id: i.created_at for i in _todo(sessions, "li", ("g",)).items}
    window = {"created_from": created[soon], "created_to": created[later]}
    assert _ids(_todo(sessions, "li", ("g",), **window)) == [soon]
    flags = {i.task_id: (i.overdue, i.due_soon) for i in _todo(sessions, "li", ("g",), now=now).items}
    assert flags == {late: (True, False), soon: (False, True), later: (False, False)}
    in_two_days = _todo(sessions, "li", ("g",), now=now + timedelta(days=2)).items
    two_days_on = {i.task_id: i.overdue for i in in_two_days}
    assert two_days_on == {late: True, soon: True, later: False}


@pytest.mark.parametrize("text, expected", [
    ("请假", ["leave"]), ("leave req", ["leave"]), ("EXPENSE claim", ["expense"]), ("经理", ["leave"]),
    ("finance CHECK", ["expense"]), ("bx-2026", ["expense"]), ("ZHAO", ["expense"]), ("合同", []),
    ("100%", ["leave"]), ("%", ["leave"]), ("_", []),
])
def test_search_matches_process_task_business_key_and_initiator_case_insensitively(sessions, deployed, text,
                                                                                     expected):
    _start(sessions, assignee="li", initiator="zhang", business_key="QJ-100%")
    _start(sessions, "expense", groups=("g",), initiator="zhao", business_key="BX-2026-7")
    _start(sessions, "expense", assignee="wang", initiator="zhao", business_key="BX-2026-8")  # not li's
    assert [i.process_key for i in _todo(sessions, "li", ("g",), search=text).items] == expected
    assert _todo(sessions, "li", ("g",), search=text).total == len(expected)


@pytest.mark.parametrize("text, expected", [
    ("赵六", ["expense"]), ("zhao liu", ["expense"]), ("张", ["leave"]), ("San", ["leave"]), ("赵 六", []),
    ("王五", []),  # wang started nothing li sees
])
def test_search_matches_the_initiators_display_name_in_either_language(sessions, deployed, text, expected):
    with sessions() as session, session.begin():
        session.add_all([Person(username="zhang", name="张三", name_en="Zhang San"),
                         Person(username="zhao", name="赵六", name_en="Zhao Liu"),
                         Person(username="wang", name="王五", name_en="Wang Wu")])
    _start(sessions, assignee="li", initiator="zhang", business_key="QJ-1")
    done = _start(sessions, "expense", assignee="li", initiator="zhao", business_key="BX-1")
    _start(sessions, "expense", groups=("g",), initiator="zhao", business_key="BX-2")
    _start(sessions, assignee="zhang", initiator="wang")  # not li's
    runtime.complete_task(sessions, done, "li", {})
    found = _todo(sessions, "li", ("g",), search=text)
    assert [i.process_key for i in found.items] == expected and found.total == len(expected)
    with sessions() as session:
        completed = inbox.done(session, "li", search=text)
    assert [i.task_id for i in completed.items] == ([done] if expected == ["expense"] else [])


@pytest.mark.parametrize("text, expected", [
    ("参加考核", ["course"]), ("考核", ["course"]), ("TAKE the", ["course"]), ("参加考试", []), ("经理", ["leave"]),
])
def test_search_finds_a_task_by_the_name_its_package_gives_it_in_any_language(sessions, deployed, tmp_path,
                                                                              deploy_package, text, expected):
    """The lists show package.yaml's name ("参加考核" for a task drawn as "Take the assessment"): search finds it."""
    deploy_package(write_package(tmp_path / "course", "course", {"course": _body("Take the assessment")},
                                 meta={"names": {"approve": {"zh": "参加考核", "en": "Take the assessment"}}}))
    _start(sessions, assignee="li", initiator="zhang")
    course = _start(sessions, "course", assignee="li", initiator="hu")
    _start(sessions, "course", assignee="wang", initiator="hu")  # not li's
    found = _todo(sessions, "li", search=text)
    assert [i.process_key for i in found.items] == expected and found.total == len(expected)
    runtime.complete_task(sessions, course, "li", {})
    with sessions() as session:
        assert [i.task_id for i in inbox.done(session, "li", search=text).items] == (
            [course] if expected == ["course"] else [])


def test_counts_for_the_navigation(sessions, deployed):
    now = utcnow()
    _start(sessions, assignee="li", due=now - timedelta(days=1))
    _start(sessions, assignee="li")
    _start(sessions, groups=("g",), due=now - timedelta(minutes=5))
    _start(sessions, users=("li",))
    _start(sessions, assignee="wang", initiator="li")
    finished = _start(sessions, assignee="wang", initiator="li")
    runtime.complete_task(sessions, finished, "wang", {})
    with sessions() as session:
        numbers = inbox.counts(session, "li", ("g",))
        assert numbers == {"todo": 4, "offered": 2, "overdue": 2, "requests_running": 1}
        assert numbers["todo"] == inbox.todo(session, "li", ("g",)).total


def test_my_requests_shows_status_and_where_each_request_waits(sessions, deployed):
    _start(sessions, assignee="wang", initiator="li", business_key="QJ-7")
    _start(sessions, "expense", groups=("finance",), initiator="li")
    finished = _start(sessions, assignee="wang", initiator="li")
    runtime.complete_task(sessions, finished, "wang", {})
    _start(sessions, assignee="li", initiator="zhang")
    with sessions() as session:
        page = inbox.my_requests(session, "li")
        running = inbox.my_requests(session, "li", "running")
        found = inbox.my_requests(session, "li", search="报销")
    assert page.total == 3 and [i.status for i in page.items] == ["completed", "running", "running"]
    done_item, pooled_item, waiting_item = page.items
    assert (done_item.current_tasks, done_item.ended_at is not None) == ([], True)
    assert (pooled_item.current_tasks, pooled_item.current_assignees) == (["Finance check"], [])
    assert (waiting_item.current_tasks, waiting_item.current_assignees) == (["经理审批"], ["wang"])
    assert (waiting_item.business_key, waiting_item.process_name["zh"]) == ("QJ-7", "请假申请")
    assert [i.instance_id for i in running.items] == [pooled_item.instance_id, waiting_item.instance_id]
    assert [i.process_key for i in found.items] == ["expense"]


def test_done_lists_what_the_user_completed_most_recent_first(sessions, deployed):
    first = _start(sessions, assignee="li", due=utcnow() - timedelta(hours=1))
    second = _start(sessions, "expense", groups=("g",))
    other = _start(sessions, assignee="wang")
    runtime.complete_task(sessions, first, "li", {})
    runtime.complete_task(sessions, second, "li", {}, groups=("g",))
    runtime.complete_task(sessions, other, "wang", {})
    with sessions() as session:
        page = inbox.done(session, "li")
        expenses = inbox.done(session, "li", process="expense")
    assert _ids(page) == [second, first] and page.total == 2
    assert [i.overdue for i in page.items] == [False, True]  # the first was completed after its due time
    assert all(i.completed_at is not None for i in page.items)
    assert _ids(expenses) == [second]


def test_done_lists_what_the_user_transferred_once_with_to_whom(sessions, deployed):
    """已转交 under 已处理: a task li transferred is in her done list, by the time she handed it over, with
    the new holder's display name; one she got back and completed is listed once, as completed."""
    with sessions() as session, session.begin():
        session.add_all([Person(username="li", name="李四", locale="zh"),
                         Person(username="wang", name="王五", locale="zh", name_en="Wang Wu")])
    passed_on = _start(sessions, assignee="li")
    returned = _start(sessions, "expense", assignee="li")
    operations.transfer(sessions, passed_on, "wang", actor="li")
    operations.transfer(sessions, returned, "wang", actor="li")
    operations.transfer(sessions, returned, "li", actor="wang")
    runtime.complete_task(sessions, returned, "li", {})
    with sessions() as session:
        page = inbox.done(session, "li", lang="zh")
        leaves = inbox.done(session, "li", process="leave", lang="en")
        expenses = inbox.done(session, "li", process="expense")
        wangs = inbox.done(session, "wang")
    assert _ids(page) == [returned, passed_on] and page.total == 2
    assert [(i.transferred_to, i.transferred_to_name) for i in page.items] == [(None, None), ("wang", "王五")]
    assert page.items[1].completed_at is not None and page.items[1].decision is None
    assert [(i.task_id, i.transferred_to_name) for i in leaves.items] == [(passed_on, "Wang Wu")]
    assert _ids(expenses) == [returned]
    assert _ids(wangs) == [returned]  # wang transferred it back: he never completed it, li did
    zh_rows = list(csv.reader(io.StringIO(inbox.export_csv(page.items, lang="zh")[1:])))
    assert [row[6] for row in zh_rows[1:]] == ["已完成", "已转交"]


def test_csv_export_has_a_bom_localized_columns_and_no_formulas(sessions, deployed):
    _start(sessions, assignee="li", business_key="=HYPERLINK(1)", due=utcnow() - timedelta(hours=1))
    items = _todo(sessions, "li").items
    zh = inbox.export_csv(items, lang="zh", timezone="Asia/Shanghai")
    en = inbox.export_csv(items, lang="en", timezone="UTC")
    assert zh.startswith("\ufeff") and zh.encode("utf-8").startswith(b"\xef\xbb\xbf")
    zh_rows = list(csv.reader(io.StringIO(zh[1:])))
    en_rows = list(csv.reader(io.StringIO(en[1:])))
    assert zh_rows[0][:7] == ["流程", "任务", "发起人", "业务编号", "创建时间", "截止时间", "状态"]
    assert en_rows[0][:7] == ["Process", "Task", "Initiator", "Business key", "Created", "Due", "State"]
    assert zh_rows[1][:4] == ["请假申请", "经理审批", "zhang", "'=HYPERLINK(1)"] and zh_rows[1][6] == "已逾期"
    assert en_rows[1][0] == "Leave Request" and en_rows[1][6] == "Overdue"
    created = items[0].created_at
    assert en_rows[1][4] == created.strftime("%Y-%m-%d %H:%M")
    assert zh_rows[1][4] == (created + timedelta(hours=8)).strftime("%Y-%m-%d %H:%M")
    with sessions() as session:
        requests = inbox.export_csv(inbox.my_requests(session, "zhang").items, lang="en")
    request_row = list(csv.reader(io.StringIO(requests[1:])))[1]
    assert request_row[:5] == ["Leave Request", "'=HYPERLINK(1)", "Running", "Running", "经理审批"]  # status, outcome


def test_two_threads_claiming_at_once_exactly_one_wins(database_url, deploy_package, monkeypatch, tmp_path):
    deploy_package(write_package(tmp_path, "leave", {"leave": _body("经理审批")}))
    sessions = db.make_session_factory(db.make_engine(database_url))
    task = _start(sessions, groups=("finance",))
    barrier = threading.Barrier(2, timeout=30)
    real_handle = store.task_handle

    def handle_then_wait(conn, task_id):
        handle = real_handle(conn, task_id)
        if not getattr(local, "waited", False):
            local.waited = True
            barrier.wait()  # both have seen the task unclaimed before either updates it
        return handle

    local = threading.local()
    monkeypatch.setattr(store, "task_handle", handle_then_wait)
    winners, conflicts, lock = [], [], threading.Lock()

    def claim(user):
        try:
            own_sessions = db.make_session_factory(db.make_engine(database_url))
            runtime.claim_task(own_sessions, task, user, ("finance",))
            with lock:
                winners.append(user)
        except TaskConflictError as exc:
            with lock:
                conflicts.append(str(exc))

    threads = [threading.Thread(target=claim, args=(user,)) for user in ("li", "qian")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(winners) == 1 and len(conflicts) == 1
    assert f"already claimed by {winners[0]}" in conflicts[0]
    with sessions() as session:
        claims = session.scalars(select(HistoryEntry.actor).where(HistoryEntry.action == "claimed")).all()
        assert claims == winners
        assert [i.task_id for i in inbox.todo(session, winners[0], ("finance",)).items] == [task]


def test_cli_list_and_web_inbox_agree_on_a_pool_task_claimed_by_someone_else(sessions, deployed, database_url):
    from engine.work import queries
    from tests.cli.test_cli import as_json

    pooled = _start(sessions, "expense", groups=("finance",))
    runtime.claim_task(sessions, pooled, "qian", ("finance",))
    with sessions() as session:
        for user, expected in (("sun", []), ("qian", [pooled])):
            assert _ids(inbox.todo(session, user, ("finance",))) == expected
            assert [t.id for t in queries.list_tasks(session, user, ("finance",))] == expected
    if database_url.startswith("sqlite"):  # the command itself, once
        assert as_json("tasks", "--as", "sun", "--group", "finance", url=database_url) == []
        assert [t["id"] for t in as_json("tasks", "--as", "qian", "--group", "finance", url=database_url)] == [pooled]

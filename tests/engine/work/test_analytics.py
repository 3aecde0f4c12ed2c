"""Process analytics (issue 19): a known history through a process with a review, a gateway and a 会签
node, refreshed into the summary tables; every number checked by hand and against SQL on the source."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, text

from engine.data.analytics_models import AnalyticsInstance, AnalyticsNodeVisit, AnalyticsWatermark
from engine.data.models import (
    ApprovalItem,
    Department,
    HistoryEntry,
    Person,
    ProcessDefinition,
    ProcessInstance,
    ProcessVersion,
    WorkTask,
)
from engine.packages.designer_access import analysable_keys
from engine.work import analytics

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
NOW = T0 + timedelta(days=3)
H = 3600


def _instance(session, iid, started, status="running", ended=None, end_event=None, initiator="zhang"):
    session.add(ProcessInstance(id=iid, version_id=1, process_key="sign_off", status=status, initiator=initiator,
                                state="{}", created_at=started, updated_at=started, ended_at=ended,
                                end_event=end_event))
    session.flush()
    session.add(HistoryEntry(instance_id=iid, at=started, actor=initiator, action="started"))


def _task(session, tid, iid, element, entered, left=None, by=None, status=None, assignee=None, due=None):
    session.add(WorkTask(id=tid, instance_id=iid, element_id=element, assignee=assignee or by, due_at=due,
                         status=status or ("completed" if left else "open"), completed_by=by,
                         created_at=entered, completed_at=left))
    session.flush()


def _history(sessions):
    """Five instances of `sign_off` (review -> gateway -> countersign 会签):
    1 approved (review 1 h, countersign 4 h), 2 rejected at the countersign (review 3 h, countersign 8 h),
    3 waiting at the countersign since T0+2d+2h (due T0+2d+4h), 4 withdrawn at review, 5 waiting at review."""
    with sessions.begin() as s:
        s.add_all([Department(id=1, code="rd", name="研发部", name_en="R&D", path="/1/"),
                   Department(id=2, code="hr", name="人事部", name_en="HR", path="/2/")])
        s.flush()
        s.add_all([Person(username="li", name="李", department_id=1), Person(username="zhang", name="张", department_id=1),
                   Person(username="wang", name="王", department_id=1), Person(username="hu", name="胡", department_id=2)])
        s.add(ProcessDefinition(id=1, key="sign_off", name={"zh": "会签", "en": "Sign-off"}, category="admin"))
        s.add(ProcessDefinition(id=2, key="other", name={"zh": "其他", "en": "Other"}, category="hr"))
        s.flush()
        s.add(ProcessVersion(id=1, definition_id=1, number=1, process_id="sign_off", checksum="x",
                             package={"meta": {"admins": ["wang"]}}, bpmn={}, spec_json="{}"))
        s.add(ProcessVersion(id=2, definition_id=2, number=1, process_id="other", checksum="y",
                             package={"meta": {}}, bpmn={}, spec_json="{}"))
        s.flush()
        _instance(s, 1, T0, "completed", T0 + timedelta(hours=5), "approved_end")
        _instance(s, 2, T0 + timedelta(days=1), "completed", T0 + timedelta(days=1, hours=11), "rejected_end",
                  initiator="hu")
        _instance(s, 3, T0 + timedelta(days=2))
        _instance(s, 4, T0 + timedelta(days=2), "cancelled", T0 + timedelta(days=2, hours=1))
        _instance(s, 5, T0 + timedelta(days=2, hours=1))
        s.flush()
        _task(s, "r1", 1, "review", T0, T0 + timedelta(hours=1), "li")
        _task(s, "c1", 1, "countersign", T0 + timedelta(hours=1), T0 + timedelta(hours=5), "wang")
        d2 = T0 + timedelta(days=1)
        _task(s, "r2", 2, "review", d2, d2 + timedelta(hours=3), "li")
        _task(s, "c2", 2, "countersign", d2 + timedelta(hours=3), d2 + timedelta(hours=11), "wang")
        d3 = T0 + timedelta(days=2)
        _task(s, "r3", 3, "review", d3, d3 + timedelta(hours=2), "li")
        _task(s, "c3", 3, "countersign", d3 + timedelta(hours=2), assignee="wang", due=d3 + timedelta(hours=4))
        _task(s, "r4", 4, "review", d3, d3 + timedelta(hours=1), status="cancelled", assignee="li")
        _task(s, "r5", 5, "review", d3 + timedelta(hours=1), assignee="li")
        s.flush()
        for task, iid, signer, status in [("c1", 1, "zhang", "approved"), ("c1", 1, "wang", "approved"),
                                          ("c2", 2, "zhang", "approved"), ("c2", 2, "wang", "rejected"),
                                          ("c3", 3, "zhang", "approved"), ("c3", 3, "wang", "open")]:
            s.add(ApprovalItem(id=f"{task}-{signer}", task_id=task, instance_id=iid, signer=signer, position=0,
                               status=status))
        s.add(HistoryEntry(instance_id=4, at=d3 + timedelta(hours=1), actor="zhang", action="withdrawn"))


def test_refresh_is_incremental_and_idempotent_and_every_number_matches(sessions):
    _history(sessions)
    assert analytics.refresh(sessions, batch=4) == 5 + 1  # instance 4's two rows fall in two batches
    assert analytics.refresh(sessions) == 0
    with sessions() as s:
        statuses = dict(s.execute(select(AnalyticsInstance.instance_id, AnalyticsInstance.status)).all())
        assert statuses == {1: "completed", 2: "rejected", 3: "running", 4: "withdrawn", 5: "running"}
        assert s.scalar(select(func.count()).select_from(AnalyticsNodeVisit)) == s.scalar(
            select(func.count()).select_from(WorkTask))
        counts = analytics.instance_counts(s, None, "sign_off")
        assert counts["periods"] == ["2026-11-02", "2026-11-03", "2026-11-04"]
        assert counts["rows"]["2026-11-04"] == {"started": 3, "running": 2, "finished": 1, "withdrawn": 1}
        by_sql = dict(s.execute(text("SELECT status, count(*) FROM process_instance GROUP BY status")).all())
        assert sum(r["started"] for r in counts["rows"].values()) == sum(by_sql.values())
        assert sum(r.get("running", 0) for r in counts["rows"].values()) == by_sql["running"]
        assert counts["cycle_median"] == 8 * H and counts["cycle_p90"] == 5 * H + 0.9 * 6 * H
        assert counts["approval_rate"] == 50.0
        assert analytics.instance_counts(s, None, "sign_off", period="month")["rows"]["2026-11"]["started"] == 5
        assert analytics.instance_counts(s, None, "sign_off", department_id=2)["rows"] == {
            "2026-11-03": {"started": 1, "finished": 1, "rejected": 1}}

        nodes = analytics.node_stats(s, None, "sign_off", now=NOW)
        assert [n["element_id"] for n in nodes] == ["countersign", "review"]
        countersign, review = nodes
        assert (countersign["median"], countersign["waiting"], countersign["oldest"]) == (6 * H, 1, 22 * H)
        assert (review["median"], review["p90"], review["waiting"], review["oldest"]) == (2 * H, 10080, 1, 23 * H)
        waits = [r[0] for r in s.execute(text(
            "SELECT completed_at, created_at FROM work_task WHERE element_id = 'review' AND status = 'completed'"))]
        assert len(waits) == review["finished"] == 3
        heat = analytics.heat(nodes)
        assert heat["countersign"]["level"] == 4 and heat["review"]["level"] == 1

        overdue = analytics.overdue_now(s, None, now=NOW)
        assert [(o["instance_id"], o["waits_for"], o["overdue_seconds"]) for o in overdue] == [(3, "wang", 20 * H)]
        assert len(overdue) == s.scalar(text("SELECT count(*) FROM work_task WHERE status = 'open' AND due_at < :now"),
                                        {"now": NOW})
        load = analytics.workload(s, None)
        assert load["open_by_person"] == {"wang": 1, "li": 1} or load["open_by_person"] == {"li": 1, "wang": 1}
        assert load["open_by_department"] == {1: 2}
        assert load["median_to_act"] == {"li": 2 * H, "wang": 6 * H}

        prediction = analytics.expected_finish(s, 3, now=NOW)
        assert prediction["median_remaining"] == 6 * H  # (4 h + 8 h) / 2 from entering the countersign
        assert prediction["finish"] == NOW + timedelta(hours=6) and prediction["late"]
        assert analytics.expected_finish(s, 1, now=NOW) is None

    with sessions.begin() as s:  # instance 5's review is done: one new history row rebuilds only instance 5
        task = s.get(WorkTask, "r5")
        task.status, task.completed_by, task.completed_at = "completed", "li", NOW
        s.add(HistoryEntry(instance_id=5, at=NOW, actor="li", action="task_completed", element_id="review"))
    assert analytics.refresh(sessions) == 1
    with sessions() as s:
        assert s.get(AnalyticsNodeVisit, "r5").wait_seconds == int((NOW - (T0 + timedelta(days=2, hours=1)))
                                                                   .total_seconds())
        assert s.get(AnalyticsWatermark, "history").history_id == s.scalar(select(func.max(HistoryEntry.id)))


def test_scope_super_admin_all_process_admin_theirs_others_none(sessions):
    _history(sessions)
    analytics.refresh(sessions)
    with sessions() as s:
        assert analysable_keys(s, "wang") == {"sign_off"}
        assert analysable_keys(s, "hu") == set()
        assert analytics.node_stats(s, set(), "sign_off") == []
        assert analytics.overdue_now(s, {"other"}, now=NOW) == []

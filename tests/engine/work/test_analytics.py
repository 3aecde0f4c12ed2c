"""Process analytics (issue 19): a known history through a process with a review, a gateway and a 会签
node, refreshed into the summary tables; every number checked by hand and against SQL on the source."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, text, update

from engine.data.analytics_models import AnalyticsInstance, AnalyticsNodeVisit, AnalyticsWatermark
from engine.data.models import (
    ApprovalItem,
    HistoryEntry,
    Person,
    WorkTask,
)
from engine.packages.designer_access import analysable_keys
from engine.work import analytics, analytics_views
from tests.engine.work.analytics_history import NOW, T0, H, build


def test_refresh_is_incremental_and_idempotent_and_every_number_matches(sessions):
    build(sessions)
    assert analytics.refresh(sessions, batch=2) == 5  # the first refresh: every instance
    assert analytics.refresh(sessions) == 0
    with sessions.begin() as s:  # two new history rows of instance 3 and one of 5, read one row a batch
        s.add_all([HistoryEntry(instance_id=i, at=NOW, action="urged") for i in (3, 5, 3)])
    assert analytics.refresh(sessions, batch=1) == 3
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
        assert analytics.instance_counts(s, None, "sign_off", period="week")["periods"] == ["2026-W45"]
        since = analytics.instance_counts(s, None, "sign_off", filters=analytics.Filters(
            since=T0 + timedelta(days=1), until=T0 + timedelta(days=2)))
        assert since["periods"] == ["2026-11-03"] and since["approval_rate"] == 0.0
        assert analytics.instance_counts(s, None, "sign_off", filters=analytics.Filters(initiator_departments=(2,)))["rows"] == {
            "2026-11-03": {"started": 1, "finished": 1, "rejected": 1}}

        nodes = analytics.node_stats(s, None, "sign_off", now=NOW)
        assert [n["element_id"] for n in nodes] == ["countersign", "review"]
        countersign, review = nodes
        assert (countersign["median"], countersign["waiting"], countersign["oldest"]) == (6 * H, 1, 22 * H)
        assert (review["median"], review["p90"], review["waiting"], review["oldest"]) == (2 * H, 10080, 1, 23 * H)
        waits = [r[0] for r in s.execute(text(
            "SELECT completed_at, created_at FROM work_task WHERE element_id = 'review' AND status = 'completed'"))]
        assert len(waits) == review["finished"] == 3
        assert analytics.sla(s, None, "sign_off") == [
            {"element_id": "countersign", "department_id": 1, "met": 0, "missed": 1},
            {"element_id": "review", "department_id": 1, "met": 1, "missed": 0}]
        assert s.scalar(text("SELECT count(*) FROM work_task WHERE status = 'completed' AND due_at IS NOT NULL "
                             "AND completed_at > due_at")) == 1
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
    build(sessions)
    analytics.refresh(sessions)
    with sessions() as s:
        assert analysable_keys(s, "admin") is None
        assert analysable_keys(s, "wang") == {"sign_off"}
        assert analysable_keys(s, "hu") == set()
        assert analytics.node_stats(s, set(), "sign_off") == []
        assert analytics.overdue_now(s, {"other"}, now=NOW) == []


def test_two_refreshes_at_once_take_turns_on_postgres(postgres_url):
    from concurrent.futures import ThreadPoolExecutor

    from engine.data import db

    engine = db.make_engine(postgres_url)
    sessions = db.make_session_factory(engine)
    try:
        build(sessions)
        with ThreadPoolExecutor(2) as pool:
            rebuilt = sorted(pool.map(lambda _: analytics.refresh(sessions), range(2)))
        assert rebuilt == [0, 5]  # the second waited for the first's lock and found nothing new
        with sessions() as s:
            assert s.scalar(select(func.count()).select_from(AnalyticsInstance)) == 5
    finally:
        engine.dispose()


def test_the_tables_list_people_in_pinyin_order(sessions):
    """The person rows of the workload and weekly tables (the page, its charts and its CSV / XLSX exports) go
    by the pinyin of the names, not by username: li renamed 赵 (zhao) comes after 王 (wang) and 张 (zhang)."""
    build(sessions)
    analytics.refresh(sessions)
    with sessions.begin() as s:
        s.scalar(select(Person).where(Person.username == "li")).name = "赵"
        s.execute(update(ApprovalItem).where(ApprovalItem.status != "open").values(decided_at=T0 + H * timedelta(seconds=1)))
    with sessions() as s:
        tables = analytics_views.tables(s, None, "sign_off", now=NOW)
    assert [r[0] for r in tables["workload_people"]["rows"]] == ["wang", "li"]
    weekly = tables["done_weekly"]["rows"]
    assert {r[1] for r in weekly} == {"li", "wang", "zhang"}
    for week in {r[0] for r in weekly}:
        people = [r[1] for r in weekly if r[0] == week]
        assert people == sorted(people, key=["wang", "zhang", "li"].index)


def test_periods_are_the_readers_days_and_weeks(sessions):
    """`Filters.zone` decides which day and ISO week a moment is in: in Pago Pago (UTC-11) the first request,
    started Monday 09:00 UTC, is Sunday's, and its review, done at 10:00 UTC, is week 44's; at UTC+14 the
    last request, started 10:00 UTC, is the next day's. Every other count stays the same."""
    from zoneinfo import ZoneInfo

    build(sessions)
    analytics.refresh(sessions)
    west, east = analytics.Filters(zone=ZoneInfo("Pacific/Pago_Pago")), analytics.Filters(zone=ZoneInfo("Pacific/Kiritimati"))
    with sessions() as s:
        utc = analytics.instance_counts(s, None, "sign_off")
        assert utc["periods"] == ["2026-11-02", "2026-11-03", "2026-11-04"]
        assert analytics.instance_counts(s, None, "sign_off", filters=west)["periods"] == [
            "2026-11-01", "2026-11-02", "2026-11-03"]
        late = analytics.instance_counts(s, None, "sign_off", filters=east)
        assert late["periods"] == ["2026-11-02", "2026-11-03", "2026-11-04", "2026-11-05"]
        assert late["rows"]["2026-11-05"] == {"started": 1, "running": 1}
        assert analytics.instance_counts(s, None, "sign_off", period="week", filters=west)["periods"] == [
            "2026-W44", "2026-W45"]
        weekly_utc = analytics.workload(s, None, "sign_off")["done_per_week"]
        weekly_west = analytics.workload(s, None, "sign_off", filters=west)["done_per_week"]
        assert set(weekly_utc) == {("li", "2026-W45")}  # the reviews (the 会签 has no decided signatures)
        assert weekly_west[("li", "2026-W44")] == 1 and weekly_west[("li", "2026-W45")] == weekly_utc[("li", "2026-W45")] - 1
        assert sum(weekly_west.values()) == sum(weekly_utc.values())

"""Process analytics over a history the engine itself wrote (issue 19): six requests of `sign_off` (review ->
gateway -> 会签 countersign -> gateway) run through `engine.runtime` with the clock moved, refreshed, and
every dashboard number, the new ones included, checked against SQL on the source tables and by hand."""

from __future__ import annotations

import statistics
from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from engine.packages.analytics_scope import may_analyse_any, scope_of
from engine.work import analytics, analytics_views
from engine.work.analytics import Filters
from tests.engine.work.analytics_runs import NOW, T0, H, run

FLOWS = {("start", "review"): "f_start", ("review", "ok"): "f_review", ("ok", "countersign"): "f_yes",
         ("ok", "rejected_end"): "f_no", ("countersign", "signed"): "f_cs", ("signed", "approved_end"): "f_cs_yes",
         ("signed", "cs_rejected"): "f_cs_no"}


def _sql(s, statement: str, **params) -> list:
    return s.execute(text(statement), params).all()


def _at(value) -> datetime:
    """A time as raw SQL returns it: a datetime on PostgreSQL, ISO text (UTC) on SQLite."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _seconds(start, end) -> int:
    return int((_at(end) - _at(start)).total_seconds())


def _inclusive_p90(values: list[int]) -> float:
    return statistics.quantiles(values, n=10, method="inclusive")[8]


def test_every_number_of_a_real_run_matches_sql_on_the_history(sessions, deploy_package, tmp_path, monkeypatch):
    ids = run(sessions, deploy_package, tmp_path, monkeypatch)
    assert analytics.refresh(sessions) == 6
    with sessions() as s:
        # volume, cycle time and its trend, approval rate
        counts = analytics.instance_counts(s, None, "sign_off")
        per_day = Counter(str(c)[:10] for (c,) in _sql(s, "SELECT created_at FROM process_instance"))
        assert {p: r["started"] for p, r in counts["rows"].items()} == per_day == {
            "2026-11-02": 1, "2026-11-03": 1, "2026-11-04": 4}
        assert counts["rows"]["2026-11-04"] == {"started": 4, "running": 2, "finished": 2, "withdrawn": 1, "rejected": 1}
        assert s.scalar(text("SELECT count(*) FROM history_entry WHERE action = 'withdrawn'")) == 1
        ended = _sql(s, "SELECT created_at, ended_at FROM process_instance WHERE status = 'completed' ORDER BY ended_at")
        cycles = [_seconds(a, b) for a, b in ended]
        assert cycles == [5 * H, 11 * H, 1 * H]
        assert counts["cycle_median"] == statistics.median(cycles) == 5 * H
        assert counts["cycle_p90"] == _inclusive_p90(cycles) == 9.8 * H
        rejected_by_sql = s.scalar(text("SELECT count(*) FROM process_instance WHERE status = 'completed' "
                                        "AND end_event IN ('rejected_end', 'cs_rejected')"))
        assert counts["approval_rate"] == round(100 * (len(cycles) - rejected_by_sql) / len(cycles), 1) == 33.3
        assert [(t["period"], t["median"], t["count"]) for t in counts["trend"]] == [
            (str(b)[:10], float(_seconds(a, b)), 1) for a, b in ended]
        weekly = analytics.instance_counts(s, None, "sign_off", period="week")["trend"]
        assert weekly == [{"period": "2026-W45", "median": 5.0 * H, "p90": 9.8 * H, "count": 3}]

        # waiting per node, the heat map, the prediction
        nodes = {n["element_id"]: n for n in analytics.node_stats(s, None, "sign_off", now=NOW)}
        for element in ("review", "countersign"):
            waits = [_seconds(a, b) for a, b in _sql(s, "SELECT created_at, completed_at FROM work_task WHERE "
                                                        "element_id = :e AND status = 'completed'", e=element)]
            assert nodes[element]["median"] == statistics.median(waits)
            assert nodes[element]["finished"] == len(waits)
            [(open_count,)] = _sql(s, "SELECT count(*) FROM work_task WHERE element_id = :e AND status = 'open'",
                                   e=element)
            assert nodes[element]["waiting"] == open_count == 1
        assert (nodes["countersign"]["median"], nodes["review"]["median"]) == (6 * H, 1.5 * H)
        assert nodes["countersign"]["oldest"] == 22 * H and nodes["review"]["oldest"] == 23 * H
        heat = analytics.heat(list(nodes.values()))
        assert heat["countersign"]["level"] == 4 and heat["review"]["level"] == 1
        prediction = analytics.expected_finish(s, ids[3], now=NOW)
        assert prediction["element_id"] == "countersign"
        assert prediction["median_remaining"] == statistics.median([4 * H, 8 * H]) == 6 * H  # 1 and 2, by hand
        assert prediction["finish"] == NOW + timedelta(hours=6) and prediction["late"]

        # the paths taken, against consecutive history rows (and the tasks the token reached)
        flows = analytics_views.path_frequencies(s, None, "sign_off", 1)
        pairs = _sql(s, "SELECT prev, cur, count(DISTINCT instance_id) FROM (SELECT instance_id, element_id AS cur, "
                        "LAG(element_id) OVER (PARTITION BY instance_id ORDER BY seq) AS prev FROM ("
                        "SELECT instance_id, element_id, id AS seq FROM history_entry WHERE action IN "
                        "('step', 'task_completed') UNION ALL SELECT instance_id, element_id, 1000000000 FROM "
                        "work_task WHERE status <> 'completed') passed) pairs GROUP BY prev, cur")
        by_sql = {FLOWS[(a, b)]: n for a, b, n in pairs if (a, b) in FLOWS}
        assert {f: c["instances"] for f, c in flows.items()} == by_sql == {
            "f_start": 6, "f_review": 4, "f_yes": 3, "f_no": 1, "f_cs": 2, "f_cs_yes": 1, "f_cs_no": 1}
        assert all(c["passes"] == c["instances"] for c in flows.values())

        # SLA: due dates met and missed, and the escalations fired
        assert analytics.sla(s, None, "sign_off") == [
            {"element_id": "countersign", "department_id": 1, "met": 1, "missed": 1},
            {"element_id": "review", "department_id": 1, "met": 3, "missed": 1}]
        late = dict(_sql(s, "SELECT element_id, count(*) FROM work_task WHERE status = 'completed' "
                            "AND due_at IS NOT NULL AND completed_at > due_at GROUP BY element_id"))
        assert late == {"review": 1, "countersign": 1}
        fired = _sql(s, "SELECT h.element_id, p.department_id, count(*) FROM history_entry h "
                        "JOIN work_task t ON t.id = h.task_id JOIN person p ON p.username = t.assignee "
                        "WHERE h.action = 'escalated' GROUP BY h.element_id, p.department_id")
        assert [(r["element_id"], r["department_id"], r["escalations"])
                for r in analytics.escalations(s, None, "sign_off")] == [tuple(r) for r in fired] == [("review", 1, 1)]

        # workload: open tasks, tasks done per person per week, deputies in effect
        load = analytics.workload(s, None, "sign_off")
        # a task done alone counts for who completed it; on the 会签 node every signature counts for its signer
        # (zhang signed three, the third while wang's is still open; wang's two closed the node)
        done = dict(_sql(s, "SELECT who, count(*) FROM (SELECT completed_by AS who FROM work_task t WHERE "
                            "status = 'completed' AND NOT EXISTS (SELECT 1 FROM approval_item a WHERE a.task_id = t.id) "
                            "UNION ALL SELECT signer FROM approval_item WHERE status IN ('approved', 'rejected')) d "
                            "GROUP BY who"))
        assert load["done_per_week"] == {(who, "2026-W45"): n for who, n in done.items()} == {
            ("li", "2026-W45"): 4, ("zhang", "2026-W45"): 3, ("wang", "2026-W45"): 2}
        waiting_for = dict(_sql(s, "SELECT who, count(*) FROM (SELECT assignee AS who FROM work_task WHERE "
                                   "status = 'open' AND assignee IS NOT NULL UNION ALL SELECT signer FROM approval_item "
                                   "WHERE status = 'open') open_work GROUP BY who"))
        assert load["open_by_person"] == waiting_for == {"li": 1, "wang": 1}  # wang: his signature on the 会签
        assert load["open_by_department"] == {1: 2}
        deputies = analytics_views.deputies_in_effect(s, None, "sign_off", now=NOW)
        assert [(d["person"], d["deputy"], d["open"]) for d in deputies] == [("li", "hu", 1)]
        assert analytics_views.deputies_in_effect(s, None, "sign_off", now=NOW + timedelta(days=2)) == []
        overdue = analytics.overdue_now(s, None, "sign_off", now=NOW)
        assert [(o["instance_id"], o["element_id"], o["overdue_seconds"]) for o in overdue] == [
            (ids[5], "review", 21 * H), (ids[3], "countersign", 17 * H)]
        assert [o["waits_for"] for o in overdue] == ["li", "wang"]  # the 会签 waits for its signer still to act
        assert len(overdue) == len(_sql(s, "SELECT id FROM work_task WHERE status = 'open' AND due_at < :now", now=NOW))

        # the index's numbers per process (last 30 days before NOW)
        since = NOW - timedelta(days=30)
        [(running, started, finished)] = _sql(
            s, "SELECT sum(CASE WHEN status = 'running' THEN 1 ELSE 0 END), sum(CASE WHEN created_at >= :since "
               "THEN 1 ELSE 0 END), sum(CASE WHEN status <> 'running' AND ended_at >= :since THEN 1 ELSE 0 END) "
               "FROM process_instance", since=since)
        index = analytics.overview(s, None, now=NOW)["sign_off"]
        assert (index["running"], index["started"], index["finished"]) == (running, started, finished)
        assert index["cycle_median"] == counts["cycle_median"]  # every run ended within the 30 days
        assert index["overdue"] == len(overdue) == 2
        assert analytics.overview(s, frozenset({"other"}), now=NOW) == {}  # not theirs: not listed

        # every table of the page holds these numbers
        tables = analytics_views.tables(s, None, "sign_off", now=NOW, flows=flows)
        assert tables["trend"]["rows"] == [["2026-11-02", 5.0, 5.0, 1], ["2026-11-03", 11.0, 11.0, 1],
                                           ["2026-11-04", 1.0, 1.0, 1]]
        assert tables["escalations"]["rows"] == [["review", 1, 1, 1]]
        assert tables["done_weekly"]["rows"] == [["2026-W45", "li", 4], ["2026-W45", "wang", 2],
                                                 ["2026-W45", "zhang", 3]]
        assert [r[:2] + r[3:] for r in tables["deputies"]["rows"]] == [["li", "hu", 1]]
        assert dict((r[0], r[1]) for r in tables["flows"]["rows"])["f_yes"] == 3


def test_filters_by_task_and_initiator_department_date_and_version(sessions, deploy_package, tmp_path, monkeypatch):
    run(sessions, deploy_package, tmp_path, monkeypatch)
    analytics.refresh(sessions)
    with sessions() as s:
        hr_started = Filters(initiator_departments=(2,))
        review = {n["element_id"]: n for n in analytics.node_stats(s, None, "sign_off", hr_started, NOW)}["review"]
        waits = [_seconds(a, b) for a, b in _sql(
            s, "SELECT t.created_at, t.completed_at FROM work_task t JOIN process_instance i ON i.id = t.instance_id "
               "JOIN person p ON p.username = i.initiator WHERE p.department_id = 2 AND t.element_id = 'review' "
               "AND t.status = 'completed'")]
        assert review["finished"] == len(waits) == 2 and review["median"] == statistics.median(waits) == 2 * H
        assert analytics.instance_counts(s, None, "sign_off", filters=hr_started)["rows"] == {
            "2026-11-03": {"started": 1, "finished": 1, "rejected": 1},
            "2026-11-04": {"started": 1, "finished": 1, "rejected": 1}}
        # the task's department is the actor's: every task here was done by R&D people, none by HR
        assert len(analytics.node_stats(s, None, "sign_off", Filters(departments=(1,)), NOW)) == 2
        assert analytics.node_stats(s, None, "sign_off", Filters(departments=(2,)), NOW) == []
        assert analytics.sla(s, None, "sign_off", Filters(departments=(2,))) == []
        one_day = Filters(since=T0 + timedelta(days=1), until=T0 + timedelta(days=2))
        assert analytics.instance_counts(s, None, "sign_off", filters=one_day)["periods"] == ["2026-11-03"]
        assert analytics_views.path_frequencies(s, None, "sign_off", 1, one_day) == {
            f: {"instances": 1, "passes": 1} for f in ("f_start", "f_review", "f_yes", "f_cs", "f_cs_no")}
        assert analytics.node_stats(s, None, "sign_off", Filters(version=2), NOW) == []
        assert analytics.instance_counts(s, None, "sign_off", filters=Filters(version=1))["rows"] == \
            analytics.instance_counts(s, None, "sign_off")["rows"]


def test_a_department_admin_sees_their_departments_instances_in_every_process(sessions, deploy_package, tmp_path,
                                                                                monkeypatch):
    ids = run(sessions, deploy_package, tmp_path, monkeypatch)
    analytics.refresh(sessions)
    with sessions() as s:
        hr = scope_of(s, "hradmin")
        assert hr == analytics.Scope(frozenset(), (2,)) and may_analyse_any(hr)
        assert scope_of(s, "admin") == analytics.Scope(None, ())
        assert scope_of(s, "wang") == analytics.Scope(frozenset({"sign_off"}), ())
        assert not may_analyse_any(scope_of(s, "li"))
        assert [p["key"] for p in analytics.processes(s, hr)] == ["sign_off"]
        counts = analytics.instance_counts(s, hr, "sign_off")
        hu_started = s.scalar(text("SELECT count(*) FROM process_instance WHERE initiator = 'hu'"))
        assert sum(r["started"] for r in counts["rows"].values()) == hu_started == 2
        assert counts["approval_rate"] == 0.0
        nodes = {n["element_id"]: n for n in analytics.node_stats(s, hr, "sign_off", now=NOW)}
        assert (nodes["review"]["finished"], nodes["countersign"]["median"]) == (2, 8 * H)
        assert set(analytics_views.path_frequencies(s, hr, "sign_off", 1)) == {
            "f_start", "f_review", "f_yes", "f_no", "f_cs", "f_cs_no"}
        assert analytics.overdue_now(s, hr, "sign_off", now=NOW) == []  # instance 3 is zhang's (R&D)
        assert [o["instance_id"] for o in analytics.overdue_now(s, None, "sign_off", now=NOW)] == [ids[5], ids[3]]
        assert analytics.node_stats(s, scope_of(s, "li"), "sign_off", now=NOW) == []

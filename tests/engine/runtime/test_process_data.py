"""Process data is stored one row per key and a step writes only what it changed."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine import runtime
from engine.bpmn.serialization import SPEC_CACHE
from engine.data import db
from engine.data.models import InstanceData
from engine.errors import InstanceDataTooLargeError
from engine.runtime import LIVE_WORKFLOWS
from engine.work import queries
from tests.engine.conftest import flow, write_package


def _deploy_tidy(deploy_package, tmp_path):
    """fill -> a script that drops `draft`, changes `order` in place and sets `total` -> review."""
    script = "del draft\norder['qty'] = order['qty'] + 1\ntotal = order['qty'] * 2"
    body = "\n".join([
        '<bpmn:startEvent id="start"/>', flow("start", "fill"),
        '<bpmn:userTask id="fill"/>', flow("fill", "tidy_up"),
        f'<bpmn:scriptTask id="tidy_up"><bpmn:script>{script}</bpmn:script></bpmn:scriptTask>', flow("tidy_up", "review"),
        '<bpmn:userTask id="review"/>', flow("review", "end"), '<bpmn:endEvent id="end"/>'])
    deploy_package(write_package(tmp_path, "tidy", {"tidy": body}))


def _rows(sessions, instance_id):
    with sessions() as session:
        return dict(session.execute(select(InstanceData.key, InstanceData.value)
                                    .where(InstanceData.instance_id == instance_id)).all())


def _data(sessions, instance_id):
    with sessions() as session:
        return queries.instance_view(session, instance_id)["data"]


@pytest.mark.parametrize("cached", [True, False], ids=["live workflow", "restored"])
def test_a_step_removes_deleted_keys_and_sees_values_changed_in_place(sessions, database_url, deploy_package,
                                                                      tmp_path, cached):
    _deploy_tidy(deploy_package, tmp_path)
    started = runtime.start_instance(sessions, "tidy", {"zeta": 1, "draft": "x", "order": {"qty": 1}})
    if not cached:
        LIVE_WORKFLOWS.clear()
        SPEC_CACHE.clear()
        sessions = db.make_session_factory(db.make_engine(database_url))
    result = runtime.complete_task(sessions, started.open_tasks[0]["id"], "u", {"alpha": True})

    data = _data(sessions, started.instance_id)
    assert data == {"zeta": 1, "order": {"qty": 2}, "alpha": True, "total": 4}
    assert list(data) == ["zeta", "order", "alpha", "total"]  # the order the process set them in
    assert _rows(sessions, started.instance_id) == {"zeta": "1", "order": '{"qty":2}', "alpha": "true", "total": "4"}
    LIVE_WORKFLOWS.clear()  # the next step restores from the rows: same data
    runtime.complete_task(sessions, result.open_tasks[0]["id"], "u", {"zeta": True})
    assert _data(sessions, started.instance_id) == {"zeta": True, "order": {"qty": 2}, "alpha": True, "total": 4}


def test_a_step_writes_only_the_keys_it_changed(sessions, deploy_package, tmp_path):
    body = "\n".join(['<bpmn:startEvent id="start"/>', flow("start", "a"), '<bpmn:userTask id="a"/>',
                      flow("a", "b"), '<bpmn:userTask id="b"/>', flow("b", "end"), '<bpmn:endEvent id="end"/>'])
    deploy_package(write_package(tmp_path, "two", {"two": body}))
    started = runtime.start_instance(sessions, "two", {"kept": "same", "n": 1})
    written = []
    real = runtime.step.store.write_step

    def spy(conn, step):
        written.append(([row["key"] for row in step.data_set], step.data_del))
        return real(conn, step)

    runtime.step.store.write_step = spy
    try:
        runtime.complete_task(sessions, started.open_tasks[0]["id"], "u", {"n": 2, "new": [1]})
    finally:
        runtime.step.store.write_step = real
    assert written == [(["n", "new"], [])]
    assert _data(sessions, started.instance_id) == {"kept": "same", "n": 2, "new": [1]}


@pytest.mark.parametrize("script", ["big = 'x' * 3000000", "big = ['\u00e9' * 1000] * 1100",
                                    "parts = {}\nfor i in range(300):\n    parts['k%d' % i] = '\u4e2d' * 3000"])
def test_a_step_that_would_store_too_much_data_is_refused_and_saves_nothing(sessions, deploy_package, tmp_path,
                                                                           script):
    """LIAISON_MAX_INSTANCE_DATA (2 MB by default) bounds the stored process data, counted as UTF-8 JSON."""
    body = "\n".join([
        '<bpmn:startEvent id="start"/>', flow("start", "fill"),
        '<bpmn:userTask id="fill"/>', flow("fill", "grow_it"),
        f'<bpmn:scriptTask id="grow_it"><bpmn:script>{script}</bpmn:script></bpmn:scriptTask>', flow("grow_it", "review"),
        '<bpmn:userTask id="review"/>', flow("review", "end"), '<bpmn:endEvent id="end"/>'])
    deploy_package(write_package(tmp_path, "grow", {"grow": body}))
    started = runtime.start_instance(sessions, "grow", {"n": 1})
    task_id = started.open_tasks[0]["id"]
    with pytest.raises(InstanceDataTooLargeError, match=r"the limit is 2,097,152 \(LIAISON_MAX_INSTANCE_DATA\)"):
        runtime.complete_task(sessions, task_id, "u", {"n": 2})
    assert _data(sessions, started.instance_id) == {"n": 1}
    with sessions() as session:
        assert queries.instance_view(session, started.instance_id)["revision"] == started.revision
    # the task is still open: completing it again (now without growing) is not a conflict
    with pytest.raises(InstanceDataTooLargeError):
        runtime.complete_task(sessions, task_id, "u", {"n": 3})


def test_the_instance_data_limit_is_a_setting() -> None:
    from engine.config import DEFAULT_MAX_INSTANCE_DATA, load_settings
    assert load_settings({}).max_instance_data == DEFAULT_MAX_INSTANCE_DATA == 2 * 1024 * 1024
    assert load_settings({"LIAISON_MAX_INSTANCE_DATA": "65536"}).max_instance_data == 65536
    assert load_settings({"LIAISON_MAX_INSTANCE_DATA": "lots"}).max_instance_data == DEFAULT_MAX_INSTANCE_DATA

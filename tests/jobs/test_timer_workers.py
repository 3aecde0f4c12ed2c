"""A boundary timer fires exactly once while three `liaison worker` processes run at once (PostgreSQL)."""

from __future__ import annotations

from sqlalchemy import func, select

from engine import runtime
from engine.data import db
from engine.data.models import HistoryEntry, ProcessInstance, Timer, WorkTask
from engine.packages import deployment as packages
from tests.engine.conftest import flow, write_package
from tests.jobs.conftest import wait_for

TIMEOUT_PROCESS = "\n".join([
    '<bpmn:startEvent id="start"/>',
    '<bpmn:userTask id="task" name="Approve" liaison:assignee="alice"/>',
    '<bpmn:boundaryEvent id="late" attachedToRef="task" cancelActivity="true">'
    '<bpmn:timerEventDefinition><bpmn:timeDuration>"PT2S"</bpmn:timeDuration></bpmn:timerEventDefinition>'
    "</bpmn:boundaryEvent>",
    '<bpmn:endEvent id="end_done"/>',
    '<bpmn:endEvent id="end_late"/>',
    flow("start", "task"), flow("task", "end_done"), flow("late", "end_late"),
])


def timer_package(tmp_path, key: str = "timeout"):
    """A package whose user task is cancelled by a 2-second interrupting boundary timer."""
    return write_package(tmp_path, key, {key: TIMEOUT_PROCESS})


def test_boundary_timer_fires_once_with_three_workers(tmp_path, postgres_url, redis_server, workers):
    engine = db.make_engine(postgres_url)
    sessions = db.make_session_factory(engine)
    packages.deploy_package(sessions, packages.load_package(timer_package(tmp_path)), "admin")
    env = {"LIAISON_JOB_LEASE_SECONDS": "2"}  # short leases: claims expire and are taken again often
    started = [workers.start(postgres_url, redis_server.url, f"w{i}", **env) for i in range(3)]
    for _process, log in workers.processes:
        wait_for(lambda log=log: "worker on" in log.read_text(), 30, f"{log.name} to start")

    result = runtime.start_instance(sessions, "timeout", {}, "bob")
    [task] = result.open_tasks

    def timer_status():
        with sessions() as session:
            return session.scalar(select(Timer.status).where(Timer.instance_id == result.instance_id,
                                                             Timer.kind == "event"))

    assert timer_status() == "pending"
    wait_for(lambda: timer_status() == "fired", 30, lambda: f"the timer to fire\n{workers.logs()}")
    wait_for(lambda: redis_server.queued() == 0, 30, "the queue to drain")
    for process in started:  # running jobs finish before a worker stops on SIGTERM
        assert workers.stop(process) == 0, workers.logs()

    with sessions() as session:
        fired = session.scalar(select(func.count()).select_from(HistoryEntry).where(
            HistoryEntry.instance_id == result.instance_id, HistoryEntry.action == "timer_fired"))
        timers = session.execute(select(Timer.status, Timer.fired_at).where(
            Timer.instance_id == result.instance_id)).all()
        task_status = session.scalar(select(WorkTask.status).where(WorkTask.id == task["id"]))
        instance = session.get(ProcessInstance, result.instance_id)
    engine.dispose()
    assert fired == 1, workers.logs()
    assert [t.status for t in timers] == ["fired"] and timers[0].fired_at is not None
    assert task_status == "cancelled"
    assert (instance.status, instance.end_event) == ("completed", "end_late")

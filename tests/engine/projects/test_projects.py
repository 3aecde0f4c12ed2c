"""Task collaboration at engine level: a task's life runs in its `project_task` instance (status changes
as messages, the reminder before the due date and the escalation after it once each with the clock
moved), a process waits until the tasks it created are done, mentions notify, and the permission rules."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from engine.data.models import CcRecord, Notification, ProcessInstance, WorkTask, utcnow
from engine.data.project_models import ProjectHistory, ProjectTask
from engine.errors import InvalidTaskDataError, NotFoundError, NotPermittedError, TaskConflictError
from engine.projects import discussion, process_wait, projects, tasks, views
from engine.projects.projects import InvalidProjectError, ProjectInput
from engine.projects.tasks import TaskInput
from engine.runtime import timers
from tests.engine.conftest import flow, write_package


def _project(sessions, **changes) -> int:
    data = ProjectInput(name="新品发布", people=["zhang"], departments=["PRD"], **changes)
    with sessions() as session, session.begin():
        return projects.create_project(session, "li", data)


def _task(sessions, project_id, owner="zhang", due=None, now=None, **kw) -> int:
    return tasks.create_task(sessions, "li", project_id, TaskInput(title=kw.pop("title", "市场调研"), owner=owner,
                                                                   due_at=due, **kw), now=now)


def _fire(sessions, at) -> list[str]:
    with sessions() as session:
        due = list(session.scalars(select(timers.Timer.id).where(timers.Timer.status == "pending",
                                                                  timers.Timer.due_at <= at)))
    return [timers.fire(sessions, timer_id, now=at) for timer_id in due]


def _copied(sessions, instance: int) -> list[str]:
    with sessions() as session:
        return sorted(session.scalars(select(CcRecord.username).where(CcRecord.instance_id == instance)))


def test_a_task_runs_in_its_instance_and_its_owner_has_it_in_the_inbox(world):
    sessions = world
    task_id = _task(sessions, _project(sessions), due=utcnow() + timedelta(days=5))
    with sessions() as session:
        task = session.get(ProjectTask, task_id)
        inbox = session.scalars(select(WorkTask).where(WorkTask.instance_id == task.life_instance_id,
                                                       WorkTask.status == "open")).all()
    assert [(w.element_id, w.assignee) for w in inbox] == [("work_on_task", "zhang")]
    tasks.move_task(sessions, "zhang", task_id, "in_progress")
    tasks.move_task(sessions, "zhang", task_id, "done")
    with sessions() as session:
        instance = session.get(ProcessInstance, task.life_instance_id)
        moves = [h.detail for h in session.scalars(select(ProjectHistory).where(
            ProjectHistory.task_id == task_id, ProjectHistory.action == "moved").order_by(ProjectHistory.id))]
    assert (instance.status, instance.end_event) == ("completed", "closed")
    assert moves == [{"old": "open", "new": "in_progress"}, {"old": "in_progress", "new": "done"}]
    tasks.move_task(sessions, "li", task_id, "open")  # reopen: a new instance
    with sessions() as session:
        reopened = session.get(ProjectTask, task_id)
        assert reopened.status == "open" and reopened.life_instance_id != task.life_instance_id
        assert session.get(ProcessInstance, reopened.life_instance_id).status == "running"


def test_reminder_before_the_due_date_and_escalation_after_it_are_sent_once_each(world):
    sessions = world
    now = utcnow()
    task_id = _task(sessions, _project(sessions), due=now + timedelta(days=3), now=now)
    with sessions() as session:
        instance = session.get(ProjectTask, task_id).life_instance_id
    assert _fire(sessions, now + timedelta(days=1)) == []
    tasks.move_task(sessions, "zhang", task_id, "in_progress", now=now + timedelta(days=1))
    assert _fire(sessions, now + timedelta(days=2, minutes=1)) == ["fired"]  # one day before: the reminder
    assert _copied(sessions, instance) == ["zhang"]
    tasks.move_task(sessions, "zhang", task_id, "open", now=now + timedelta(days=2, hours=1))  # timers stay armed once
    assert _fire(sessions, now + timedelta(days=2, hours=2)) == []
    assert _fire(sessions, now + timedelta(days=3, minutes=1)) == ["fired"]  # past due: the project owner
    assert _fire(sessions, now + timedelta(days=9)) == []
    with sessions() as session:
        told = {n.recipient: n.title for n in session.scalars(select(Notification).where(
            Notification.instance_id == instance, Notification.event == "cc"))}
        assert session.scalar(select(func.count()).select_from(CcRecord).where(CcRecord.instance_id == instance)) == 2
    assert sorted(told) == ["li", "zhang"]
    assert "市场调研" in told["zhang"] and "张三" in told["li"] or "Zhang San" in told["li"]
    with sessions() as session:
        overdue = views.summary(views.tasks_of(session, session.get(ProjectTask, task_id).project_id),
                                now + timedelta(days=4)).overdue
    assert [t.id for t in overdue] == [task_id]


def _waiting_package(root):
    body = ('<bpmn:startEvent id="start"/>'
            '<bpmn:intermediateCatchEvent id="tasks_done"><bpmn:messageEventDefinition messageRef="msg_done"/>'
            '</bpmn:intermediateCatchEvent><bpmn:endEvent id="delivered"/>'
            + flow("start", "tasks_done") + flow("tasks_done", "delivered"))
    return write_package(root, "delivery", {"delivery": body}, meta={"process": "delivery"},
                         definitions='<bpmn:message id="msg_done" name="project_tasks_done"/>')


def test_a_process_waits_until_the_tasks_it_created_are_done(world, tmp_path, deploy_package):
    from engine import runtime
    sessions = world
    deploy_package(_waiting_package(tmp_path))
    started = runtime.start_instance(sessions, "delivery", {}, user="li", business_key="CR-7")
    project_id = _project(sessions)
    made = [tasks.create_task(sessions, "li", project_id, TaskInput(title=t, owner=o),
                              waiting_instance_id=started.instance_id)
            for t, o in (("交付里程碑一", "zhang"), ("交付里程碑二", "chen"))]
    with pytest.raises(NotFoundError):  # zhang may not see li's instance: no task waits for it
        tasks.create_task(sessions, "zhang", project_id, TaskInput(title="x", owner="zhang"),
                          waiting_instance_id=started.instance_id)
    tasks.move_task(sessions, "zhang", made[0], "done")
    with sessions() as session:
        assert session.get(ProcessInstance, started.instance_id).status == "running"
    tasks.move_task(sessions, "chen", made[1], "done")
    with sessions() as session:
        instance = session.get(ProcessInstance, started.instance_id)
        assert (instance.status, instance.end_event) == ("completed", "delivered")


def test_a_mention_notifies_members_only(world):
    sessions = world
    task_id = _task(sessions, _project(sessions))
    discussion.add_comment(sessions, "chen", task_id, "@张三 请看一下 @zhao @li @chen")
    with sessions() as session:
        told = sorted(session.scalars(select(Notification.recipient).where(Notification.event == "project_mention")))
    assert told == ["li", "zhang"]  # zhao is no member, chen is the author: not told


def test_a_non_member_neither_sees_nor_changes_the_project(world):
    sessions = world
    project_id = _project(sessions)
    task_id = _task(sessions, project_id)
    with sessions() as session:
        assert [p.id for p in projects.projects_for(session, "zhao")] == []
        assert [p.id for p in projects.projects_for(session, "chen")] == [project_id]  # PRD's subtree
    for call in (lambda: tasks.move_task(sessions, "zhao", task_id, "done"),
                 lambda: tasks.update_task(sessions, "zhao", task_id, {"title": "x"}),
                 lambda: discussion.add_comment(sessions, "zhao", task_id, "hi"),
                 lambda: tasks.create_task(sessions, "zhao", project_id, TaskInput(title="x", owner="zhao"))):
        with pytest.raises(NotFoundError):
            call()
    with pytest.raises(NotPermittedError):  # a member who is neither owner nor collaborator
        tasks.move_task(sessions, "chen", task_id, "done")


def test_refusals_are_precise_and_save_nothing(world):
    sessions = world
    with pytest.raises(InvalidProjectError, match="no department has the code `NOPE`"), sessions() as session:
        projects.create_project(session, "li", ProjectInput(name="x", departments=["NOPE"]))
    project_id = _project(sessions)
    with pytest.raises(InvalidProjectError, match="not a member"):
        _task(sessions, project_id, owner="zhao")
    task_id = _task(sessions, project_id)
    with pytest.raises(TaskConflictError):
        tasks.move_task(sessions, "zhang", task_id, "open")
    with pytest.raises(InvalidTaskDataError):
        tasks.move_task(sessions, "zhang", task_id, "finished")
    with sessions() as session, session.begin():
        projects.set_archived(session, "li", project_id, True)
    with pytest.raises(NotPermittedError, match="archived"):
        tasks.move_task(sessions, "zhang", task_id, "done")
    with sessions() as session:
        assert session.get(ProjectTask, task_id).status == "open"
        assert session.scalar(select(func.count()).select_from(ProjectTask)) == 1


def test_export_cells_are_text_never_formulas(world):
    from engine.projects import export
    sessions = world
    project_id = _project(sessions)
    _task(sessions, project_id, title="=HYPERLINK(\"x\")")
    with sessions() as session:
        table = export.rows(views.tasks_of(session, project_id), {"zhang": "张三"}, "zh", utcnow().tzinfo)
    assert table[1][1] == "'=HYPERLINK(\"x\")" and table[1][2] == "张三"
    process_wait.DONE_MESSAGE  # noqa: B018 - the message name a waiting process catches


def test_the_burn_down_counts_open_tasks_each_day_up_to_today_and_runs_to_the_last_due_date(world):
    sessions = world
    now = utcnow()
    project_id = _project(sessions)
    first = _task(sessions, project_id, due=now + timedelta(days=2), now=now - timedelta(days=2))
    _task(sessions, project_id, title="定价", due=now + timedelta(days=4), now=now - timedelta(days=1))
    tasks.move_task(sessions, "zhang", first, "done", now=now - timedelta(days=1))
    with sessions() as session:
        result = views.summary(views.tasks_of(session, project_id), now)
    assert len(result.days) == 7 and result.days[-1] == (now + timedelta(days=4)).date().isoformat()
    assert result.remaining == [1, 1, 1, None, None, None, None]  # day -1: one made, one done
    assert result.ideal[0] == 1 and result.ideal[-1] == 0
    assert result.counts == {"open": 1, "in_progress": 0, "done": 1, "cancelled": 0}


def _requesting_package(root):
    body = ('<bpmn:startEvent id="start"/>'
            '<bpmn:serviceTask id="ask" camunda:type="external" camunda:topic="project_tasks"/>'
            '<bpmn:intermediateCatchEvent id="tasks_done"><bpmn:messageEventDefinition messageRef="msg_done"/>'
            '</bpmn:intermediateCatchEvent><bpmn:endEvent id="delivered"/>'
            + flow("start", "ask") + flow("ask", "tasks_done") + flow("tasks_done", "delivered"))
    folder = write_package(root, "milestones", {"milestones": body}, meta={"process": "milestones"},
                           definitions='<bpmn:message id="msg_done" name="project_tasks_done"/>')
    bpmn = folder / "milestones.bpmn"
    bpmn.write_text(bpmn.read_text().replace(
        'xmlns:liaison=', 'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" xmlns:liaison=', 1))
    return folder


def test_a_process_step_creates_tasks_and_goes_on_when_they_are_done(world, tmp_path, deploy_package):
    from engine import runtime
    from engine.data.external_task_models import ExternalTask
    sessions = world
    deploy_package(_requesting_package(tmp_path))
    project_id = _project(sessions)
    due = (utcnow() + timedelta(days=5)).isoformat()
    asks = [{"title": "交付里程碑一", "owner": "zhang", "due_at": due}, {"title": "交付里程碑二", "owner": "chen"}]
    good = runtime.start_instance(sessions, "milestones", {"project_id": project_id, "project_tasks_requested": asks},
                                  user="li", business_key="CR-9")
    bad = runtime.start_instance(sessions, "milestones", {"project_id": project_id, "project_tasks_requested": [
        {"title": "x", "owner": "zhao"}]}, user="li", business_key="CR-10")
    assert process_wait.take_requests(sessions) == 1 and process_wait.take_requests(sessions) == 0
    with sessions() as session:
        made = session.scalars(select(ProjectTask).where(ProjectTask.waiting_instance_id == good.instance_id)
                               .order_by(ProjectTask.id)).all()
        refused = session.scalar(select(ExternalTask).where(ExternalTask.instance_id == bad.instance_id))
        assert [(t.title, t.owner, t.created_by) for t in made] == [("交付里程碑一", "zhang", "li"),
                                                                    ("交付里程碑二", "chen", "li")]
        assert refused.status == "incident" and "not a member" in refused.error_message
        assert session.get(ProcessInstance, good.instance_id).status == "running"
    for task in made:
        tasks.move_task(sessions, task.owner, task.id, "done")
    with sessions() as session:
        instance = session.get(ProcessInstance, good.instance_id)
        assert (instance.status, instance.end_event) == ("completed", "delivered")


def test_the_job_dispatchers_sweep_takes_the_requests_so_no_extra_worker_is_needed(world, tmp_path, deploy_package):
    """`liaison run` and `liaison worker` run the dispatcher: its minute sweep is the `project_tasks` worker."""
    from engine import runtime
    from engine.jobs.dispatch import Dispatcher
    sessions = world
    deploy_package(_requesting_package(tmp_path))
    project_id = _project(sessions)
    started = runtime.start_instance(sessions, "milestones", {"project_id": project_id, "project_tasks_requested": [
        {"title": "交付里程碑", "owner": "zhang"}]}, user="li", business_key="CR-11")
    Dispatcher(sessions, submit=lambda kind, item_id: None).tick()
    with sessions() as session:
        made = session.scalars(select(ProjectTask.title).where(ProjectTask.waiting_instance_id == started.instance_id))
        assert list(made) == ["交付里程碑"]


def test_a_new_owner_or_due_date_restarts_the_tasks_instance_for_the_new_owner_and_date(world):
    """Handing a task over moves its inbox entry to the new owner; a later due date moves the reminder and
    the escalation with it (the old instance's timers end with it); an in-progress task stays in progress."""
    sessions = world
    now = utcnow()
    task_id = _task(sessions, _project(sessions), due=now + timedelta(days=3), now=now)
    tasks.move_task(sessions, "zhang", task_id, "in_progress", now=now)
    with sessions() as session:
        first = session.get(ProjectTask, task_id).life_instance_id
    changed = tasks.update_task(sessions, "zhang", task_id, {"owner": "chen", "due_at": now + timedelta(days=6)},
                                now=now + timedelta(hours=1))
    assert changed == ["owner", "due_at"]
    with sessions() as session:
        task = session.get(ProjectTask, task_id)
        second = task.life_instance_id
        assert (task.owner, task.status) == ("chen", "in_progress") and second != first
        assert session.get(ProcessInstance, first).status == "cancelled"
        open_work = session.scalars(select(WorkTask.assignee).where(WorkTask.instance_id.in_((first, second)),
                                                                    WorkTask.status == "open")).all()
        assert open_work == ["chen"]
        handed = session.scalars(select(ProjectHistory.detail).where(ProjectHistory.task_id == task_id,
                                                                     ProjectHistory.action == "changed")).all()
        assert {"field": "owner", "old": "zhang", "new": "chen"} in handed
    assert _fire(sessions, now + timedelta(days=2, minutes=1)) == []  # the old date's reminder is gone
    assert _fire(sessions, now + timedelta(days=5, minutes=1)) == ["fired"]  # a day before the new date
    assert _copied(sessions, second) == ["chen"]
    tasks.move_task(sessions, "chen", task_id, "done", now=now + timedelta(days=5, hours=1))
    with sessions() as session:
        assert session.get(ProcessInstance, second).status == "completed"
    with pytest.raises(NotPermittedError):
        tasks.update_task(sessions, "zhang", task_id, {"owner": "zhang"})  # no longer owner nor collaborator


def test_a_mention_is_also_an_email_in_the_persons_language_unless_they_turned_it_off(world):
    """The e-mail channel of `project_mention`: an outbox row for each mentioned member with an address, in
    their language; nobody without an address, nobody who switched the channel off, never the author."""
    from engine.data.models import OutboxMessage, Person
    from engine.notify import center
    sessions = world
    with sessions() as session, session.begin():
        for username, email, locale in (("zhang", "zhang@example.com", "en"), ("li", "li@example.com", None),
                                        ("wang", "wang@example.com", None)):
            person = session.scalar(select(Person).where(Person.username == username))
            person.email, person.locale = email, locale
        center.set_preferences(session, "wang", {"email": {"project_mention": False}})
    with sessions() as session, session.begin():
        project_id = projects.create_project(session, "li", ProjectInput(name="定价", departments=["PRD", "MKT"]))
    task_id = _task(sessions, project_id)
    discussion.add_comment(sessions, "chen", task_id, "@张三 @li @王五 @chen 定价表已更新")
    with sessions() as session:
        mails = {m.recipient: m.payload for m in session.scalars(select(OutboxMessage).where(
            OutboxMessage.event == "project_mention", OutboxMessage.channel == "email"))}
        inapp = sorted(session.scalars(select(Notification.recipient).where(Notification.event == "project_mention")))
    assert sorted(mails) == ["li@example.com", "zhang@example.com"]  # wang turned e-mail off; chen wrote it
    assert inapp == ["li", "wang", "zhang"]  # wang still gets the in-app one
    assert mails["zhang@example.com"]["subject"] == "Chen Qi mentioned you on the task \u201c市场调研\u201d"
    assert mails["li@example.com"]["subject"] == "陈七 在任务「市场调研」中提到了你"
    assert f"/projects/tasks/{task_id}#comment-" in mails["li@example.com"]["text"]

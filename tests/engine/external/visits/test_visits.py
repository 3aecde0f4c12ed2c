"""The visitor_booking process with its passes and the reception desk: a pass and its e-mail when
check-in becomes ready, the sweep, check-in and check-out, refusals, no-show and overstay notices."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import delete, select

from engine import runtime
from engine.data.external_models import ExternalCase, ExternalGrant
from engine.data.models import HistoryEntry, Notification, OutboxMessage, ProcessInstance, WorkTask
from engine.errors import NotPermittedError, TaskConflictError
from engine.external import passes
from engine.runtime import timers, visit_passes
from engine.work import reception
from tests.engine.external.visits.conftest import DURING, invite

DESK = ("reception",)


def _code(sessions, instance_id) -> str:
    with sessions() as session:
        task_id = session.execute(select(ExternalGrant.task_id).where(ExternalGrant.instance_id == instance_id)
                                  ).scalar_one()
    return passes.pass_code(task_id)


def _open_tasks(sessions, instance_id) -> list[str]:
    with sessions() as session:
        return sorted(session.execute(select(WorkTask.element_id).where(WorkTask.instance_id == instance_id,
                                                                       WorkTask.status == "open")).scalars())


def _instance(sessions, instance_id):
    with sessions() as session:
        return session.get(ProcessInstance, instance_id)


def test_a_ready_check_in_issues_one_pass_and_emails_code_slot_and_link(visits):
    instance_id = invite(visits)
    code = _code(visits, instance_id)
    with visits() as session:
        [mail] = session.execute(select(OutboxMessage).where(OutboxMessage.instance_id == instance_id,
                                                             OutboxMessage.event == "external_link")).scalars()
        case = session.get(ExternalCase, instance_id)
    assert mail.recipient == "visitor@example.com"
    text = mail.payload["text"]
    assert code in text and "2030-05-20 09:00–11:00" in text
    assert f"https://wf.example.com/portal/pass?code={code}" in text
    assert (case.kind, case.email, case.name) == ("visitor", "visitor@example.com", "王访客")
    assert visit_passes.sweep(visits) == 0  # nothing missing: nothing issued or sent again
    assert visit_passes.issue_for_instance(visits, instance_id) == []


def test_the_sweep_issues_a_pass_lost_between_commit_and_issue(visits):
    instance_id = invite(visits)
    code = _code(visits, instance_id)
    with visits() as session, session.begin():
        session.execute(delete(ExternalGrant).where(ExternalGrant.instance_id == instance_id))
    assert visit_passes.sweep(visits) == 1
    assert _code(visits, instance_id) == code  # the same code: the e-mail sent first still works


def test_a_visitors_own_request_gets_its_pass_only_after_the_host_approves(visits):
    instance_id = invite(visits, user="wang")
    assert _open_tasks(visits, instance_id) == ["host_approval"]
    with visits() as session:
        assert session.execute(select(ExternalGrant)).first() is None
    with visits() as session:
        task_id = session.execute(select(WorkTask.id).where(WorkTask.instance_id == instance_id)).scalar_one()
    runtime.complete_task(visits, task_id, "li", {"approved": True})
    assert _open_tasks(visits, instance_id) == ["check_in"]
    with visits() as session:
        assert reception.look_up(session, _code(visits, instance_id), DURING).host == "li"


def test_reception_checks_the_visitor_in_and_out(visits):
    instance_id = invite(visits)
    code = _code(visits, instance_id)
    view = reception.check_in(visits, "zhou", DESK, f"{code[:4]}-{code[4:]}", DURING, {"badge_no": "V-1"})
    assert view.state == "checked_in" and _open_tasks(visits, instance_id) == ["check_out"]
    with pytest.raises(TaskConflictError, match="already checked in"):
        reception.check_in(visits, "zhou", DESK, code, DURING)
    view = reception.check_out(visits, "zhou", DESK, code, DURING + timedelta(hours=1))
    assert view.state == "checked_out"
    instance = _instance(visits, instance_id)
    assert (instance.status, instance.end_event) == ("completed", "visit_done")


def test_only_reception_may_check_a_visitor_in(visits):
    instance_id = invite(visits)
    with pytest.raises(NotPermittedError):
        reception.check_in(visits, "li", (), _code(visits, instance_id), DURING)
    assert _open_tasks(visits, instance_id) == ["check_in"]


def test_a_blacklisted_visitor_is_refused_and_the_history_says_so(visits):
    instance_id = invite(visits)
    with visits() as session, session.begin():
        passes.add_to_blacklist(session.connection(), name="x", phone="13800138000", reason="banned in 2029",
                                now=DURING)
    with pytest.raises(reception.EntryRefusedError, match="blacklist") as refused:
        reception.check_in(visits, "zhou", DESK, _code(visits, instance_id), DURING)
    assert refused.value.entry.reason == "banned in 2029"
    assert _open_tasks(visits, instance_id) == ["check_in"]
    with visits() as session:
        entry = session.execute(select(HistoryEntry).where(HistoryEntry.instance_id == instance_id,
                                                           HistoryEntry.action == "entry_refused")).scalar_one()
        grant = session.execute(select(ExternalGrant).where(ExternalGrant.instance_id == instance_id)).scalar_one()
    assert (entry.actor, entry.comment) == ("zhou", "banned in 2029")
    assert grant.checked_in_at is None


@pytest.mark.parametrize(("when", "words"), [(DURING - timedelta(hours=1), "not valid yet"),
                                             (DURING + timedelta(hours=3), "expired")])
def test_a_pass_outside_its_slot_is_refused(visits, when, words):
    instance_id = invite(visits)
    with pytest.raises(TaskConflictError, match=words):
        reception.check_in(visits, "zhou", DESK, _code(visits, instance_id), when)
    assert _open_tasks(visits, instance_id) == ["check_in"]


def _fire_due(sessions, now):
    return [timers.fire(sessions, timer_id, now) for timer_id in timers.claim_due(sessions, now)]


def _notices(sessions, instance_id, recipient):
    with sessions() as session:
        return session.execute(select(Notification.title).where(Notification.instance_id == instance_id,
                                                                Notification.recipient == recipient,
                                                                Notification.event == "cc")).scalars().all()


def test_a_no_show_ends_the_visit_and_tells_the_host(visits):
    instance_id = invite(visits, user="wang", host="li")
    with visits() as session:
        task_id = session.execute(select(WorkTask.id).where(WorkTask.instance_id == instance_id)).scalar_one()
    runtime.complete_task(visits, task_id, "li", {"approved": True})
    assert "fired" in _fire_due(visits, datetime(2030, 5, 21, tzinfo=UTC))
    instance = _instance(visits, instance_id)
    assert (instance.status, instance.end_event) == ("completed", "no_show_end")
    assert any("王访客" in t for t in _notices(visits, instance_id, "li"))
    assert any("王访客" in t for t in _notices(visits, instance_id, "wang"))
    with visits() as session:
        assert reception.look_up(session, _code(visits, instance_id), DURING).state == "revoked"


def test_an_overstay_tells_the_host_and_check_out_stays_open(visits):
    instance_id = invite(visits)
    reception.check_in(visits, "zhou", DESK, _code(visits, instance_id), DURING)
    assert "fired" in _fire_due(visits, datetime(2030, 5, 21, tzinfo=UTC))
    instance = _instance(visits, instance_id)
    assert instance.status == "running" and _open_tasks(visits, instance_id) == ["check_out"]
    assert len(_notices(visits, instance_id, "li")) == 1


def test_expected_lists_the_days_visits_with_their_state(visits):
    first = invite(visits)
    invite(visits, visit_start="2030-05-21T09:00", visit_end="2030-05-21T10:00")
    reception.check_in(visits, "zhou", DESK, _code(visits, first), DURING)
    with visits() as session:
        day = reception.expected(session, date(2030, 5, 20), "en", now=DURING)
        other = reception.expected(session, date(2030, 5, 22), "en", now=DURING)
    assert [(v.visit.instance_id, v.visit.state, v.slot, v.host_name) for v in day] == [
        (first, "checked_in", "2030-05-20 09:00–11:00", "li")]
    assert other == []


def test_check_out_repairs_a_check_in_whose_pass_was_not_marked(visits):
    instance_id = invite(visits)
    with visits() as session:
        task_id = session.execute(select(WorkTask.id).where(WorkTask.instance_id == instance_id)).scalar_one()
    runtime.complete_task(visits, task_id, "zhou", {}, groups=DESK)  # checked in, the pass never marked
    view = reception.check_out(visits, "zhou", DESK, _code(visits, instance_id), DURING + timedelta(hours=1))
    assert view.state == "checked_out" and view.checked_in_at is not None
    assert _instance(visits, instance_id).status == "completed"


def test_steps_of_other_processes_issue_no_pass(visits, tmp_path):
    from engine.packages import deployment as packages
    from tests.engine.conftest import write_package

    body = ('<bpmn:startEvent id="s"/><bpmn:userTask id="t" liaison:candidateGroups="reception"/>'
            '<bpmn:endEvent id="e"/>'
            '<bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="t"/><bpmn:sequenceFlow id="f2" sourceRef="t" '
            'targetRef="e"/>')
    packages.deploy_package(visits, packages.load_package(write_package(tmp_path, "plain", {"plain": body})), "admin")
    runtime.start_instance(visits, "plain", {**{"visit_start": "2030-05-20T09:00", "visit_end": "2030-05-20T10:00"}},
                           user="li")
    assert visit_passes.sweep(visits) == 0
    with visits() as session:
        assert session.execute(select(ExternalGrant)).first() is None


def test_the_no_show_timer_is_due_at_the_slots_end_in_the_companys_zone(visits):
    """`visit_end` is written without a zone (a datetime form field): it is the company's local time
    (Asia/Shanghai here), so the no-show timer is due at 03:00 UTC, not at 11:00 UTC."""
    from engine.data.models import Timer
    instance_id = invite(visits)
    with visits() as session:
        due = session.execute(select(Timer.due_at).where(Timer.instance_id == instance_id,
                                                         Timer.status == "pending")).scalars().all()
    assert datetime(2030, 5, 20, 3, 0, tzinfo=UTC) in [d.astimezone(UTC) for d in due]

"""The shipped packages send what they compose: policy_notice (with an optional approval) and needs_survey."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine import runtime
from engine.data.models import HistoryEntry, Notification, ProcessInstance
from engine.data.notice_models import Notice, Survey
from engine.errors import FormInvalidError
from engine.notices import process_link, sending

PROCESSES = Path(__file__).resolve().parents[3] / "processes"


def _notice_of(sessions, instance_id):
    with sessions() as session:
        return session.scalar(select(Notice).where(Notice.instance_id == instance_id))


def test_a_policy_notice_goes_out_when_its_instance_ends_at_sent(sessions, org, deploy_package):
    deploy_package(PROCESSES / "policy_notice")
    result = runtime.start_instance(sessions, "policy_notice", {
        "title": "新考勤制度", "body": "自下月起执行。", "departments": ["rd"], "people": ["hu"], "roles": "hr",
        "ack_required": True, "anonymous": True,
        "questions": [{"question": "是否清楚", "kind": "single", "options": "清楚; 不清楚", "required": "yes"}]},
        user="li")
    assert result.end_event == "sent"
    notice = _notice_of(sessions, result.instance_id)
    assert (notice.sender, notice.kind, notice.ack_required, notice.job) == ("li", "notice", True, "fanout")
    assert notice.audience["roles"] == ["hr"] and notice.total == 4
    with sessions() as session:
        survey = session.get(Survey, notice.survey_id)
        assert survey.anonymous and survey.questions[0]["options"] == ["清楚", "不清楚"]
    assert process_link.send_for_instance(sessions, result.instance_id) == notice.id  # once per instance
    assert sending.run_job(sessions, notice.id) == "sent"


def test_a_notice_waiting_for_approval_is_sent_only_when_approved(sessions, org, deploy_package):
    deploy_package(PROCESSES / "policy_notice")
    result = runtime.start_instance(sessions, "policy_notice", {
        "title": "年假调整", "body": "详见附件", "people": ["zhang"], "ack_required": False, "approver": "zhou"},
        user="li")
    assert result.status == "running" and _notice_of(sessions, result.instance_id) is None
    task = result.open_tasks[0]["id"]
    runtime.complete_task(sessions, task, "zhou", {"approved": True})
    assert _notice_of(sessions, result.instance_id).audience["people"] == ["zhang"]


def test_an_unknown_role_is_refused_when_the_notice_is_submitted(sessions, org, deploy_package):
    deploy_package(PROCESSES / "policy_notice")
    with pytest.raises(FormInvalidError) as refused:
        runtime.start_instance(sessions, "policy_notice", {
            "title": "x", "body": "y", "roles": ["hr", "nobody_has_this"], "ack_required": False}, user="li")
    assert "nobody_has_this" in str(refused.value.errors["roles"])
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(ProcessInstance)) == 0


def test_a_notice_that_cannot_be_sent_is_explained_to_its_sender(sessions, org, deploy_package):
    deploy_package(PROCESSES / "policy_notice")
    result = runtime.start_instance(sessions, "policy_notice", {
        "title": "x", "body": "y", "people": ["zhang"], "ack_required": False,
        "questions": [{"question": "q", "kind": "single", "options": "only one"}]}, user="li")
    assert _notice_of(sessions, result.instance_id) is None
    with sessions() as session:
        entry = session.scalar(select(HistoryEntry).where(HistoryEntry.action == "notice_refused"))
        assert "question 1 needs at least two options" in entry.comment
        assert session.scalar(select(Notification.recipient).where(Notification.event == "notice")) == "li"


def test_the_needs_survey_goes_to_the_chosen_departments(sessions, org, deploy_package):
    deploy_package(PROCESSES / "needs_survey")
    result = runtime.start_instance(sessions, "needs_survey", {
        "title": "培训需求", "everyone": False, "departments": ["team_a"], "anonymous": True,
        "questions": [{"question": "其他建议", "kind": "open"}]}, user="hu")
    notice = _notice_of(sessions, result.instance_id)
    assert notice.kind == "survey" and notice.total == 2 and notice.survey_id is not None


def test_the_sweep_sends_a_notice_a_crash_left_unsent(sessions, org, deploy_package, monkeypatch):
    deploy_package(PROCESSES / "policy_notice")
    monkeypatch.setattr(process_link, "send_for_instance", lambda *_: (_ for _ in ()).throw(RuntimeError("crash")))
    result = runtime.start_instance(sessions, "policy_notice", {
        "title": "t", "body": "b", "people": ["zhang"], "ack_required": False}, user="li")  # the hook failed
    monkeypatch.undo()
    assert _notice_of(sessions, result.instance_id) is None
    assert process_link.sweep(sessions) == 1
    assert _notice_of(sessions, result.instance_id).audience["people"] == ["zhang"]
    assert process_link.sweep(sessions) == 0

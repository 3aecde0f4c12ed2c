"""Notices: the audience, the fan-out in batches, reading and acknowledging, receipts, the reminder."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from engine.data.models import Notification, OutboxMessage, Person, utcnow
from engine.data.notice_models import Notice, NoticeRecipient
from engine.errors import NotFoundError, NotPermittedError
from engine.jobs import dispatch
from engine.notices import receipts, sending
from engine.notices.audience import AudienceError
from engine.notices.sending import NoticeError


def _send(sessions, audience, sender="li", **options) -> int:
    with sessions() as session, session.begin():
        return sending.create_notice(session, sender, "新考勤制度", audience, body="**请阅读** <script>x</script>",
                                     **options)


def _recipients(sessions, notice_id) -> list[str]:
    with sessions() as session:
        return sorted(session.scalars(select(NoticeRecipient.username).where(NoticeRecipient.notice_id == notice_id)))


def test_a_department_reaches_its_subtree_and_a_person_named_twice_once(sessions, org):
    notice_id = _send(sessions, {"departments": ["rd"], "people": ["zhang", "hu"], "roles": ["hr"]})
    with sessions() as session:
        assert session.get(Notice, notice_id).total == 4  # counted when created; nothing delivered yet
        assert _recipients(sessions, notice_id) == []
    assert sending.run_job(sessions, notice_id, batch=2) == "sent"
    # rd's subtree (li, zhang, wang; gone is inactive), hu by name and by role: each once
    assert _recipients(sessions, notice_id) == ["hu", "li", "wang", "zhang"]
    assert sending.run_job(sessions, notice_id, batch=2) == "skipped"
    assert _recipients(sessions, notice_id) == ["hu", "li", "wang", "zhang"]


def test_fan_out_writes_items_and_queued_emails_in_batches_with_progress(sessions, org):
    notice_id = _send(sessions, {"everyone": True}, ack_required=True)
    with sessions() as session, session.begin():
        notice = session.get(Notice, notice_id)
        assert sending._fanout_batch(session, notice, utcnow(), 4) is False  # first batch only
    with sessions() as session:
        assert sending.progress(session, notice_id) == (4, 6, "sending")
    assert sending.run_job(sessions, notice_id, batch=4) == "sent"
    with sessions() as session:
        assert sending.progress(session, notice_id) == (6, 6, "sent")
        items = session.execute(select(Notification.recipient, Notification.link)
                                .where(Notification.event == "notice")).all()
        assert sorted(r for r, _ in items) == ["admin", "hu", "li", "wang", "zhang", "zhou"]
        assert {link for _, link in items} == {f"/notices/{notice_id}"}
        mails = session.execute(select(OutboxMessage.recipient, OutboxMessage.payload)
                                .where(OutboxMessage.channel == "email")).all()
        assert sorted(r for r, _ in mails) == ["admin@example.com", "hu@example.com", "li@example.com",
                                               "zhang@example.com", "zhou@example.com"]  # wang has no address
        english = next(p for r, p in mails if r == "zhang@example.com")
        assert english["subject"] == "[Notice] 新考勤制度" and "I have read and understood" in english["text"]
        assert "<script>" not in english["html"] and "<strong>请阅读</strong>" in english["html"]


def test_the_dispatcher_runs_a_notice_fan_out(sessions, org):
    notice_id = _send(sessions, {"people": ["zhang"]})
    counts = dispatch.run_due(sessions)
    assert counts.get("notice:sent") == 1
    assert _recipients(sessions, notice_id) == ["zhang"]


def test_an_empty_or_unknown_audience_is_refused_and_nothing_is_stored(sessions, org):
    with pytest.raises(AudienceError, match="at least one recipient"):
        _send(sessions, {})
    with pytest.raises(AudienceError, match="unknown role: boss"):
        _send(sessions, {"roles": ["hr", "boss"]})
    with pytest.raises(AudienceError, match="unknown department: nowhere"):
        _send(sessions, {"departments": "rd, nowhere"})
    with pytest.raises(NoticeError, match="title"), sessions() as session, session.begin():
        sending.create_notice(session, "li", "  ", {"everyone": True})
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Notice)) == 0


def test_opening_records_the_read_and_acknowledging_the_ack(sessions, org):
    notice_id = _send(sessions, {"departments": ["team_a"]}, ack_required=True)
    sending.run_job(sessions, notice_id)
    with sessions() as session, session.begin():
        view = receipts.open_notice(session, notice_id, "zhang")
        assert view.is_recipient and view.read_at is not None and view.acknowledged_at is None
        assert "<strong>请阅读</strong>" in view.body_html and "<script>" not in view.body_html
    with sessions() as session, session.begin():
        first = receipts.acknowledge(session, notice_id, "zhang")
    with sessions() as session, session.begin():
        assert receipts.acknowledge(session, notice_id, "zhang") == first  # once; the first time is kept
        assert session.scalar(select(func.count()).select_from(Notification).where(
            Notification.recipient == "zhang", Notification.read_at.is_(None))) == 0
    plain = _send(sessions, {"people": ["zhang"]})
    sending.run_job(sessions, plain)
    with sessions() as session, pytest.raises(NoticeError, match="does not ask for an acknowledgement"):
        receipts.acknowledge(session, plain, "zhang")


def test_only_recipients_sender_and_admins_see_a_notice_and_only_sender_and_admins_its_receipts(sessions, org):
    notice_id = _send(sessions, {"people": ["zhang"]})
    sending.run_job(sessions, notice_id)
    with sessions() as session:
        with pytest.raises(NotFoundError):
            receipts.open_notice(session, notice_id, "wang")  # not a recipient: no such notice
        with pytest.raises(NotPermittedError):
            receipts.receipts(session, "zhang", notice_id)
        with pytest.raises(NotPermittedError):
            receipts.unread_people(session, "wang", notice_id)
        assert receipts.receipts(session, "admin", notice_id).total == 1
        assert receipts.receipts(session, "li", notice_id).total == 1
        assert not receipts.open_notice(session, notice_id, "admin").is_recipient
        assert [n.id for n, *_ in receipts.my_notices(session, "zhang").items] == [notice_id]
        assert receipts.my_notices(session, "wang").items == []


def test_receipts_per_department_match_sql_counts(sessions, org):
    notice_id = _send(sessions, {"everyone": True}, ack_required=True)
    sending.run_job(sessions, notice_id)
    with sessions() as session, session.begin():
        receipts.open_notice(session, notice_id, "zhang")
        receipts.open_notice(session, notice_id, "li")
        receipts.acknowledge(session, notice_id, "hu")
    with sessions() as session:
        result = receipts.receipts(session, "li", notice_id, lang="en")
        tree = {d.name: d for d in result.departments}
        assert [d.name for d in result.departments] == ["HQ", "RD", "TEAM_A", "HR", "—"]
        assert [d.depth for d in result.departments[:4]] == [0, 1, 2, 1]
        for name, code in (("HQ", "hq"), ("RD", "rd"), ("TEAM_A", "team_a"), ("HR", "hr")):
            sql = session.execute(text(
                "SELECT count(*), count(r.read_at), count(r.acknowledged_at) FROM notice_recipient r "
                "JOIN department d ON d.id = r.department_id WHERE r.notice_id = :n AND d.path LIKE "
                "(SELECT path FROM department WHERE code = :c) || '%'"), {"n": notice_id, "c": code}).one()
            assert (tree[name].total, tree[name].read, tree[name].acknowledged) == tuple(sql)
        assert (result.total, result.read, result.acknowledged) == (6, 3, 1)
        assert tree["RD"].read_pct == 66.7 and result.read_pct == 50.0
        unread = receipts.unread_people(session, "li", notice_id, lang="en")
        assert unread.total == 5  # ack required: all but hu still have to act
        assert ("Wang", "TEAM_A") in unread.items


def test_the_unread_are_listed_in_pinyin_order_within_a_department(sessions, org):
    with sessions.begin() as session:
        session.get(Person, org["zhang"]).name = "艾米"  # ai mi: before wang-名 (wang ming), after it by code point
    notice_id = _send(sessions, {"departments": ["team_a"]})
    sending.run_job(sessions, notice_id)
    with sessions() as session:
        assert [name for name, _ in receipts.unread_people(session, "li", notice_id).items] == ["艾米", "wang-名"]


def test_remind_the_unread_once_an_hour(sessions, org):
    notice_id = _send(sessions, {"departments": ["rd"]})
    with sessions() as session, session.begin(), pytest.raises(NoticeError, match="still being sent"):
        receipts.request_reminder(session, "li", notice_id)
    sending.run_job(sessions, notice_id)
    with sessions() as session, session.begin():
        receipts.open_notice(session, notice_id, "wang")
    with sessions() as session, session.begin(), pytest.raises(NotPermittedError):
        receipts.request_reminder(session, "zhang", notice_id)
    now = utcnow()
    with sessions() as session, session.begin():
        receipts.request_reminder(session, "li", notice_id, now=now)
    assert dispatch.run_due(sessions).get("notice:reminded") == 1
    with sessions() as session:
        reminded = session.scalars(select(Notification.recipient).where(Notification.event == "notice_reminder"))
        assert sorted(reminded) == ["li", "zhang"]  # wang has read it
        mails = session.scalars(select(OutboxMessage.payload).where(OutboxMessage.event == "notice_reminder")).all()
        assert sorted(p["to"] for p in mails) == ["li@example.com", "zhang@example.com"]
    with sessions() as session, session.begin(), pytest.raises(NoticeError, match="again in 30 minutes"):
        receipts.request_reminder(session, "li", notice_id, now=now + timedelta(minutes=30))
    with sessions() as session, session.begin():
        receipts.request_reminder(session, "admin", notice_id, now=now + timedelta(minutes=61))
    sending.run_job(sessions, notice_id)
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Notification)
                              .where(Notification.event == "notice_reminder")) == 4


def test_a_robot_endpoint_gets_one_message_and_an_unknown_one_is_refused(sessions, org):
    from engine.notify import delivery
    with sessions() as session, session.begin():
        delivery.add_endpoint(session, "rd-group", "https://oapi.dingtalk.com/robot/send?access_token=x", "dingtalk")
    with pytest.raises(NoticeError, match="no active robot"):
        _send(sessions, {"people": ["zhang"]}, robot="nobody")
    notice_id = _send(sessions, {"departments": ["rd"]}, robot="rd-group")
    sending.run_job(sessions, notice_id, batch=2)
    with sessions() as session:
        robots = session.execute(select(OutboxMessage.recipient, OutboxMessage.payload)
                                 .where(OutboxMessage.channel == "webhook")).all()
        assert len(robots) == 1 and robots[0][0] == "rd-group"
        assert robots[0][1]["title"] == "【通知】新考勤制度" and robots[0][1]["link"].endswith(f"/notices/{notice_id}")


def test_two_workers_on_one_fan_out_reach_everyone_once(postgres_url):
    import threading

    from engine.data import db
    from tests.engine.notices.conftest import build_org
    engine = db.make_engine(postgres_url)
    sessions = db.make_session_factory(engine)
    try:
        build_org(sessions)
        notice_id = _send(sessions, {"everyone": True})
        outcomes = []
        workers = [threading.Thread(target=lambda: outcomes.append(sending.run_job(sessions, notice_id, batch=1)))
                   for _ in range(2)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        assert sorted(outcomes) in (["sent", "skipped"], ["sent", "sent"])
        assert _recipients(sessions, notice_id) == ["admin", "hu", "li", "wang", "zhang", "zhou"]
        with sessions() as session:
            assert sending.progress(session, notice_id) == (6, 6, "sent")
            assert session.scalar(select(func.count()).select_from(Notification)) == 6
    finally:
        engine.dispose()

"""A process package that composes a notice (or a questionnaire) sends it when its instance ends.

package.yaml:

    notice:
      kind: notice          # or survey (a questionnaire without a notice text)
      end_event: sent       # the notice goes out when an instance ends at this end event

The instance's data names it: `title`, `body` (markdown), `attachments`, `people` (usernames),
`departments` (codes; whole subtrees), `roles` (keys; a list or "a, b"), `everyone`, `ack_required`,
`robot` (a webhook endpoint), and for a questionnaire `survey_title`, `questions` (table rows
{question, kind single/multiple/open or 单选/多选/开放题, options "a; b", required}) and `anonymous`.
The initiator is the sender. Called after the step that ended the instance committed (`after_step`);
idempotent (one notice per instance). A notice that cannot be sent (an unknown role, say) leaves a
`notice_refused` history entry with the reason and an in-app message to the initiator. A crash between
the step's commit and this call is mended by `sweep` (the dispatcher's housekeeping, about once a minute).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from engine.caching import BoundedCache
from engine.data import store
from engine.data.models import HistoryEntry, Notification, ProcessInstance, ProcessVersion, utcnow
from engine.data.notice_models import Notice
from engine.errors import LiaisonError, Message
from engine.notices import sending, surveys

log = logging.getLogger(__name__)
YES = ("true", "yes", "1", "是", "y")
SWEEP_WINDOW = timedelta(days=1)  # instances that ended this recently are looked at by `sweep`
SWEEP_LIMIT = 100


CONFIGS: BoundedCache[dict | None] = BoundedCache(256)  # version checksum -> its `notice:` section


def notice_config(session: Session, version_id: int) -> dict | None:
    """The package's `notice:` section, or None: one small read (the version's checksum); the package
    itself is read once per version (versions never change)."""
    checksum = session.scalar(select(ProcessVersion.checksum).where(ProcessVersion.id == version_id))
    if checksum is None:
        return None

    def compute() -> dict | None:
        package = session.scalar(select(ProcessVersion.package).where(ProcessVersion.id == version_id)) or {}
        config = (package.get("meta") or {}).get("notice")
        return config if isinstance(config, dict) else None

    return CONFIGS.get(checksum, compute)


def after_step(sessions, result, version: tuple[int, str] | None = None) -> None:
    """After a step committed: an instance that ended at its package's notice end event sends its notice.
    `version`: the step's (version id, checksum); with it, a version that composes no notice costs no
    query (the answer is cached per version). Never fails the committed step."""
    if result.status != "completed":
        return
    try:
        if version is not None and not _composes_notice(sessions, version):
            return
        send_for_instance(sessions, result.instance_id)
    except Exception:  # noqa: BLE001 - the step is committed; the failure is logged
        log.exception("notice of instance %s: not created", result.instance_id)


def _composes_notice(sessions, version: tuple[int, str]) -> bool:
    version_id, checksum = version

    def compute() -> dict | None:
        with sessions() as session:
            return notice_config(session, version_id)

    return CONFIGS.get(checksum, compute) is not None


def _yes(value) -> bool:
    return value is True or str(value).strip().lower() in YES


def send_for_instance(sessions, instance_id: int) -> int | None:
    """Create (once) the notice a completed instance composed; its id, or None (no notice for it)."""
    i = ProcessInstance.__table__
    with sessions() as session, session.begin():
        instance = session.execute(select(i.c.id, i.c.version_id, i.c.status, i.c.end_event, i.c.initiator)
                                   .where(i.c.id == instance_id)).first()  # not the (large) state
        if instance is None or instance.status != "completed":
            return None
        config = notice_config(session, instance.version_id)
        if not config or instance.end_event != config.get("end_event"):
            return None
        existing = session.scalar(select(Notice.id).where(Notice.instance_id == instance_id))
        if existing is not None:
            return existing
        handle = store.instance_handle(session.connection(), instance_id)
        data = handle.data if handle else {}
        try:
            with session.begin_nested():
                return _create(session, instance, config, data)
        except LiaisonError as exc:
            _refused(session, instance, exc.args[0] if exc.args else str(exc))
            return None


def _create(session: Session, instance, config: dict, data: dict) -> int:
    kind = "survey" if config.get("kind") == "survey" else "notice"
    survey_id = None
    if data.get("questions"):
        survey_id = surveys.define_survey(session, data.get("survey_title") or data.get("title") or "",
                                          data["questions"], _yes(data.get("anonymous")), instance.initiator)
    audience = {"people": data.get("people") or [], "departments": data.get("departments") or [],
                "roles": data.get("roles") or [], "everyone": _yes(data.get("everyone"))}
    attachments = data.get("attachments") or []
    return sending.create_notice(session, instance.initiator or "", str(data.get("title") or ""), audience,
                                 body=data.get("body"), kind=kind, ack_required=_yes(data.get("ack_required")),
                                 survey_id=survey_id, instance_id=instance.id, robot=data.get("robot"),
                                 attachments=attachments if isinstance(attachments, list) else [attachments])


def _refused(session: Session, instance, reason) -> None:
    """The history entry (the reason kept as msgid and params too: the timeline shows it in the reader's
    language) and the sender's in-app message."""
    now = utcnow()
    data = {"msgid": reason.msgid, "params": reason.params} if isinstance(reason, Message) else None
    session.execute(insert(HistoryEntry.__table__), [{"instance_id": instance.id, "at": now, "actor": None,
                                                      "action": "notice_refused", "comment": str(reason),
                                                      "data": data}])
    if instance.initiator:
        session.execute(insert(Notification.__table__), [{
            "recipient": instance.initiator, "event": "notice", "instance_id": instance.id,
            "title": "通知未能发出 / The notice was not sent", "body": str(reason),
            "link": f"/instances/{instance.id}", "created_at": now}])


def sweep(sessions, now: datetime | None = None, limit: int = SWEEP_LIMIT) -> int:
    """Send the notices of instances that ended at their notice end event within the last day and have
    neither a notice nor a `notice_refused` entry (a crash after the step's commit); returns how many."""
    since = (now or utcnow()) - SWEEP_WINDOW
    i, h = ProcessInstance.__table__, HistoryEntry.__table__
    with sessions() as session:
        versions = session.scalars(select(i.c.version_id).where(i.c.status == "completed", i.c.ended_at >= since)
                                   .distinct()).all()
        ends = {v: config["end_event"] for v in versions
                if (config := notice_config(session, v)) and config.get("end_event")}
        missing = []
        for version_id, end_event in ends.items():
            missing += session.scalars(
                select(i.c.id).where(i.c.version_id == version_id, i.c.status == "completed",
                                     i.c.end_event == end_event, i.c.ended_at >= since,
                                     ~select(Notice.id).where(Notice.instance_id == i.c.id).exists(),
                                     ~select(h.c.id).where(h.c.instance_id == i.c.id,
                                                           h.c.action == "notice_refused").exists())
                .limit(limit)).all()
    sent = 0
    for instance_id in missing[:limit]:
        try:
            sent += send_for_instance(sessions, instance_id) is not None
        except Exception:  # noqa: BLE001 - one broken instance must not stop the others
            log.exception("notice of instance %s: not created by the sweep", instance_id)
    return sent

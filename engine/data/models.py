"""Tables of the engine: definitions and versions, instances, inbox task rows, history.

The schema itself is created by the Alembic migrations in `engine/migrations`; these models
must stay in step with them (a test compares the two).

Over 600 lines on purpose: the core tables that reference each other (people, departments, roles,
definitions, instances, tasks, history, notifications, drafts), read whole by the migration check; a
list of column declarations with no logic. Tables of one concern each (external access, rooms,
notices, training, vendor scores, API tokens and webhooks, external tasks, analytics) live in their own
`*_models.py` modules on the same registry, imported at the end of this file.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, validates

from engine.data import sorting


def _name_key(make):
    """A column default: the sort key of the row's `name` (every INSERT that gives a name, ORM or Core)."""
    return lambda context: make(context.get_current_parameters().get("name"))


# Compared byte by byte on both databases (`engine.data.sorting`): SQLite's BINARY, PostgreSQL's "C".
SORT_KEY = String(400).with_variant(String(400, collation="C"), "postgresql")


def utcnow() -> datetime:
    """Timezone-aware now in UTC; every stored time is UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """A point in time, stored in UTC and always returned timezone-aware.

    SQLite keeps no zone: without this, an aware time would be stored as its wall-clock reading
    and come back naive. Naive values given to it are taken as UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    """Declarative base of every Liaison table."""

    type_annotation_map = {datetime: UTCDateTime}


class ProcessDefinition(Base):
    """A process package's identity (its key); its content lives in immutable versions."""

    __tablename__ = "process_definition"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[dict] = mapped_column(JSON, default=dict)  # {"zh": ..., "en": ...}
    category: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    versions: Mapped[list[ProcessVersion]] = relationship(
        back_populates="definition", order_by="ProcessVersion.number")


class ProcessVersion(Base):
    """One deployed, immutable version of a package: its files, parsed spec and checksum."""

    __tablename__ = "process_version"
    __table_args__ = (UniqueConstraint("definition_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definition.id"))
    number: Mapped[int] = mapped_column(Integer)
    process_id: Mapped[str] = mapped_column(String(200))  # BPMN id of the main process
    checksum: Mapped[str] = mapped_column(String(64))
    package: Mapped[dict] = mapped_column(JSON)  # package.yaml, forms, notifications, tests
    bpmn: Mapped[dict] = mapped_column(JSON)  # file name -> BPMN XML text
    spec_json: Mapped[str] = mapped_column(Text)  # parsed spec, stored once per version
    notes: Mapped[str | None] = mapped_column(Text)
    deployed_by: Mapped[str | None] = mapped_column(String(100))
    deployed_at: Mapped[datetime] = mapped_column(default=utcnow)

    definition: Mapped[ProcessDefinition] = relationship(back_populates="versions")


class ProcessInstance(Base):
    """A running or finished instance; `state` is the serialized workflow without its spec."""

    __tablename__ = "process_instance"
    __table_args__ = (
        Index("ix_instance_initiator_status", "initiator", "status"),
        Index("ix_instance_business_key", "business_key"),
        Index("ix_instance_initiator_created", "initiator", "created_at", "id"),  # my requests, newest first
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("process_version.id"))
    process_key: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20))  # running | completed | cancelled | error
    initiator: Mapped[str | None] = mapped_column(String(100))
    business_key: Mapped[str | None] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(Text)  # the process data is in `instance_data`, one row per key
    end_event: Mapped[str | None] = mapped_column(String(200))
    error: Mapped[str | None] = mapped_column(Text)
    revision: Mapped[int] = mapped_column(Integer, default=1)  # optimistic lock counter
    state_key: Mapped[str] = mapped_column(String(32), default="")  # new random value on every save
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column()

    version: Mapped[ProcessVersion] = relationship()


class InstanceData(Base):
    """One key of an instance's process data, so a step writes only the keys it changed.

    `value` is the value's JSON text (TEXT, not JSON: SQLite would give a JSON column NUMERIC
    affinity and turn the text `5` into the integer 5); `ord` keeps the keys in the order the
    process first set them (the step's new revision << 20, plus the key's position in the data).
    Read back as one object by `engine.data.store.process_data`.
    """

    __tablename__ = "instance_data"

    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id", ondelete="CASCADE"),
                                             primary_key=True)
    key: Mapped[str] = mapped_column(Text, primary_key=True)
    ord: Mapped[int] = mapped_column(BigInteger)
    value: Mapped[str] = mapped_column(Text)


class DirectoryVersion(Base):
    """One row (id 1): a counter bumped by triggers on every write to person, role, person_role,
    notification_preference and out_of_office (migration 0019); keys the step's look-up cache."""

    __tablename__ = "directory_version"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)


class WorkTask(Base):
    """A waiting user task, materialized so the inbox is one indexed query (no deserialization)."""

    __tablename__ = "work_task"
    __table_args__ = (
        Index("ix_work_task_instance_status", "instance_id", "status"),
        # the to-do page and counts from the index alone: assigned to me, and the pool (assignee NULL)
        Index("ix_work_task_inbox", "assignee", "status", "created_at", "id", "due_at"),
        Index("ix_work_task_done", "completed_by", "status", "completed_at", "id"),  # the done list
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # the engine's task id
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"))
    element_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str | None] = mapped_column(String(300))
    form: Mapped[str | None] = mapped_column(String(200))
    assignee: Mapped[str | None] = mapped_column(String(100))
    on_behalf_of: Mapped[str | None] = mapped_column(String(100))  # the assignee away; `assignee` is the deputy
    delegated_by: Mapped[str | None] = mapped_column(String(100))  # 委派: the task goes back to them afterwards
    candidate_users: Mapped[list] = mapped_column(JSON, default=list)
    candidate_groups: Mapped[list] = mapped_column(JSON, default=list)
    due_at: Mapped[datetime | None] = mapped_column()
    status: Mapped[str] = mapped_column(String(20), default="open")  # open | completed | cancelled
    completed_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column()

    candidates: Mapped[list[TaskCandidate]] = relationship(cascade="all, delete-orphan")


class TaskCandidate(Base):
    """One candidate (user or group) of an open task, indexed for the "offered to me" inbox query."""

    __tablename__ = "task_candidate"
    __table_args__ = (
        Index("ix_task_candidate_member", "kind", "value", "task_id"),  # "offered to me" from the index alone
    )

    task_id: Mapped[str] = mapped_column(ForeignKey("work_task.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10), primary_key=True)  # user | group
    value: Mapped[str] = mapped_column(String(100), primary_key=True)


class HistoryEntry(Base):
    """Append-only record of every step and action of an instance; never updated or deleted."""

    __tablename__ = "history_entry"
    # ix_history_actor: the instances a person acted on (`runtime.visibility`), the transfers in their done list
    __table_args__ = (Index("ix_history_instance", "instance_id", "id"), Index("ix_history_actor", "actor", "instance_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str | None] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(40))  # started | step | task_completed | cancelled | ...
    element_id: Mapped[str | None] = mapped_column(String(200))
    element_type: Mapped[str | None] = mapped_column(String(60))
    task_id: Mapped[str | None] = mapped_column(String(36))
    comment: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict | None] = mapped_column(JSON)  # an own copy of submitted data


class SerialCounter(Base):
    """The last serial number (流水号) handed out per process, form field and reset scope."""

    __tablename__ = "serial_counter"

    process_key: Mapped[str] = mapped_column(String(100), primary_key=True)
    field: Mapped[str] = mapped_column(String(64), primary_key=True)
    scope: Mapped[str] = mapped_column(String(20), primary_key=True)  # "2026-11" for a monthly pattern
    value: Mapped[int] = mapped_column(Integer)


# -- people and the org chart ------------------------------------------------------------------------

class Department(Base):
    """A node of the department tree; `path` is the chain of ids from the root ("/1/4/9/")."""

    __tablename__ = "department"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(100), unique=True)  # the key imports match on
    name: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str | None] = mapped_column(String(200))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    path: Mapped[str] = mapped_column(String(1000), index=True)
    head_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", use_alter=True, name="fk_department_head"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    sort_key: Mapped[str] = mapped_column(SORT_KEY, default=_name_key(sorting.department_sort_key))

    @validates("name")
    def _keep_sort_key(self, _key: str, name: str) -> str:
        self.sort_key = sorting.department_sort_key(name)
        return name


class Position(Base):
    """A job title (岗位)."""

    __tablename__ = "position"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str | None] = mapped_column(String(200))


class Person(Base):
    """Somebody who signs in: an employee from the org chart, or an administrator-made account.

    `username` is what the engine's assignee and candidate columns hold. `session_version` is
    part of every session: raising it signs the person out everywhere.
    """

    __tablename__ = "person"
    __table_args__ = (Index("ix_person_manager", "manager_id"), Index("ix_person_department", "department_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    employee_no: Mapped[str | None] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str | None] = mapped_column(String(200))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    position_id: Mapped[int | None] = mapped_column(ForeignKey("position.id"))
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)
    locale: Mapped[str | None] = mapped_column(String(10))  # zh / en; None: the browser's
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column()
    password_changed_at: Mapped[datetime | None] = mapped_column()
    last_sign_in_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # the pinyin order of `name` (`engine.data.sorting`): what every list of people is ordered by
    sort_key: Mapped[str] = mapped_column(SORT_KEY, default=_name_key(sorting.sort_key), index=True)

    @validates("name")
    def _keep_sort_key(self, _key: str, name: str) -> str:
        self.sort_key = sorting.sort_key(name)
        return name


class UserSession(Base):
    """One signed-in browser: the cookie holds a random token, this row its SHA-256 (`id`).

    Checked on every request (one primary-key read); `revoked_at` set ends it at once, whoever
    holds a copy of the cookie (`engine.people.sessions`).
    """

    __tablename__ = "user_session"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 hex of the cookie's token
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    session_version: Mapped[int] = mapped_column(Integer)  # the person's when it started; a raise ends it
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()
    user_agent: Mapped[str | None] = mapped_column(String(300))
    ip: Mapped[str | None] = mapped_column(String(64))


class SignInThrottle(Base):
    """Failed sign-ins counted per key (a client, an account, an account from one client):
    `engine.people.throttle`. Keys are hashes, so no typed username is stored."""

    __tablename__ = "sign_in_throttle"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime] = mapped_column(index=True)
    blocked_until: Mapped[datetime | None] = mapped_column()


class AccountToken(Base):
    """A one-time link to set a password: an invitation (`invite`) or an admin's reset (`reset`).

    Only the SHA-256 of the link's random token is stored (`engine.people.invitations`).
    """

    __tablename__ = "account_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(20))  # invite | reset
    created_by: Mapped[str | None] = mapped_column(String(100))  # a username; None: the command line
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column()


class Role(Base):
    """A named role (HR, finance, reception...) used by assignment rules and candidate groups."""

    __tablename__ = "role"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str | None] = mapped_column(String(200))


class PersonRole(Base):
    __tablename__ = "person_role"

    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), primary_key=True)
    role_id: Mapped[int] = mapped_column(ForeignKey("role.id", ondelete="CASCADE"), primary_key=True)


class AdminGrant(Base):
    """An admin tier: `department_id` NULL is a super admin; otherwise admin of that department's subtree."""

    __tablename__ = "admin_grant"
    __table_args__ = (UniqueConstraint("person_id", "department_id", name="uq_admin_grant"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id", ondelete="CASCADE"))


class OutOfOffice(Base):
    """A window in which `deputy_id` receives the person's new tasks."""

    __tablename__ = "out_of_office"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    deputy_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    starts_at: Mapped[datetime] = mapped_column()
    ends_at: Mapped[datetime] = mapped_column()


class Draft(Base):
    """A start form saved unfinished, for its owner to resume later (the raw post, never validated)."""

    __tablename__ = "draft"
    __table_args__ = (Index("ix_draft_owner_updated", "username", "updated_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100))
    process_key: Mapped[str] = mapped_column(String(100))
    data: Mapped[dict] = mapped_column(JSON, default=dict)  # field name -> list of posted strings
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ProcessPermission(Base):
    """A department admin's setting for one process: allowed or forbidden for the department's subtree.

    The nearest department up a person's path with a row decides; without one the package's
    `starters` do (`engine.starting`).
    """

    __tablename__ = "process_permission"
    __table_args__ = (UniqueConstraint("process_key", "department_id", name="uq_process_permission"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    process_key: Mapped[str] = mapped_column(String(100))
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id", ondelete="CASCADE"), index=True)
    allowed: Mapped[bool] = mapped_column()


class Timer(Base):
    """A due time the scheduler must act on (issue 4).

    `kind` "event": a waiting BPMN timer event (`task_id` is its engine task); firing it runs the
    engine. "remind" / "escalate" / "timeout": a user task's reminder, escalation to the
    assignee's manager, or automatic decision (`work_task_id` is the inbox row; `task_id` too).
    `status` pending -> fired | cancelled; `claimed_until` is the scheduler's lease, so a dead
    worker's claim expires and another picks the row up; firing marks the row `fired` in the
    same transaction as the step it causes, only if it is still pending (never twice).
    """

    __tablename__ = "timer"
    __table_args__ = (
        Index("ix_timer_due", "status", "due_at"),
        Index("ix_timer_instance", "instance_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id", ondelete="CASCADE"))
    task_id: Mapped[str] = mapped_column(String(36))
    element_id: Mapped[str | None] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))  # event | remind | escalate | timeout
    due_at: Mapped[datetime] = mapped_column()
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending | fired | cancelled | failed
    claimed_until: Mapped[datetime | None] = mapped_column()
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict | None] = mapped_column(JSON)  # e.g. {"action": "approve"} for a timeout
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    fired_at: Mapped[datetime | None] = mapped_column()


class MessageSubscription(Base):
    """A waiting message catch event or receive task: what `message_name` + `correlation_key` it takes.

    Liaison routes messages by this index with exact keys before SpiffWorkflow sees them
    (SpiffWorkflow alone lets the first message with any key in). Rows go when the event fires
    or its task goes away.
    """

    __tablename__ = "message_subscription"
    __table_args__ = (
        Index("ix_subscription_lookup", "message_name", "correlation_key"),
        Index("ix_subscription_instance", "instance_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id", ondelete="CASCADE"))
    task_id: Mapped[str] = mapped_column(String(36))
    element_id: Mapped[str | None] = mapped_column(String(200))
    message_name: Mapped[str] = mapped_column(String(200))
    correlation_key: Mapped[str | None] = mapped_column(String(200))
    early: Mapped[str] = mapped_column(String(10), default="keep")  # a message sent before: keep | refuse
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class BufferedMessage(Base):
    """A message that matched no waiting instance, kept until `expires_at` for one to reach its event."""

    __tablename__ = "buffered_message"
    __table_args__ = (Index("ix_buffered_lookup", "message_name", "correlation_key", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    message_name: Mapped[str] = mapped_column(String(200))
    correlation_key: Mapped[str | None] = mapped_column(String(200))
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    sender: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), default="waiting")  # waiting | consumed | expired
    instance_id: Mapped[int | None] = mapped_column(Integer)  # who consumed it
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    consumed_at: Mapped[datetime | None] = mapped_column()


class OutboxMessage(Base):
    """One e-mail or webhook call to make, written in the transaction of the step that caused it.

    A delivery job claims it (`status` sending with a lease in `claimed_until`), sends it and
    marks it sent; a failure schedules a retry at `next_attempt_at` with exponential backoff,
    and after the last attempt the row stays `failed` with `last_error`.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "status", "next_attempt_at"),
        Index("ix_outbox_instance", "instance_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int | None] = mapped_column(Integer)
    event: Mapped[str] = mapped_column(String(40))  # task_assigned, approved, ... (see engine.notifications)
    channel: Mapped[str] = mapped_column(String(20))  # email | webhook
    recipient: Mapped[str] = mapped_column(String(500))  # an e-mail address, or a webhook endpoint name
    payload: Mapped[dict] = mapped_column(JSON, default=dict)  # rendered content, ready to send
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending | sending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_until: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column()


class Notification(Base):
    """The in-app channel: a notification the web app's notification center lists (read / unread)."""

    __tablename__ = "notification"
    __table_args__ = (Index("ix_notification_recipient", "recipient", "read_at", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient: Mapped[str] = mapped_column(String(100))  # a username
    event: Mapped[str] = mapped_column(String(40))
    instance_id: Mapped[int | None] = mapped_column(Integer)
    task_id: Mapped[str | None] = mapped_column(String(36))
    title: Mapped[str] = mapped_column(String(500))
    body: Mapped[str | None] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column()


class NotificationPreference(Base):
    """A person's choice for one channel (inapp, email, webhook) and event (`*`: every event)."""

    __tablename__ = "notification_preference"

    username: Mapped[str] = mapped_column(String(100), primary_key=True)
    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    event: Mapped[str] = mapped_column(String(40), primary_key=True)
    enabled: Mapped[bool] = mapped_column()


class WebhookEndpoint(Base):
    """A named webhook target that packages refer to by name (the secret never lives in a package).

    `format`: generic (JSON POST signed with HMAC-SHA256), dingtalk, feishu or wecom (group robots).
    """

    __tablename__ = "webhook_endpoint"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    url: Mapped[str] = mapped_column(String(1000))
    format: Mapped[str] = mapped_column(String(20), default="generic")
    secret: Mapped[str | None] = mapped_column(String(500))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OrgImportJob(Base):
    """An org chart import run in the background (`engine.org_import_jobs`).

    `rows` holds the uploaded file's parsed rows between the preview and the run (cleared when
    the job ends). `status` queued -> running -> done | failed; `done` of `total` people written;
    `updated_at` is the heartbeat of a running job. The data and `status` done are committed
    together, so a job that is not done has applied nothing.
    """

    __tablename__ = "org_import_job"
    __table_args__ = (Index("ix_org_import_job_starter", "started_by", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    started_by: Mapped[str] = mapped_column(String(100))  # a username
    status: Mapped[str] = mapped_column(String(20), default="queued")  # queued | running | done | failed
    file_name: Mapped[str] = mapped_column(String(300))
    total: Mapped[int] = mapped_column(Integer, default=0)
    done: Mapped[int] = mapped_column(Integer, default=0)
    rows: Mapped[dict | None] = mapped_column(JSON)  # the parsed file (engine.org_import_jobs.table_to_json)
    summary: Mapped[dict | None] = mapped_column(JSON)  # {"created": n, "updated": n, "deactivated": n, ...}
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class CcRecord(Base):
    """An instance copied (抄送) to a person, once per person and instance (`engine.operations.cc`).

    `read_at` is set the first time the person opens the instance's page.
    """

    __tablename__ = "cc_record"
    __table_args__ = (UniqueConstraint("instance_id", "username", name="uq_cc_record"),
                      Index("ix_cc_record_recipient", "username", "read_at", "created_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"))
    username: Mapped[str] = mapped_column(String(100))  # the person it was copied to
    cc_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column()


class ApprovalItem(Base):
    """One signer of an approval node with a mode (issue 6): sequential (依次), all (会签), any (或签),
    vote (票签). `task_id` is the node's `work_task` row. `status`: waiting (a later signer of a
    sequential node), open, approved, rejected, cancelled (the node was decided or went away)."""

    __tablename__ = "approval_item"
    __table_args__ = (
        Index("ix_approval_item_task", "task_id", "position"),
        Index("ix_approval_item_signer", "signer", "status"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    task_id: Mapped[str] = mapped_column(String(36))
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id", ondelete="CASCADE"))
    signer: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer)
    weight: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(20))
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column()


class Upload(Base):
    """A file uploaded through the web app (`POST /files`; the bytes are in the FileStore under `id`).

    `owner` uploaded it; until `instance_id` is set (the file was attached to a form submission or
    a decision / operation of that instance) only the owner may reference or download it; afterwards
    whoever may view the instance downloads it (`engine.uploads`).
    """

    __tablename__ = "upload"
    __table_args__ = (Index("ix_upload_owner", "owner", "created_at"),
                      Index("ix_upload_instance", "instance_id"))

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # the FileStore id (32 hex digits)
    owner: Mapped[str] = mapped_column(String(100))  # a username
    name: Mapped[str] = mapped_column(String(300))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content_type: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id", ondelete="CASCADE"))


class CalendarDay(Base):
    """A day that is not what its weekday says: a weekday off (`holiday`) or a weekend day worked
    (`workday`, 调休). Every other Monday to Friday is a workday (`engine.data.calendar`)."""

    __tablename__ = "calendar_day"
    __table_args__ = (CheckConstraint("kind IN ('holiday', 'workday')", name="ck_calendar_day_kind"),)

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    name_zh: Mapped[str | None] = mapped_column(String(100))
    name_en: Mapped[str | None] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(30))  # "chinese-calendar" or "admin"
    updated_by: Mapped[str | None] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class PackageDraft(Base):
    """A package being edited in the designer: its files (path -> text) and a revision counter that every
    save raises (a save naming an older revision is refused: someone else saved in between).

    `category` and `name` repeat package.yaml's, for the list and the permission check without parsing.
    """

    __tablename__ = "package_draft"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[dict] = mapped_column(JSON, default=dict)  # {"zh": ..., "en": ...}
    category: Mapped[str | None] = mapped_column(String(100))
    files: Mapped[dict] = mapped_column(JSON, default=dict)  # relative path -> text
    revision: Mapped[int] = mapped_column(Integer, default=1)
    based_on_version: Mapped[int | None] = mapped_column(Integer)  # the deployed version it started from
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class DesignerGrant(Base):
    """Process owners of a category: a person or a role may edit / deploy / migrate its packages."""

    __tablename__ = "designer_grant"
    __table_args__ = (
        CheckConstraint("(person_id IS NULL) <> (role_key IS NULL)", name="ck_designer_grant_holder"),
        Index("ix_designer_grant_category", "category"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    category: Mapped[str] = mapped_column(String(100))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    role_key: Mapped[str | None] = mapped_column(String(100))
    can_edit: Mapped[bool] = mapped_column(default=True)
    can_deploy: Mapped[bool] = mapped_column(default=False)
    can_migrate: Mapped[bool] = mapped_column(default=False)
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DesignerAudit(Base):
    """Who changed what in the designer and when (create, import, save, deploy, migrate, grant...)."""

    __tablename__ = "designer_audit"
    __table_args__ = (Index("ix_designer_audit_key_at", "key", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    username: Mapped[str | None] = mapped_column(String(100))
    key: Mapped[str | None] = mapped_column(String(100))  # the package; None for a grant
    action: Mapped[str] = mapped_column(String(20))
    detail: Mapped[dict] = mapped_column(JSON, default=dict)


# Tables of one concern each live in their own modules on the same registry: external access (issue 17),
# bookable rooms with their bookings, policy notices with their surveys, training assessments, vendor
# selection's scores, the REST API's tokens, kept responses and webhook subscriptions (issue 13), external
# service tasks for outside workers, cross-instance signals, task collaboration's projects (issue 20).
from engine.data import (  # noqa: E402,F401
    analytics_models,
    api_models,
    external_models,
    external_task_models,
    notice_models,
    project_models,
    room_models,
    signal_models,
    training_models,
    vendor_models,
    webhook_models,
)

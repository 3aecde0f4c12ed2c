"""Tables of external access (issue 17): external parties (suppliers, customers) and their contacts,
the grants an outsider enters with (a scoped link, an invitation code, a visitor's pass), portal
sessions, e-mailed sign-in codes, the case an instance is for, every access, and the visitor blacklist.

Outsiders never get a `person` row or a `user_session`: they act in the engine under an identity
string `ext:contact:ID` or `ext:grant:ID` (usernames and role keys may not start with `ext:`),
and an external user task is offered to the group `ext:KIND` (supplier, customer, visitor); which
instance a principal may touch is decided by `engine.external` from these tables.
Tokens and codes are stored only as SHA-256 digests.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engine.data.models import Base, utcnow


class ExternalParty(Base):
    """A supplier or a customer account; `key` is the code process data and imports refer to it by."""

    __tablename__ = "external_party"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # supplier | customer
    key: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    name_en: Mapped[str | None] = mapped_column(String(300))
    active: Mapped[bool] = mapped_column(default=True)  # False: revoked, every grant and session of it refused
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ExternalContact(Base):
    """A person of a party; signs in to the portal with a one-time code e-mailed to `email`."""

    __tablename__ = "external_contact"
    __table_args__ = (Index("ix_external_contact_email", "email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    party_id: Mapped[int] = mapped_column(ForeignKey("external_party.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))  # stored lower-case
    phone: Mapped[str | None] = mapped_column(String(50))
    locale: Mapped[str] = mapped_column(String(10), default="zh")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_sign_in_at: Mapped[datetime | None] = mapped_column()


class ExternalCase(Base):
    """The external side of an instance: the party it is for (None for a visitor) and where links go."""

    __tablename__ = "external_case"
    __table_args__ = (Index("ix_external_case_party", "party_id", "created_at"),)

    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id", ondelete="CASCADE"),
                                             primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # supplier | customer | visitor
    party_id: Mapped[int | None] = mapped_column(ForeignKey("external_party.id", ondelete="CASCADE"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("external_contact.id", ondelete="SET NULL"))
    email: Mapped[str | None] = mapped_column(String(254))  # a visitor's address (no contact row)
    name: Mapped[str | None] = mapped_column(String(200))  # a visitor's name, shown to employees
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ExternalGrant(Base):
    """What an outsider enters with: a scoped link (`link`), an invitation code (`code`) or a visitor's
    pass (`pass`), bound to an instance, a process's start form, or a party; a validity window and scopes
    (view, fill, upload, submit); revocable. `token_hash` is the SHA-256 of the link's token or of the
    normalized code."""

    __tablename__ = "external_grant"
    __table_args__ = (Index("ix_external_grant_instance", "instance_id"),
                      Index("ix_external_grant_party", "party_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # link | code | pass
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    party_id: Mapped[int | None] = mapped_column(ForeignKey("external_party.id", ondelete="CASCADE"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("external_contact.id", ondelete="CASCADE"))
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instance.id", ondelete="CASCADE"))
    task_id: Mapped[str | None] = mapped_column(String(36), unique=True)  # the external task it was issued for
    process_key: Mapped[str | None] = mapped_column(String(100))  # a start-form grant (submit a new request)
    scopes: Mapped[list] = mapped_column(JSON, default=list)
    label: Mapped[str | None] = mapped_column(String(200))  # who it is for, shown to admins
    recipient: Mapped[str | None] = mapped_column(String(254))  # the address it was sent to
    valid_from: Mapped[datetime] = mapped_column(default=utcnow)
    valid_until: Mapped[datetime] = mapped_column()
    created_by: Mapped[str | None] = mapped_column(String(100))  # a username; None: the engine
    host: Mapped[str | None] = mapped_column(String(100))  # a visitor's code issued on behalf of this host
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column()
    revoked_by: Mapped[str | None] = mapped_column(String(100))
    last_used_at: Mapped[datetime | None] = mapped_column()
    use_count: Mapped[int] = mapped_column(Integer, default=0)
    # a visitor's pass: checked in and out at reception
    checked_in_at: Mapped[datetime | None] = mapped_column()
    checked_in_by: Mapped[str | None] = mapped_column(String(100))
    checked_out_at: Mapped[datetime | None] = mapped_column()
    checked_out_by: Mapped[str | None] = mapped_column(String(100))


class ExternalSession(Base):
    """A portal browser: the cookie holds a random token, this row its SHA-256. It is a contact's
    (signed in with an e-mailed code) or a grant's (entered with a link or a code)."""

    __tablename__ = "external_session"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("external_contact.id", ondelete="CASCADE"),
                                                  index=True)
    grant_id: Mapped[int | None] = mapped_column(ForeignKey("external_grant.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))


class ExternalSignInCode(Base):
    """A one-time code e-mailed to a contact; valid minutes, a few attempts, used once."""

    __tablename__ = "external_sign_in_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("external_contact.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    used_at: Mapped[datetime | None] = mapped_column()


class ExternalAccess(Base):
    """Every access by an outsider, and every refused attempt: who, when, from where, what."""

    __tablename__ = "external_access"
    __table_args__ = (Index("ix_external_access_at", "at"),
                      Index("ix_external_access_party", "party_id", "at"),
                      Index("ix_external_access_grant", "grant_id", "at"))

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    grant_id: Mapped[int | None] = mapped_column(Integer)  # no foreign keys: the log outlives what it names
    contact_id: Mapped[int | None] = mapped_column(Integer)
    party_id: Mapped[int | None] = mapped_column(Integer)
    instance_id: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(40))  # enter, sign_in, view, fill, upload, download, submit...
    outcome: Mapped[str] = mapped_column(String(20))  # ok | refused | expired | revoked | throttled | unknown
    path: Mapped[str | None] = mapped_column(String(500))
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    detail: Mapped[str | None] = mapped_column(Text)


class VisitorBlacklist(Base):
    """People reception must not let in, matched by phone or by name and company."""

    __tablename__ = "visitor_blacklist"
    __table_args__ = (Index("ix_visitor_blacklist_phone", "phone"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(50))
    company: Mapped[str | None] = mapped_column(String(300))
    reason: Mapped[str] = mapped_column(String(500))
    active: Mapped[bool] = mapped_column(default=True)
    added_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

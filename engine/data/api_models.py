"""Tables of the REST API (issue 13): bearer tokens and the responses kept for `Idempotency-Key` retries.

A token belongs to a person: an employee, or a named system account an integration acts as (a person
row made for it, such as `erp`). Only the token's SHA-256 digest is stored; the secret is shown once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.data.models import Base, utcnow


class ApiToken(Base):
    """A bearer token: who it acts as, what it may do (`scopes`), until when; revoked tokens stay listed."""

    __tablename__ = "api_token"
    __table_args__ = (Index("ix_api_token_person", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # hex SHA-256 of the secret
    prefix: Mapped[str] = mapped_column(String(16))  # the secret's first characters, to tell tokens apart
    scopes: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(100))
    expires_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()
    last_used_at: Mapped[datetime | None] = mapped_column()


class ApiIdempotency(Base):
    """The first response to a POST with an `Idempotency-Key`, per token and key, for 24 hours."""

    __tablename__ = "api_idempotency"
    __table_args__ = (UniqueConstraint("token_id", "key", name="uq_api_idempotency_token_key"),
                      Index("ix_api_idempotency_created", "created_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    token_id: Mapped[int] = mapped_column(Integer)
    key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))  # method, path and body
    status: Mapped[int] = mapped_column(Integer)
    response: Mapped[str] = mapped_column(Text)  # the JSON body as sent
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

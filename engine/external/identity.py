"""Who an outsider is to the engine.

An outsider never has a `person` row. In the engine (history `actor`, task `completed_by`, instance
`initiator`, upload `owner`) they are an identity string: `ext:contact:ID` for a contact of a party
who signed in with an e-mailed code, `ext:grant:ID` for whoever holds a link or an invitation code.
External user tasks are offered to the group `ext:KIND`; no employee has such a group, because
usernames and role keys may not start with `ext:` (`reserved`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.results import EXTERNAL_PREFIX

PREFIX = EXTERNAL_PREFIX
KINDS = ("supplier", "customer", "visitor")  # what a `liaison:external` node may name
PARTY_KINDS = ("supplier", "customer")  # the kinds that are accounts with contacts
SCOPES = ("view", "fill", "upload", "submit")


def reserved(name: str | None) -> bool:
    """True for a username or role key an outsider's identity or group could collide with."""
    return bool(name) and name.strip().lower().startswith(PREFIX)


def contact_identity(contact_id: int) -> str:
    return f"{PREFIX}contact:{contact_id}"


def grant_identity(grant_id: int) -> str:
    return f"{PREFIX}grant:{grant_id}"


def external_group(kind: str) -> str:
    """The candidate group of an external task of `kind` (supplier, customer, visitor)."""
    return f"{PREFIX}{kind}"


def is_external(name: str | None) -> bool:
    return bool(name) and name.startswith(PREFIX)


def parse_identity(name: str) -> tuple[str, int] | None:
    """`ext:contact:7` -> ("contact", 7); None for anything else."""
    parts = name.split(":") if is_external(name) else []
    if len(parts) == 3 and parts[1] in ("contact", "grant") and parts[2].isdigit():
        return parts[1], int(parts[2])
    return None


@dataclass(frozen=True)
class Principal:
    """An outsider in the portal: a contact (`contact_id`, their party's cases) or a grant's holder
    (`grant_id`, bound to one instance, one start form, or one party). `kind` is the party's kind
    (supplier, customer) or `visitor`; `scopes` what the grant allows (a contact: all four)."""

    identity: str
    kind: str
    party_id: int | None = None
    contact_id: int | None = None
    grant_id: int | None = None
    instance_id: int | None = None  # a grant bound to one instance
    process_key: str | None = None  # a grant bound to one start form
    scopes: tuple[str, ...] = field(default=SCOPES)
    display_name: str = ""
    locale: str = "zh"

    @property
    def groups(self) -> tuple[str, ...]:
        """The groups this principal acts with in the engine: the external tasks of its kind."""
        return (external_group(self.kind),)

    def allows(self, scope: str) -> bool:
        return scope in self.scopes

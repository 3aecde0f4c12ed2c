"""How outsiders' identities read on employees' pages (history, task lists, instance views).

`ext:contact:ID` -> "Party · Contact" (the party's English name on en pages when it has one);
`ext:grant:ID` -> its party's name, else the case's visitor name, else the grant's label, else
"External visitor" / "外部访客". Two queries at most, whatever the number of identities.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, select

from engine.data.external_models import ExternalCase, ExternalContact, ExternalGrant, ExternalParty
from engine.people.org import display_names as people_names

from .grants import VISITOR_NAME
from .identity import parse_identity


def _party_name(name: str | None, name_en: str | None, lang: str) -> str | None:
    return (name_en or name) if lang == "en" else name


def display_names(conn: Connection, identities: Iterable[str], lang: str = "zh") -> dict[str, str]:
    """{identity: text} for every `ext:contact:ID` / `ext:grant:ID` among `identities` (others are left out;
    an id that no longer exists reads as an external visitor)."""
    wanted: dict[str, dict[int, str]] = {"contact": {}, "grant": {}}
    for name in set(identities):
        parsed = parse_identity(name) if name else None
        if parsed:
            wanted[parsed[0]][parsed[1]] = name
    visitor = VISITOR_NAME.get(lang, VISITOR_NAME["zh"])
    names = {name: visitor for ids in wanted.values() for name in ids.values()}
    if wanted["contact"]:
        rows = conn.execute(select(ExternalContact.id, ExternalContact.name, ExternalParty.name.label("party"),
                                   ExternalParty.name_en)
                            .join(ExternalParty, ExternalParty.id == ExternalContact.party_id)
                            .where(ExternalContact.id.in_(wanted["contact"])))
        for row in rows:
            names[wanted["contact"][row.id]] = f"{_party_name(row.party, row.name_en, lang)} · {row.name}"
    if wanted["grant"]:
        rows = conn.execute(select(ExternalGrant.id, ExternalGrant.label, ExternalParty.name.label("party"),
                                   ExternalParty.name_en, ExternalCase.name.label("visitor"))
                            .outerjoin(ExternalParty, ExternalParty.id == ExternalGrant.party_id)
                            .outerjoin(ExternalCase, ExternalCase.instance_id == ExternalGrant.instance_id)
                            .where(ExternalGrant.id.in_(wanted["grant"])))
        for row in rows:
            # the party or the visitor acts through the link; the label (for engine-issued links, the
            # step it was sent for) names a person only on a grant issued by hand without either
            names[wanted["grant"][row.id]] = (_party_name(row.party, row.name_en, lang) or row.visitor or row.label
                                              or visitor)
    return names


def actor_names(session, identities: Iterable[str], lang: str = "zh") -> dict[str, str]:
    """{username or outsider identity: display name}: employees by `org.display_names`, outsiders
    (`ext:contact:ID`, `ext:grant:ID`) as `display_names` says. No query for outsiders when there is none."""
    wanted = {name for name in identities if name}
    outsiders = {name for name in wanted if parse_identity(name)}
    names = people_names(session, wanted - outsiders, lang)
    if outsiders:
        names.update(display_names(session.connection(), outsiders, lang))
    return names

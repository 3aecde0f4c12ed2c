"""Who hears about a step: the people named by its events, the members of the named groups, their
notification preferences, and (for the engine step) whether any new task's assignee is away.

All of it is one statement (`look_up`), built from the rules' owners: preferences are read here and
judged by `center.is_enabled`; who is away is `org.away_exists`, the test `org.deputies_of` starts
from. No events and nobody to check: no statement.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Boolean, Connection, String, bindparam, cast, literal, null, or_, select, union_all

from engine.data.models import NotificationPreference, PersonRole, Role
from engine.data.models import Person as PersonRow
from engine.people.org import away_exists

GROUP_CAP = 200  # people reached through groups, per event


@dataclass(frozen=True)
class Person:
    username: str
    name: str | None
    name_en: str | None
    email: str | None
    locale: str | None
    active: bool


@dataclass
class Directory:
    """What rendering a step's events needs to know about people, looked up together."""

    people: dict[str, Person] = field(default_factory=dict)  # named recipients, actors, group members
    members: dict[str, list] = field(default_factory=dict)  # role key -> active usernames (capped)
    preferences: dict[str, dict[str, dict[str, bool]]] = field(default_factory=dict)  # user -> channel -> event
    anyone_away: bool = False  # one of the `away` names given to `look_up` has an open window


_P = PersonRow.__table__
_PREF = NotificationPreference.__table__
_TEXT = String(200)
_MEMBERS = (select(_P.c.username, _P.c.name, _P.c.name_en, _P.c.email, _P.c.locale, _P.c.active,
                   Role.key.label("role_key"))
            .join(PersonRole, PersonRole.person_id == _P.c.id).join(Role, Role.id == PersonRole.role_id)
            .where(Role.key.in_(bindparam("b_groups", expanding=True)), _P.c.active)
            .order_by(_P.c.username).limit(bindparam("b_limit")).subquery())
_NO_TEXT, _NO_FLAG = cast(null(), _TEXT), cast(null(), Boolean)
# one row shape for all four parts: kind, person columns, role key, preference columns, flag
_LOOK_UP = union_all(
    select(literal("p", _TEXT), _P.c.username, _P.c.name, _P.c.name_en, _P.c.email, _P.c.locale, _P.c.active,
           _NO_TEXT, _NO_TEXT, _NO_TEXT, _NO_FLAG)
    .where(_P.c.username.in_(bindparam("b_names", expanding=True))),
    select(literal("m", _TEXT), _MEMBERS.c.username, _MEMBERS.c.name, _MEMBERS.c.name_en, _MEMBERS.c.email,
           _MEMBERS.c.locale, _MEMBERS.c.active, _MEMBERS.c.role_key, _NO_TEXT, _NO_TEXT, _NO_FLAG),
    select(literal("f", _TEXT), _PREF.c.username, _NO_TEXT, _NO_TEXT, _NO_TEXT, _NO_TEXT, _NO_FLAG,
           _NO_TEXT, _PREF.c.channel, _PREF.c.event, _PREF.c.enabled)
    .where(or_(_PREF.c.username.in_(bindparam("b_names", expanding=True)),
               _PREF.c.username.in_(select(_MEMBERS.c.username)))),
    select(literal("a", _TEXT), _NO_TEXT, _NO_TEXT, _NO_TEXT, _NO_TEXT, _NO_TEXT, _NO_FLAG, _NO_TEXT,
           _NO_TEXT, _NO_TEXT, away_exists(bindparam("b_away", expanding=True), bindparam("b_at"))),
)


def look_up(conn: Connection, events: Iterable, away: Iterable[str] = (), at: datetime | None = None) -> Directory:
    """The `Directory` of `events` (their recipients, actors and groups' members, with everyone's
    preferences) and whether any of `away` is out of office at `at`: one statement, none when
    there is nothing to look up."""
    names: set[str] = set()
    groups: set[str] = set()
    for event in events:
        names.update(n for n in event.recipients if n)
        groups.update(g for g in event.groups if g)
        if event.actor:
            names.add(event.actor)
    away = sorted(set(a for a in away if a))
    found = Directory()
    if not names and not groups and not away:
        return found
    rows = conn.execute(_LOOK_UP, {"b_names": sorted(names), "b_groups": sorted(groups),
                                   "b_limit": (GROUP_CAP + 1) * len(groups), "b_away": away,
                                   "b_at": at})
    for kind, username, name, name_en, email, locale, active, role_key, channel, event, flag in rows:
        if kind == "a":
            found.anyone_away = bool(flag)
        elif kind == "f":
            found.preferences.setdefault(username, {}).setdefault(channel, {})[event] = bool(flag)
        else:
            found.people[username] = Person(username, name, name_en, email, locale, bool(active))
            if kind == "m":
                found.members.setdefault(role_key, []).append(username)
    return found

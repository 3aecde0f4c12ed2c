"""Who hears about a step: the people named by its events, the members of the named groups, their
notification preferences, and (for the engine step) whether any new task's assignee is away.

All of it is one statement (`look_up`), built from the rules' owners: preferences are read here and
judged by `center.is_enabled`; out-of-office windows are `org.away_windows`, judged by
`org.window_open` at the step's time. No events and nobody to check: no statement. Given the
directory's version (`directory_version`, bumped by triggers on every directory write and read with
the step's task row), the result is kept per process and the same look-up costs no statement.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Boolean, Connection, String, bindparam, cast, literal, null, or_, select, union_all

from engine.caching import BoundedCache
from engine.data.models import NotificationPreference, PersonRole, Role, UTCDateTime
from engine.data.models import Person as PersonRow
from engine.people.org import away_windows, window_open

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
    windows: list = field(default_factory=list)  # (starts_at, ends_at) of every window of the `away` names


_P = PersonRow.__table__
_PREF = NotificationPreference.__table__
_TEXT = String(200)
_MEMBERS = (select(_P.c.username, _P.c.name, _P.c.name_en, _P.c.email, _P.c.locale, _P.c.active,
                   Role.key.label("role_key"))
            .join(PersonRole, PersonRole.person_id == _P.c.id).join(Role, Role.id == PersonRole.role_id)
            .where(Role.key.in_(bindparam("b_groups", expanding=True)), _P.c.active)
            .order_by(_P.c.sort_key, _P.c.username).limit(bindparam("b_limit")).subquery())
_NO_TEXT, _NO_FLAG, _NO_TIME = cast(null(), _TEXT), cast(null(), Boolean), cast(null(), UTCDateTime())
_WINDOWS = away_windows(bindparam("b_away", expanding=True)).subquery()
# one row shape for all four parts: kind, person columns, role key, preference columns, window
_LOOK_UP = union_all(
    select(literal("p", _TEXT), _P.c.username, _P.c.name, _P.c.name_en, _P.c.email, _P.c.locale, _P.c.active,
           _NO_TEXT, _NO_TEXT, _NO_TEXT, _NO_FLAG, _NO_TIME, _NO_TIME)
    .where(_P.c.username.in_(bindparam("b_names", expanding=True))),
    select(literal("m", _TEXT), _MEMBERS.c.username, _MEMBERS.c.name, _MEMBERS.c.name_en, _MEMBERS.c.email,
           _MEMBERS.c.locale, _MEMBERS.c.active, _MEMBERS.c.role_key, _NO_TEXT, _NO_TEXT, _NO_FLAG, _NO_TIME,
           _NO_TIME),
    select(literal("f", _TEXT), _PREF.c.username, _NO_TEXT, _NO_TEXT, _NO_TEXT, _NO_TEXT, _NO_FLAG,
           _NO_TEXT, _PREF.c.channel, _PREF.c.event, _PREF.c.enabled, _NO_TIME, _NO_TIME)
    .where(or_(_PREF.c.username.in_(bindparam("b_names", expanding=True)),
               _PREF.c.username.in_(select(_MEMBERS.c.username)))),
    select(literal("a", _TEXT), _NO_TEXT, _NO_TEXT, _NO_TEXT, _NO_TEXT, _NO_TEXT, _NO_FLAG, _NO_TEXT,
           _NO_TEXT, _NO_TEXT, _NO_FLAG, _WINDOWS.c.starts_at, _WINDOWS.c.ends_at),
)

LOOK_UPS: BoundedCache[Directory] = BoundedCache(1024)  # (database, directory version, names, groups, away)


def look_up(conn: Connection, events: Iterable, away: Iterable[str] = (), at: datetime | None = None,
            version: int | None = None) -> Directory:
    """The `Directory` of `events` (their recipients, actors and groups' members, with everyone's
    preferences) and whether any of `away` is out of office at `at`: one statement, none when
    there is nothing to look up or `version` (the directory's) has the same look-up cached."""
    names: set[str] = set()
    groups: set[str] = set()
    for event in events:
        names.update(n for n in event.recipients if n)
        groups.update(g for g in event.groups if g)
        if event.actor:
            names.add(event.actor)
    away = sorted(set(a for a in away if a))
    if not names and not groups and not away:
        return Directory()
    params = {"b_names": sorted(names), "b_groups": sorted(groups), "b_limit": (GROUP_CAP + 1) * len(groups),
              "b_away": away}
    if version is None:
        found = _read(conn, params)
    else:
        key = (str(conn.engine.url), version, tuple(params["b_names"]), tuple(params["b_groups"]), tuple(away))
        found = LOOK_UPS.get(key, lambda: _read(conn, params))
    # the cached object is shared: its dicts are only read; the flag depends on the step's time
    return Directory(found.people, found.members, found.preferences,
                     at is not None and any(window_open(starts, ends, at) for starts, ends in found.windows),
                     found.windows)


def _read(conn: Connection, params: dict) -> Directory:
    found = Directory()
    for kind, username, name, name_en, email, locale, active, role_key, channel, event, flag, starts, ends \
            in conn.execute(_LOOK_UP, params):
        if kind == "a":
            found.windows.append((starts, ends))
        elif kind == "f":
            found.preferences.setdefault(username, {}).setdefault(channel, {})[event] = bool(flag)
        else:
            found.people[username] = Person(username, name, name_en, email, locale, bool(active))
            if kind == "m":
                found.members.setdefault(role_key, []).append(username)
    return found

"""What the search box of the inbox lists finds: one rule for the to-do, done, copied-to-me and my-requests
lists."""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, or_, select

from engine.caching import BoundedCache
from engine.data.models import Person, ProcessDefinition, ProcessInstance, ProcessVersion, WorkTask
from engine.results import element_names
from engine.runtime.versions import PACKAGE_CACHE

MAX_SEARCH = 100  # characters of a search that are matched; nobody types more

_instance = ProcessInstance.__table__
_definition = ProcessDefinition.__table__
_person = Person.__table__
_task = WorkTask.__table__
_version = ProcessVersion.__table__

# checksum -> ((element id, its package names in every language, casefolded), ...); a checksum is one package
_ELEMENT_WORDS: BoundedCache[tuple] = BoundedCache(4096)


def request_search(search: str, *also: ColumnElement[bool], initiator: bool = True) -> ColumnElement[bool]:
    """The one rule for what the inbox lists' search box finds (to-do, done, copied to me, my requests): a request whose
    process key or process name (Chinese or English), business key, or, with `initiator`, initiator's
    username or display name (Chinese or English) contains `search`, case-insensitively; or any of `also`.
    Needs `_instance` and `_definition` in the statement.

    The initiator's names are an EXISTS on `person` by its unique username, so a search costs what the
    user's own list costs plus one index probe per listed request (PostgreSQL may instead hash the matching
    people once, for a long list); never a scan of the whole directory per row. An IN over every matching
    person was tried first: it scanned all 20,000 people twice per search (once per branch of the to-do
    union), 2 x 18 ms for a typical user's 40 tasks. See docs/benchmarks.md, "Inbox".
    """
    text = search.strip()[:MAX_SEARCH]
    conditions = [_instance.c.process_key.icontains(text, autoescape=True),
                  _definition.c.name["zh"].as_string().icontains(text, autoescape=True),
                  _definition.c.name["en"].as_string().icontains(text, autoescape=True),
                  _instance.c.business_key.icontains(text, autoescape=True), *also]
    if initiator:
        named = (select(_person.c.id).where(_person.c.username == _instance.c.initiator,
                                            or_(_person.c.name.icontains(text, autoescape=True),
                                                _person.c.name_en.icontains(text, autoescape=True)))
                 .exists())
        conditions += [_instance.c.initiator.icontains(text, autoescape=True), named]
    return or_(*conditions)


def task_search(conn, search: str) -> ColumnElement[bool]:
    """The tasks whose name as people read it contains `search`: the BPMN name, or the name the task's
    package gives it in any language (package.yaml `names`, what the lists show: "参加考核" for a task drawn
    as "Take the assessment"). Needs `_instance` and `_task` in the statement.

    The package names are matched here, not in SQL: one small query for the deployed versions' checksums,
    each version's names kept per checksum; the matches become `(version, element ids)` conditions.
    """
    text = search.strip()[:MAX_SEARCH]
    needle = text.casefold()
    conditions = [_task.c.name.icontains(text, autoescape=True)]
    for version_id, checksum in conn.execute(select(_version.c.id, _version.c.checksum)):
        words = _ELEMENT_WORDS.get(checksum, lambda v=version_id, c=checksum: _words_of(conn, v, c))
        hits = [element for element, names in words if needle in names]
        if hits:
            conditions.append(and_(_instance.c.version_id == version_id, _task.c.element_id.in_(hits)))
    return or_(*conditions)


def _words_of(conn, version_id: int, checksum: str) -> tuple:
    names = element_names(PACKAGE_CACHE.get(conn, version_id, checksum))
    return tuple((element, "\x00".join(str(v).casefold() for v in entry.values() if isinstance(v, str)))
                 for element, entry in names.items() if isinstance(entry, dict))

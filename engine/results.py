"""Plain records the engine hands to its callers: a page of a list, JSON-ready values, localized names.

A leaf: imports nothing of engine, so every layer may use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

ON_BEHALF_OF_KEY = "_on_behalf_of"  # in a completion's history data: whom a deputy completed the task for
EXTERNAL_PREFIX = "ext:"  # outsiders' identities and groups (engine.external); no username or role key starts so
SYSTEM_ACTOR = "system"  # the engine's own actor (a task decided on timeout, the diagram's CC); no username is it
MAX_PAGE = 1_000_000  # past any real list; keeps a list's OFFSET inside a 64-bit integer


def paging(page, per_page, max_per_page: int) -> tuple[int, int]:
    """The one rule for a requested page: number in 1..MAX_PAGE, size in 1..max_per_page (a page past
    the end is simply empty; a huge number is no database error)."""
    return min(MAX_PAGE, max(1, int(page))), min(max_per_page, max(1, int(per_page)))


@dataclass(frozen=True)
class Page:
    """One page of a list: its items, the number of items in the whole list, the page asked for."""

    items: list
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        """Number of pages (at least 1)."""
        return max(1, -(-self.total // self.per_page))

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {"items": [item.to_dict() for item in self.items], "total": self.total, "page": self.page,
                "per_page": self.per_page, "pages": self.pages}


def localized(names: dict | None, lang: str, fallback: str) -> str:
    """`names[lang]`, else any other non-empty name, else `fallback`."""
    names = names or {}
    return names.get(lang) or next((v for v in names.values() if v), None) or fallback


ELEMENT_NAME_LANGUAGES = ("zh", "en")


def element_names(package: dict | None) -> dict[str, dict]:
    """The display names a package gives its BPMN elements: package.yaml's `names` section,
    `{element id: {"zh": ..., "en": ...}}` (see docs/packages.md, "Names in the user's language").
    `package` is a stored package (`{"meta": ...}`) or its meta; a missing or malformed section is `{}`."""
    package = package or {}
    meta = package.get("meta", package) if isinstance(package, dict) else {}
    names = (meta or {}).get("names") if isinstance(meta, dict) else None
    return names if isinstance(names, dict) else {}


def element_label(names: dict | None, element_id: str | None, lang: str | None, bpmn_name: str | None = None) -> str:
    """The one rule for an element's display name (a task, event, gateway or a sequence flow's label):
    the package's name in `lang`, else its zh name, else its en name, else the BPMN `name`, else the id.
    `names` is `element_names(package)`; `lang` None skips the package's names (the BPMN name as drawn)."""
    entry = (names or {}).get(element_id) if element_id and lang else None
    if isinstance(entry, dict):
        for key in (lang, *ELEMENT_NAME_LANGUAGES):
            value = entry.get(key)
            if isinstance(value, str) and value.strip():
                return value
    return bpmn_name or element_id or ""


def jsonable(value):
    """Dicts and lists with datetimes as ISO strings, ready for JSON."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value

"""The order people and departments are listed in: by the pinyin of their name, the way DingTalk and
Feishu sort an address book (李四 li, 王五 wang, 张三 zhang), Latin names among them by their letters
(艾米 ai mi, Alice, 白 bai). Names that start with neither come last (the address books' "#" group).

`sort_key(name)` is that order as plain ASCII text: every Chinese character becomes its toneless pinyin
syllable (pypinyin), Latin letters are folded to lower case without accents (full-width ones too), and
syllables and words are separated by one space. Compared byte by byte, the space (below every letter and
digit) makes the comparison go character by character: 李安 "li an" comes before 连 "lian", as in a
dictionary. A person's surname is read as a surname (曾 zeng, 单 shan, 解 xie: `SURNAMES`), which
pypinyin alone reads as the common word (ceng, dan, jie).

The key is stored (`person.sort_key`, `department.sort_key`, migration 0041) so that SQLite and
PostgreSQL order the same way, a page of 50 is one indexed ORDER BY ... LIMIT, and exports sort the
same as pages. The column compares bytes on both databases (COLLATE "C" on PostgreSQL, SQLite's BINARY):
a locale's collation would skip the spaces and lose the character-by-character order.

Written where the name is written: the column's default (every INSERT that gives a name, ORM or Core),
`Person`/`Department`'s name validator (an ORM object whose name changes), and the org import's bulk
UPDATE (`org_import._person_values`), the only statement that renames people in bulk.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable
from typing import TypeVar

from pypinyin import Style, lazy_pinyin

MAX_LENGTH = 400  # the column's size; a 200-character name needs at most ~7 characters a syllable

# Surnames whose reading as a surname differs from the character's common reading (pypinyin has no surname
# mode). Compound surnames first: a name is matched on its first characters, the longest first.
SURNAMES: dict[str, str] = {
    "单于": "chan yu", "尉迟": "yu chi", "万俟": "mo qi", "澹台": "tan tai", "长孙": "zhang sun",
    "曾": "zeng", "单": "shan", "解": "xie", "仇": "qiu", "朴": "piao", "查": "zha", "区": "ou", "翟": "zhai",
    "乐": "yue", "覃": "qin", "缪": "miao", "盖": "ge", "种": "chong", "秘": "bi", "员": "yun", "黑": "he",
    "召": "shao", "隗": "wei", "繁": "po", "折": "she", "宓": "fu", "薄": "bo", "句": "gou", "洗": "xian",
    "郇": "huan", "眭": "sui", "贲": "ben", "都": "du", "重": "chong",
}
_SURNAME_LENGTHS = sorted({len(s) for s in SURNAMES}, reverse=True)

T = TypeVar("T")


def _fold(text: str) -> str:
    """Latin text as lower-case ASCII words: accents dropped, anything but letters and digits a space."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return "".join(c if c.isalnum() else " " for c in plain.casefold())


def sort_key(name: str | None, person: bool = True) -> str:
    """The key a name is listed by (see the module's docstring). `person`: read the first characters as a
    surname (False for departments: 单证部 is dan zheng bu)."""
    text = unicodedata.normalize("NFKC", name or "").strip()
    words: list[str] = []
    if person:
        for length in _SURNAME_LENGTHS:
            if text[:length] in SURNAMES:
                words.append(SURNAMES[text[:length]])
                text = text[length:]
                break
    for piece in lazy_pinyin(text, style=Style.NORMAL, errors="default", v_to_u=False):
        words.append(_fold(piece))
    key = " ".join(" ".join(words).split())
    if not ("a" <= key[:1] <= "z"):
        key = "~" + key  # digits, signs, an empty name: after the letters, as the address books' "#" group
    return key[:MAX_LENGTH]


def department_sort_key(name: str | None) -> str:
    """The key a department is listed by: its name's pinyin, with no surname reading."""
    return sort_key(name, person=False)


def in_pinyin_order(items: Iterable[T], name: Callable[[T], str | None]) -> list[T]:
    """`items` listed by the pinyin of `name(item)` (then by the name itself, so equal keys stay together):
    for lists built in Python from names already read."""
    return sorted(items, key=lambda item: (sort_key(name(item)), name(item) or ""))

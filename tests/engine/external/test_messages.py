"""Every message engine.external shows a person has a Chinese translation in the catalog."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.pofile import read_po

from engine.external import sign_in

ROOT = Path(__file__).resolve().parents[3]
CATALOG = ROOT / "web" / "translations" / "zh" / "LC_MESSAGES" / "messages.po"


def test_external_messages_are_translated():
    with CATALOG.open("rb") as handle:
        catalog = read_po(handle)
    translated = {m.id for m in catalog if m.id and m.string}
    sources = [*(ROOT / "engine" / "external").glob("*.py"), ROOT / "engine" / "people" / "org_import.py"]
    found = {m for path in sources for m in re.findall(r'msg\("([^"]+)"', path.read_text()) if "ext" in path.name
             or "external" in str(path) or "may not start" in m}
    found.add(sign_in.WRONG_CODE)
    assert found and not sorted(found - translated)

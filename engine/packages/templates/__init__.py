"""Package templates the designer creates new processes from: each a package folder here.

`template_files(name, key, names)` returns the folder's files (relative path -> text) with the
template's placeholder id `TEMPLATE_KEY` replaced by the new package's key and its names by `names`.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from engine.errors import NotFoundError, msg
from engine.packages.chain.templates import CHAIN_TEMPLATES, chain_template, chain_template_files

FOLDER = Path(__file__).resolve().parent
PLACEHOLDER = "TEMPLATE_KEY"
CHAIN_PREFIX = "chain:"  # a chain template's name in the designer's "new process" choice
# name -> its label in the designer's "new process" choice, in the order shown
TEMPLATES: dict[str, dict[str, str]] = {
    "blank": {"zh": "空白流程", "en": "Blank process"},
    "approval": {"zh": "审批", "en": "Approval"},
    "countersign": {"zh": "会签审批", "en": "Approval with countersigning"},
    "notice": {"zh": "通知阅知", "en": "Notice with read receipts"},
    "booking": {"zh": "资源预订", "en": "Resource booking"},
}


def chain_template_labels() -> dict[str, dict[str, str]]:
    """The chain templates as choices of the designer's "new process" form: `chain:NAME` -> {zh, en}."""
    return {CHAIN_PREFIX + name: dict(template["name"]) for name, template in CHAIN_TEMPLATES.items()}


def template_files(name: str, key: str, names: dict[str, str] | None = None) -> dict[str, str]:
    """The files of template `name` for a new package `key` (relative path -> text); `chain:NAME` is a chain
    template (engine/packages/chain/templates.py), opened in the chain editor."""
    if name.startswith(CHAIN_PREFIX):
        label = chain_template(name[len(CHAIN_PREFIX):])["name"]
        return chain_template_files(name[len(CHAIN_PREFIX):], key, {**label, **(names or {})})
    if name not in TEMPLATES:
        raise NotFoundError(msg("there is no template %(name)s", name=name))
    root = FOLDER / name
    files = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            relative = path.relative_to(root).as_posix().replace(PLACEHOLDER, key)
            files[relative] = path.read_text(encoding="utf-8").replace(PLACEHOLDER, key)
    if names:
        meta = yaml.safe_load(files["package.yaml"])
        meta["name"] = {**(meta.get("name") or {}), **names}
        if isinstance(meta.get("names"), dict) and isinstance(meta["names"].get(key), dict):
            meta["names"][key] = {**meta["names"][key], **names}  # the process element is named like the package
        files["package.yaml"] = yaml.safe_dump(meta, allow_unicode=True, sort_keys=False)
    return files

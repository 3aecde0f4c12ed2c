"""A designer draft seen as an approval chain (the chain editor, `/designer/KEY/flow`).

`draft_chain` reads the draft's chain (ChainShapeError when its BPMN does not fit), `save_chain`
writes a chain back into the draft with `chain_package_files` (keeping the draft's other files and
package.yaml keys), `chain_problems_by_node` puts the chain's checks and the draft's validation
problems on the nodes, and `preview_chain` answers "who would approve" for a sample initiator and
start-form values with the start page's own resolution (`engine.work.preview.approval_chain_for`).
"""

from __future__ import annotations

from pathlib import PurePosixPath

import yaml
from sqlalchemy.orm import Session

from engine.bpmn.serialization import spec_from_json
from engine.data.models import PackageDraft
from engine.errors import InvalidPackageError, Message, Problem
from engine.packages import designer_access as access
from engine.packages.chain import chain_from_package, chain_package_files, chain_problems
from engine.packages.chain.model import SUFFIXES, walk
from engine.packages.draft_checks import NOBODY_HANDLES, load_draft
from engine.packages.drafts import current_draft, main_bpmn_name, open_draft, save_draft
from engine.work.preview import Chain, approval_chain_for

# package.yaml keys the chain writes itself; every other key is kept as the draft has it
CHAIN_META_KEYS = ("id", "name", "process", "starters", "names")


def draft_meta(files: dict[str, str]) -> dict:
    """package.yaml of a draft as a dict ({} when it does not parse)."""
    return _yaml(files.get("package.yaml") or "")


def draft_forms(files: dict[str, str]) -> dict[str, dict]:
    """The draft's forms as schemas, by name (`forms/NAME.yaml`)."""
    forms = {}
    for path, text in sorted(files.items()):
        if path.startswith("forms/") and path.endswith((".yaml", ".yml")):
            schema = _yaml(text)
            if schema:
                forms[PurePosixPath(path).stem] = schema
    return forms


def draft_chain(draft: PackageDraft) -> dict:
    """The chain the draft's main BPMN draws; ChainShapeError naming the first element that does not fit."""
    files = draft.files
    return chain_from_package(draft_meta(files), files.get(main_bpmn_name(files, draft.key)) or "",
                              draft_forms(files))


def chain_files(draft: PackageDraft, chain: dict) -> dict[str, str]:
    """The draft's files with the chain written in: BPMN, package.yaml (its other keys kept) and forms'
    `access`; notifications, tests, DMN and other forms stay as they are."""
    files = dict(draft.files)
    meta = draft_meta(files)
    name = meta.get("name") if isinstance(meta.get("name"), dict) else {"zh": draft.key, "en": draft.key}
    if not isinstance(meta.get("name"), dict) and meta.get("name"):
        name = {"zh": str(meta["name"]), "en": str(meta["name"])}
    extra = {k: v for k, v in meta.items() if k not in CHAIN_META_KEYS}
    files.pop(main_bpmn_name(files, draft.key), None)
    files.update(chain_package_files(chain, draft.key, name, draft_forms(files), extra))
    return files


def save_chain(session: Session, username: str, key: str, revision: int, chain: dict) -> PackageDraft:
    """Save `chain` as the draft's next revision (DraftConflictError when `revision` is stale; a chain that
    does not convert raises what the writer raises: ValueError, KeyError, TypeError or a LiaisonError)."""
    access.require(session, username, key, "edit")
    draft = current_draft(session, key)
    return save_draft(session, username, key, revision, chain_files(draft, chain))


def chain_problems_by_node(chain: dict, forms: dict[str, dict],
                           problems: list[Problem]) -> list[tuple[str | None, Message | str, str]]:
    """The chain's own checks plus the draft's validation problems, as (node id or None, message,
    severity): an element the writer derived from a node (`X_decided`, `B_join`, a branch's flow) is put
    on that node."""
    owners = element_owners(chain)
    found: list[tuple[str | None, Message | str, str]] = [(n, m, "error") for n, m in chain_problems(chain, forms)]
    told = {n for n, _m, _s in found}
    for problem in problems:
        owner = owners.get(problem.element_id or "")
        if owner in told and problem.message == NOBODY_HANDLES:  # the chain's own "no approver rule" says it
            continue
        found.append((owner, problem.message, problem.severity))
    return found


def element_owners(chain: dict) -> dict[str, str]:
    """BPMN element id -> the chain node (or start) it belongs to."""
    start = (chain.get("start") or {}).get("id")
    owners = {start: start} if start else {}
    for node in walk(chain.get("nodes") or []):
        node_id = node.get("id")
        if not isinstance(node_id, str):
            continue
        owners[node_id] = node_id
        owners.update({node_id + suffix: node_id for suffix in SUFFIXES})
        owners.update({b.get("id"): node_id for b in node.get("branches") or [] if isinstance(b.get("id"), str)})
    return owners


def preview_chain(session: Session, username: str, key: str, chain: dict | None, initiator: str | None,
                  data: dict, lang: str) -> Chain:
    """Who would handle each node of the draft (or of `chain` written into it, unsaved) for an instance
    started by `initiator` with start-form `data`: the start page's resolution, on the draft's spec.
    InvalidPackageError when the draft (with the chain) does not load."""
    draft = open_draft(session, username, key)
    files = chain_files(draft, chain) if chain is not None else draft.files
    package, problems = load_draft(session, PackageDraft(key=key, files=files, revision=draft.revision))
    if package is None:
        raise InvalidPackageError(problems)
    spec, _subspecs = spec_from_json(package.spec_json)
    stored = {"meta": package.meta, "forms": package.forms}
    return approval_chain_for(session, spec, stored, initiator, data, lang)


def _yaml(text: str) -> dict:
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return {}
    return value if isinstance(value, dict) else {}

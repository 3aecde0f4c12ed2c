"""A chain as a whole package: the BPMN, package.yaml (`starters`, `names`) and the forms' `access`.

Every setting lives where the engine reads it, once: the flow and the nodes' settings in the BPMN,
who may start in package.yaml `starters`, display names in package.yaml `names`, per-node field
permissions in the `access` of the node's form. `chain_from_package` reads them back.
"""

from __future__ import annotations

import copy

import yaml

from engine.packages.chain.model import PERSON_TASKS, form_field_names, walk
from engine.packages.chain.reader import bpmn_to_chain
from engine.packages.chain.writer import chain_to_bpmn


class _NoAliasDumper(yaml.SafeDumper):
    """Write repeated values out in full: package loading refuses YAML aliases."""

    def ignore_aliases(self, data) -> bool:
        return True


def _dump(data) -> str:
    return yaml.dump(data, Dumper=_NoAliasDumper, allow_unicode=True, sort_keys=False)


def chain_forms(chain: dict, forms: dict[str, dict]) -> dict[str, dict]:
    """The package's forms with each form's `access` rewritten from the chain's field permissions: a
    field of the node's own form goes to that form's entry for the node, a start-form field to the start
    form's (the task and instance pages hide its `hidden` fields from everyone but the initiator); the
    chain's other user tasks lose their entries."""
    forms = copy.deepcopy(forms)
    tasks = [n for n in walk(chain.get("nodes") or []) if n.get("kind") in PERSON_TASKS]
    task_ids = {n["id"] for n in tasks}
    for schema in forms.values():
        access = {k: v for k, v in (schema.get("access") or {}).items() if k not in task_ids}
        if access:
            schema["access"] = access
        else:
            schema.pop("access", None)
    start_form = (chain.get("start") or {}).get("form")
    for node in tasks:
        own = form_field_names(forms.get(node.get("form") or ""))
        placed: dict[str, dict[str, list]] = {}
        for name, mode in (node.get("fields") or {}).items():
            form = node.get("form") if name in own or start_form not in forms else start_form
            if form in forms:
                placed.setdefault(form, {}).setdefault(mode, []).append(name)
        for form, rules in placed.items():
            ordered = {mode: rules[mode] for mode in ("editable", "readonly", "hidden") if mode in rules}
            forms[form].setdefault("access", {})[node["id"]] = ordered
    return forms


def chain_package_files(chain: dict, key: str, name: dict, forms: dict[str, dict],
                        meta: dict | None = None) -> dict[str, str]:
    """The files of a package folder for a chain (relative path -> text): `package.yaml`, `KEY.bpmn`
    and `forms/NAME.yaml`; `meta` adds package.yaml keys (category, notes, summary, admins, ...)."""
    xml, names = chain_to_bpmn(chain, key, {key: dict(name)})
    package = {"id": key, "name": dict(name), **(meta or {}), "process": key}
    starters = chain.get("start", {}).get("starters")
    if starters:
        package["starters"] = starters
    package["names"] = names
    files = {"package.yaml": _dump(package), f"{key}.bpmn": xml}
    for form_name, schema in chain_forms(chain, forms).items():
        files[f"forms/{form_name}.yaml"] = _dump(schema)
    return files


def chain_from_package(meta: dict, bpmn_xml: str, forms: dict[str, dict]) -> dict:
    """The chain of a package (package.yaml as a dict, its BPMN, its forms); ChainShapeError when the
    BPMN does not fit a chain."""
    return bpmn_to_chain(bpmn_xml, meta=meta, forms=forms)

"""The semantic diff of two versions of a package (one owner: the CLI, the designer pages and the
draft-vs-deployed view all call it).

BPMN files are compared element by element (by id): an element is a BPMN element with an `id`
(tasks, events, gateways, flows, processes, ...); what hangs below it without an element of its own
(event definitions and their timers, condition expressions, extension elements, multi-instance
settings) is folded into its properties. Diagram layout (BPMN DI: shapes, edges, bounds) is reported
apart, as `layout`: the ids whose position or waypoints alone changed. Package files (package.yaml,
forms, notifications, scenario tests, decision tables) are compared at file level with a short,
structured summary (keys, and form fields by name), which the views word in the reader's language.
"""

from __future__ import annotations

import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.bpmn.xmlsafe import parse_xml_bytes, relabel
from engine.data.models import ProcessDefinition, ProcessInstance, ProcessVersion
from engine.errors import NotFoundError, msg
from engine.packages.drafts import current_draft, get_draft, main_bpmn_name
from engine.packages.drafts import element_names as draft_element_names
from engine.results import element_label, element_names
from forms.schema import NoAliasLoader

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
DI_NAMESPACES = ("http://www.omg.org/spec/BPMN/20100524/DI", "http://www.omg.org/spec/DD/20100524/DC",
                 "http://www.omg.org/spec/DD/20100524/DI")
_PREFIXES = {BPMN_NS: "", "https://liaison.dev/schema/bpmn/1.0": "liaison:",
             "http://camunda.org/schema/1.0/bpmn": "camunda:", "http://www.w3.org/2001/XMLSchema-instance": "xsi:"}
# BPMN elements with an id that belong to their parent's properties rather than standing alone
_FOLDED = {"conditionExpression", "multiInstanceLoopCharacteristics", "standardLoopCharacteristics",
           "extensionElements", "documentation", "ioSpecification", "timeDuration", "timeDate", "timeCycle",
           "loopCardinality", "completionCondition", "script", "text"}
_DERIVED = {"incoming", "outgoing"}  # repeat the flows' sourceRef/targetRef: left out


def diff_versions(session: Session, key: str, a: int, b: int) -> dict:
    """The diff of versions `a` and `b` (numbers) of package `key` (see `diff_contents` for the shape)."""
    old, new = _version(session, key, a), _version(session, key, b)
    result = diff_contents(old.bpmn, new.bpmn, old.package, new.package)
    return {"key": key, "a": a, "b": b, **result}


def diff_draft(session: Session, key: str, a: int, *, saved_only: bool = False) -> dict:
    """The diff of deployed version `a` of `key` and its draft (`"b": "draft"`): what deploying would change.
    Before anyone saved a draft it is the latest version's files, unless `saved_only` (then NotFoundError)."""
    old = _version(session, key, a)
    files = (get_draft if saved_only else current_draft)(session, key).files
    bpmn = {path: text for path, text in files.items() if path.endswith(".bpmn") and "/" not in path}
    result = diff_contents(old.bpmn, bpmn, old.package, _draft_package(files))
    return {"key": key, "a": a, "b": "draft", **result}


def _draft_package(files: dict[str, str]) -> dict:
    """A draft's files in the shape of a stored version's `package` (meta, forms, ...); unreadable YAML
    is kept as its text, so it still shows as changed."""
    package: dict = {"meta": _yaml(files.get("package.yaml", "")) or {}}
    for path, text in files.items():
        folder, _, name = path.partition("/")
        if folder in ("forms", "notifications", "tests") and name:
            package.setdefault(folder, {})[name.rsplit(".", 1)[0]] = _yaml(text)
        elif path.endswith(".dmn") and "/" not in path:
            package.setdefault("dmn", {})[path] = text
    return package


def _yaml(text: str):
    try:
        return yaml.load(text, Loader=NoAliasLoader)
    except yaml.YAMLError:
        return text


def diff_contents(bpmn_a: dict[str, str], bpmn_b: dict[str, str], package_a: dict | None = None,
                  package_b: dict | None = None) -> dict:
    """The diff of two `{file: xml}` maps (and optionally two stored packages: meta, forms, ...):
    `{"added": [ELEMENT], "removed": [ELEMENT], "changed": [ELEMENT + "changes": [{"property", "old",
    "new"}]], "layout": [ids], "renamed": [{"old", "new"}] (a removed and an added element of one type
    and name: likely a renamed id), "files": [{"file", "status", "summary": {...}}]}` where ELEMENT is
    `{"id", "type", "name", "file"}`."""
    old, new = _elements(bpmn_a), _elements(bpmn_b)
    added = [_head(new[i]) for i in new if i not in old]
    removed = [_head(old[i]) for i in old if i not in new]
    changed = []
    for element_id in old.keys() & new.keys():
        changes = _changes(old[element_id]["props"], new[element_id]["props"])
        if old[element_id]["type"] != new[element_id]["type"]:
            changes.insert(0, {"property": "type", "old": old[element_id]["type"], "new": new[element_id]["type"]})
        if changes:
            changed.append({**_head(new[element_id]), "changes": changes})
    changed.sort(key=lambda e: e["id"])
    moved = {i for i in old.keys() & new.keys() if old[i]["layout"] != new[i]["layout"]}
    return {"added": added, "removed": removed, "changed": changed,
            "layout": sorted(moved - {e["id"] for e in changed}),
            "renamed": _renamed(removed, added),
            "files": _file_changes(bpmn_a, bpmn_b, package_a or {}, package_b or {})}


def _version(session: Session, key: str, number: int) -> ProcessVersion:
    version = None if not 0 < number < 2**31 else session.scalar(select(ProcessVersion).join(ProcessDefinition)
                             .where(ProcessDefinition.key == key, ProcessVersion.number == number))
    if version is None:
        raise NotFoundError(msg("process %(key)s has no version %(version)s", key=key, version=number))
    return version


def _head(element: dict) -> dict:
    return {"id": element["id"], "type": element["type"], "name": element["name"], "file": element["file"]}


def _local(tag) -> tuple[str, str]:
    if not isinstance(tag, str):
        return "", ""  # comments, processing instructions
    if tag.startswith("{"):
        ns, _, local = tag[1:].partition("}")
        return ns, local
    return "", tag


def _qname(tag: str) -> str:
    ns, local = _local(tag)
    prefix = _PREFIXES.get(ns)
    return (prefix if prefix is not None else f"{{{ns}}}") + local if ns else local


def _elements(files: dict[str, str]) -> dict[str, dict]:
    """Every BPMN element with an id, by id: type, name, file, properties and layout."""
    found: dict[str, dict] = {}
    layouts: dict[str, tuple] = {}
    for file, xml in sorted(files.items()):
        root = parse_xml_bytes(xml.encode("utf-8"), file).getroot()
        for node in root.iter():
            ns, local = _local(node.tag)
            if ns in DI_NAMESPACES:
                if local in ("BPMNShape", "BPMNEdge") and node.get("bpmnElement"):
                    layouts[node.get("bpmnElement")] = _layout(node)
                continue
            if ns != BPMN_NS or not node.get("id") or local in _FOLDED or local.endswith("EventDefinition") \
                    or local == "definitions":
                continue
            props: dict[str, str] = {}
            _properties(node, "", props, top=True)
            found[node.get("id")] = {"id": node.get("id"), "type": local, "name": node.get("name") or "",
                                     "file": file, "props": props, "layout": None}
    for element_id, layout in layouts.items():
        if element_id in found:
            found[element_id]["layout"] = layout
    return found


def _stands_alone(node) -> bool:
    ns, local = _local(node.tag)
    return (ns == BPMN_NS and bool(node.get("id")) and local not in _FOLDED
            and not local.endswith("EventDefinition"))


def _properties(node, path: str, props: dict, top: bool = False) -> None:
    """The attributes and text of `node` and of what is folded below it, keyed by a readable path."""
    for name, value in node.attrib.items():
        qname = _qname(name)
        if top and qname == "id":
            continue
        if not top and qname == "id":
            continue  # generated ids of event definitions and the like say nothing
        props[f"{path}@{qname}" if path else qname] = value
    text = (node.text or "").strip()
    if text and not top:
        props[path] = text
    counts: dict[str, int] = {}
    for child in node:
        if not isinstance(child.tag, str):
            continue
        if _stands_alone(child) or _local(child.tag)[1] in _DERIVED:
            continue
        counts[child.tag] = counts.get(child.tag, 0) + 1
    seen: dict[str, int] = {}
    for child in node:
        if not isinstance(child.tag, str) or _stands_alone(child) or _local(child.tag)[1] in _DERIVED:
            continue
        seen[child.tag] = seen.get(child.tag, 0) + 1
        label = _qname(child.tag) + (f"[{seen[child.tag]}]" if counts[child.tag] > 1 else "")
        _properties(child, f"{path} > {label}" if path else label, props)


def _layout(node) -> tuple:
    points = []
    for child in node.iter():
        _ns, local = _local(child.tag)
        if local in ("Bounds", "waypoint"):
            points.append(tuple(child.get(k) for k in ("x", "y", "width", "height")))
    return tuple(points)


def _changes(old: dict, new: dict) -> list[dict]:
    return [{"property": key, "old": old.get(key), "new": new.get(key)}
            for key in sorted(old.keys() | new.keys()) if old.get(key) != new.get(key)]


def _renamed(removed: list[dict], added: list[dict]) -> list[dict]:
    """Removed and added elements that share a type and a (non-empty) name, when the match is unique."""
    def key(e):
        return (e["type"], e["name"])
    pairs = []
    for old in removed:
        same_old = [r for r in removed if old["name"] and key(r) == key(old)]
        same_new = [a for a in added if old["name"] and key(a) == key(old)]
        if len(same_old) == 1 and len(same_new) == 1:
            pairs.append({"old": old["id"], "new": same_new[0]["id"], "type": old["type"], "name": old["name"]})
    return pairs


def _package_files(bpmn: dict, package: dict) -> dict[str, object]:
    """The package's files as `{path: content}` (the BPMN files by text, the others as their data)."""
    files: dict[str, object] = {name: text for name, text in bpmn.items()}
    if package.get("meta") is not None:
        files["package.yaml"] = package["meta"]
    for folder in ("forms", "notifications", "tests"):
        for name, content in (package.get(folder) or {}).items():
            files[f"{folder}/{name}.yaml"] = content
    for name, text in (package.get("dmn") or {}).items():
        files[name] = text
    return files


def _file_changes(bpmn_a: dict, bpmn_b: dict, package_a: dict, package_b: dict) -> list[dict]:
    old, new = _package_files(bpmn_a, package_a), _package_files(bpmn_b, package_b)
    result = []
    for path in sorted(old.keys() | new.keys()):
        if path not in old:
            result.append({"file": path, "status": "added", "summary": {}})
        elif path not in new:
            result.append({"file": path, "status": "removed", "summary": {}})
        elif old[path] != new[path]:
            result.append({"file": path, "status": "changed", "summary": _summary(old[path], new[path])})
    return result


def _summary(old, new) -> dict:
    """What changed inside one file: top-level keys, and for forms the fields by name."""
    if not isinstance(old, dict) or not isinstance(new, dict):
        return {}
    summary = {"keys": sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))}
    old_fields, new_fields = _fields(old), _fields(new)
    if old_fields is not None and new_fields is not None:
        summary["fields_added"] = [n for n in new_fields if n not in old_fields]
        summary["fields_removed"] = [n for n in old_fields if n not in new_fields]
        summary["fields_changed"] = [n for n in old_fields if n in new_fields and old_fields[n] != new_fields[n]]
    return summary


def _fields(form: dict) -> dict | None:
    fields = form.get("fields")
    if not isinstance(fields, list):
        return None
    return {str(f.get("name")): f for f in fields if isinstance(f, dict)}


def version_list(session: Session, key: str) -> list[dict]:
    """The deployed versions of `key`, newest first: number, deployed_by (username), deployed_at, notes and
    how many instances run on each (`running`). NotFoundError when nothing of `key` is deployed."""
    running = (select(ProcessInstance.version_id, func.count().label("n")).where(ProcessInstance.status == "running")
               .group_by(ProcessInstance.version_id).subquery())
    rows = session.execute(
        select(ProcessVersion.number, ProcessVersion.deployed_by, ProcessVersion.deployed_at, ProcessVersion.notes,
               func.coalesce(running.c.n, 0))
        .join(ProcessDefinition).outerjoin(running, running.c.version_id == ProcessVersion.id)
        .where(ProcessDefinition.key == key).order_by(ProcessVersion.number.desc())).all()
    if not rows:
        raise NotFoundError(msg("no process %(key)s is deployed", key=key))
    return [{"number": n, "deployed_by": by, "deployed_at": at, "notes": notes, "running": count}
            for n, by, at, notes, count in rows]


def draft_diagram(session: Session, key: str, lang: str | None = None) -> str:
    """The BPMN XML of the draft's main process for a diagram viewer; with `lang`, labelled with the
    package's names in that language (for display only: the draft keeps its XML)."""
    draft = current_draft(session, key)
    xml = draft.files.get(main_bpmn_name(draft.files, key), "")
    return localized(xml, draft_element_names(draft.files), lang)


def localized(xml: str, names: dict, lang: str | None) -> str:
    """`xml` with the labels of the elements `names` names in `lang` (the one rule: `element_label`)."""
    if not (lang and names and xml):
        return xml
    return relabel(xml, {element: element_label(names, element, lang) for element in names})


def package_names(session: Session, key: str) -> dict:
    """The package's display names ({"zh", "en"}) as its latest deployment set them; {} when unknown."""
    return session.scalar(select(ProcessDefinition.name).where(ProcessDefinition.key == key)) or {}


def version_diagram(session: Session, key: str, number: int, lang: str | None = None) -> str:
    """The BPMN XML of a version's main process (the file that defines it) for the diagram viewer; with
    `lang`, labelled with the package's names in that language."""
    version = _version(session, key, number)
    names = element_names(version.package)
    for file, xml in sorted(version.bpmn.items()):
        root = parse_xml_bytes(xml.encode("utf-8"), file).getroot()
        if any(p.get("id") == version.process_id for p in root.iter(f"{{{BPMN_NS}}}process")):
            return localized(xml, names, lang)
    return localized(next(iter(sorted(version.bpmn.items())))[1], names, lang)

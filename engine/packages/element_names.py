"""package.yaml `names`: the display names of a package's BPMN elements in zh and en, checked at deploy.

The BPMN keeps its own `name` attributes (standard, often English); the package names its elements
for the people who read them (`engine.results.element_label` is the one rule that reads them back).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from engine.bpmn.parser import BPMN_NS
from engine.errors import Problem, msg
from engine.results import ELEMENT_NAME_LANGUAGES
from forms.schema import NoAliasLoader

MAX_ELEMENT_NAME = 300  # work_task.name's width


def element_names_problems(names, documents: dict, where: Path) -> list[Problem]:
    """package.yaml `names`: `{element id: {zh: ..., en: ...}}`, the display names of the package's BPMN
    elements (tasks, events, gateways, sequence flows' labels) in the user's language; the BPMN keeps its
    own `name` (the fallback). An id no BPMN file of the package has is a warning (a deleted element's
    leftover name does no harm); a malformed entry is an error. Each problem names package.yaml's line."""
    if names is None:
        return []
    lines = _yaml_key_lines(where, "names")
    if not isinstance(names, dict):
        return [Problem(str(where), lines.get(None), None,
                        "`names` must map element ids to {zh: ..., en: ...}")]
    ids = {node.get("id") for doc in documents.values() for node in doc.iter()
           if isinstance(node.tag, str) and node.tag.startswith(f"{{{BPMN_NS}}}") and node.get("id")}
    problems = []
    for element_id, entry in names.items():
        line, element = lines.get(str(element_id), lines.get(None)), str(element_id)
        if documents and element not in ids:
            problems.append(Problem(str(where), line, element,
                                    msg("names: no element `%(id)s` in the package's BPMN; the name is unused",
                                        id=element),
                                    "warning"))
        if not isinstance(entry, dict):
            problems.append(Problem(str(where), line, element,
                                    "names: must be a mapping of languages to names, e.g. {zh: 经理审批, en: "
                                    "Manager approval}"))
            continue
        unknown = sorted(str(k) for k in entry if k not in ELEMENT_NAME_LANGUAGES)
        if unknown:
            problems.append(Problem(str(where), line, element,
                                    f"names: unknown language(s) {', '.join(unknown)} "
                                    f"(known: {', '.join(ELEMENT_NAME_LANGUAGES)})"))
        for lang in ELEMENT_NAME_LANGUAGES:
            value = entry.get(lang)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                problems.append(Problem(str(where), line, element, f"names: `{lang}` must be non-empty text"))
            elif isinstance(value, str) and len(value) > MAX_ELEMENT_NAME:
                problems.append(Problem(str(where), line, element,
                                        f"names: `{lang}` is longer than {MAX_ELEMENT_NAME} characters"))
    return problems


def _yaml_key_lines(path: Path, section: str) -> dict:
    """1-based lines of the keys of a top-level mapping `section` of a YAML file (`None`: the section's
    own line); empty when the file cannot be composed (its reading already reported that)."""
    try:
        root = yaml.compose(path.read_text(encoding="utf-8"), Loader=NoAliasLoader)  # noqa: S506
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}
    if not isinstance(root, yaml.MappingNode):
        return {}
    for key, value in root.value:
        if key.value == section:
            lines = {None: key.start_mark.line + 1}
            if isinstance(value, yaml.MappingNode):
                lines.update({k.value: k.start_mark.line + 1 for k, _v in value.value})
            return lines
    return {}

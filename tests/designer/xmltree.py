"""Compare two BPMN documents as trees: elements, attributes (liaison:*, camunda:* included),
extension elements and text, ignoring whitespace, namespace prefixes and where xmlns is declared."""

from __future__ import annotations

from collections import Counter

from engine.bpmn.xmlsafe import parse_xml_bytes

XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
# BPMN 2.0 schema defaults: bpmn-moddle leaves out an attribute that holds its default value, which
# says the same thing (isInterrupting="true" on a start event is what no attribute means).
BPMN_DEFAULTS = {
    "isInterrupting": "true", "cancelActivity": "true", "isSequential": "false", "parallelMultiple": "false",
    "isForCompensation": "false", "instantiate": "false", "isClosed": "false", "isImmediate": "false",
    "completionQuantity": "1", "startQuantity": "1", "gatewayDirection": "Unspecified",
    "eventGatewayType": "Exclusive", "testBefore": "false", "isCollection": "false",
    "typeLanguage": "http://www.w3.org/2001/XMLSchema", "expressionLanguage": "http://www.w3.org/1999/XPath",
}


def _qname_value(element, value: str) -> str:
    """xsi:type="bpmn:tFormalExpression" and "tFormalExpression" name the same type: compare by URI."""
    prefix, _, local = value.rpartition(":")
    uri = element.nsmap.get(prefix or None)
    return f"{{{uri}}}{local}" if uri else value


def facts(xml: str) -> Counter:
    """Every element as one line per attribute and text, under its path of tags and ids."""
    root = parse_xml_bytes(xml.encode("utf-8")).getroot()
    found: Counter = Counter()

    def walk(element, path: str) -> None:
        if not isinstance(element.tag, str):  # comments, processing instructions
            return
        here = f"{path}/{element.tag}" + (f"#{element.get('id')}" if element.get("id") else "")
        found[here] += 1
        for name, value in element.attrib.items():
            if element.tag.startswith(BPMN) and BPMN_DEFAULTS.get(name) == value:
                continue
            shown = _qname_value(element, value) if name == XSI_TYPE else value
            found[f"{here} @{name}={shown}"] += 1
        text = (element.text or "").strip()
        if text:
            found[f"{here} text={' '.join(text.split())}"] += 1
        for child in element:
            walk(child, here)

    walk(root, "")
    return found


def differences(before: str, after: str) -> tuple[list[str], list[str]]:
    """(lost, added): facts of `before` missing after the round trip, and new ones."""
    old, new = facts(before), facts(after)
    return sorted((old - new).elements()), sorted((new - old).elements())


LIAISON = "{https://liaison.dev/schema/bpmn/1.0}"


def liaison_attributes(xml: str, element_id: str) -> dict[str, str]:
    """The liaison:* attributes of the element `element_id`, by local name."""
    root = parse_xml_bytes(xml.encode("utf-8")).getroot()
    element = next(node for node in root.iter() if isinstance(node.tag, str) and node.get("id") == element_id)
    return {name[len(LIAISON):]: value for name, value in element.attrib.items() if name.startswith(LIAISON)}

"""Deploy-time checks of trigger nodes: the `webhook` service operation's parameters (refusals) and
its endpoint names (warnings: endpoints may be configured after the deploy)."""

from __future__ import annotations

import ast

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.bpmn.expressions import check_expression
from engine.bpmn.parser import BPMN_NS, read_liaison_attributes
from engine.bpmn.services import EVENT_NAME_LIMIT
from engine.bpmn.xmlsafe import parse_xml_bytes
from engine.data.models import WebhookEndpoint
from engine.errors import Problem, msg

WEBHOOK_PARAMETERS = ("endpoint", "event", "payload")


def _literal_name(expression: str | None) -> str | None:
    """The text of a quoted string literal (`"crm"`), else None."""
    try:
        value = ast.literal_eval((expression or "").strip())
    except (ValueError, SyntaxError):
        return None
    return value.strip() if isinstance(value, str) and value.strip() else None


def webhook_problems(parameters: dict) -> list[str]:
    """What is wrong with the parameters of a `webhook` service task: `endpoint` must be a quoted
    name, `event` (optional) a quoted name, `payload` (optional) a safe expression."""
    problems = [msg("the webhook operation has no parameter `%(name)s` (it takes %(known)s)", name=name,
                    known=", ".join(WEBHOOK_PARAMETERS)) for name in sorted(set(parameters) - set(WEBHOOK_PARAMETERS))]
    if _literal_name(parameters.get("endpoint")) is None:
        problems.append(msg("the webhook operation needs parameter `endpoint` as a quoted name of a configured "
                            'webhook endpoint, e.g. value="\'crm\'" (not an expression: an admin configures where '
                            "it points)"))
    if "event" in parameters:
        event = _literal_name(parameters["event"])
        if event is None or len(event) > EVENT_NAME_LIMIT:
            problems.append(msg("the webhook parameter `event` must be a quoted name of 1 to %(limit)s characters",
                                limit=EVENT_NAME_LIMIT))
    if "payload" in parameters:
        message = check_expression(parameters["payload"] or "None", "condition")
        if message:
            problems.append(msg("the webhook parameter `payload`: %(message)s", message=message))
    return problems


def webhook_endpoint_problems(session: Session, package) -> list[Problem]:
    """A warning (with its element and line) for each webhook service task naming an endpoint nobody
    configured yet: not a refusal, an admin may add it after the deploy."""
    known = set(session.scalars(select(WebhookEndpoint.name)))
    problems = []
    for name, xml in sorted(package.bpmn.items()):
        root = parse_xml_bytes(xml.encode("utf-8"), name).getroot()
        for node in root.iter(f"{{{BPMN_NS}}}serviceTask"):
            attributes = read_liaison_attributes(node)
            if attributes.get("operation") != "webhook":
                continue
            endpoint = _literal_name((attributes.get("parameters") or {}).get("endpoint"))
            if endpoint and endpoint not in known:
                problems.append(Problem(name, node.sourceline, node.get("id"), msg(
                    "no webhook endpoint named `%(name)s` is configured yet; add it with `liaison webhook add "
                    "%(name)s URL` before the process gets there, or the step fails", name=endpoint), "warning"))
    return problems


def webhook_endpoint_warnings(session: Session, package) -> list[str]:
    """`FILE: ELEMENT: ...` of `webhook_endpoint_problems`, as `deploy` lists warnings."""
    return [f"{p.path}: {p.element_id}: {p.message}" for p in webhook_endpoint_problems(session, package)]

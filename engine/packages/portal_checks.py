"""Deploy-time checks of a package's external side (issue 17): package.yaml `portal` and the BPMN
attributes `liaison:external` (user tasks and lanes) and `liaison:milestone`.

```yaml
portal:
  party: supplier            # supplier | customer | visitor
  party_field: supplier      # data key holding the party's key (required for supplier / customer)
  email_field: visitor_email # data key with the address links go to (required for visitor)
  name_field: visitor_name   # data key with the outsider's name (visitor)
  visible_fields: [po_number, delivery_date]  # what the outsider sees on the progress page
  start: true                # contacts of the party may submit a new request from the portal
  link_days: 14              # validity of the links the engine issues (1-365, default 14)
  host_field: host           # data key set to the employee who issued the invitation code an outsider
                             # starts with (a visitor's host); never taken from the outsider's post
  invite: employees          # who may issue invitation codes for the start form besides super admins and
                             # the package's `admins`: admins (default) | employees (any employee); the
                             # reception may too for a visitor process (engine.work.invitations)
```

Every field named must be a field of one of the package's forms. An external user task takes no
approver rule and no approval mode (it is the outsider's, offered to `ext:KIND`), and its kind must be
the package's `portal.party`.
"""

from __future__ import annotations

from pathlib import Path

from engine.bpmn.parser import BPMN_NS, LIAISON_NS, read_liaison_attributes
from engine.errors import Problem, msg
from engine.external.identity import KINDS, PARTY_KINDS
from engine.runtime.assignment import APPROVAL_ATTRIBUTES
from engine.work.invitations import INVITE_OPTIONS

PORTAL_KEYS = ("party", "party_field", "email_field", "name_field", "visible_fields", "start", "link_days",
               "host_field", "invite")
MAX_LINK_DAYS = 365
_FIELD_KEYS = ("party_field", "email_field", "name_field", "host_field")


def portal_problems(meta: dict, documents: dict, forms: dict, root: Path) -> list[Problem]:
    """What is wrong with package.yaml `portal` and the external attributes of the package's BPMN."""
    where = str(root / "package.yaml")
    portal = meta.get("portal")
    problems = [Problem(where, None, None, message) for message in portal_section_problems(portal, forms)]
    party = portal.get("party") if isinstance(portal, dict) else None
    for file, doc in documents.items():
        problems += _attribute_problems(file, doc, party, has_portal=isinstance(portal, dict))
    return problems


def form_fields(forms: dict) -> set[str]:
    """The names of every field of every form of the package."""
    names: set[str] = set()
    for schema in forms.values():
        for item in (schema.get("fields") or ()) if isinstance(schema, dict) else ():
            if isinstance(item, dict) and isinstance(item.get("name"), str):
                names.add(item["name"])
    return names


def portal_section_problems(portal, forms: dict) -> list[str]:
    """package.yaml `portal`: known keys, a known party, the fields in the forms, sane values."""
    if portal is None:
        return []
    if not isinstance(portal, dict):
        return [msg("`portal` must be a mapping (party, party_field, visible_fields, ...)")]
    problems = [msg("`portal` has an unknown key %(key)s (known: %(known)s)", key=key, known=", ".join(PORTAL_KEYS))
                for key in portal if key not in PORTAL_KEYS]
    party = portal.get("party")
    if party not in KINDS:
        problems.append(msg("`portal.party` must be one of %(kinds)s", kinds=", ".join(KINDS)))
    if party in PARTY_KINDS and not portal.get("party_field"):
        problems.append(msg("`portal.party_field` is required for a %(kind)s: the data field holding the "
                            "party's key", kind=party))
    if party == "visitor" and not portal.get("email_field"):
        problems.append(msg("`portal.email_field` is required for a visitor: the data field holding the "
                            "address links go to"))
    problems += _field_problems(portal, form_fields(forms))
    if "start" in portal and not isinstance(portal["start"], bool):
        problems.append(msg("`portal.start` must be true or false"))
    if "invite" in portal and portal["invite"] not in INVITE_OPTIONS:
        problems.append(msg("`portal.invite` must be one of %(options)s", options=", ".join(INVITE_OPTIONS)))
    days = portal.get("link_days")
    if days is not None and (isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_LINK_DAYS):
        problems.append(msg("`portal.link_days` must be a whole number of days from 1 to %(max)s", max=MAX_LINK_DAYS))
    return problems


def _field_problems(portal: dict, known: set[str]) -> list[str]:
    """The fields `portal` names must be fields of the package's forms."""
    problems = []
    for key in _FIELD_KEYS:
        value = portal.get(key)
        if value is None:
            continue
        if not isinstance(value, str) or not value.strip():
            problems.append(msg("`portal.%(key)s` must name a form field", key=key))
        elif value not in known:
            problems.append(msg("`portal.%(key)s`: %(field)s is not a field of the package's forms", key=key,
                                field=value))
    visible = portal.get("visible_fields")
    if visible is not None:
        if not isinstance(visible, list) or not all(isinstance(v, str) for v in visible):
            problems.append(msg("`portal.visible_fields` must be a list of form field names"))
        else:
            problems += [msg("`portal.visible_fields`: %(field)s is not a field of the package's forms", field=v)
                         for v in visible if v not in known]
    return problems


def _attribute_problems(file: str, doc, party, *, has_portal: bool) -> list[Problem]:
    problems = []
    for lane in doc.iter(f"{{{BPMN_NS}}}lane"):
        value = lane.get(f"{{{LIAISON_NS}}}external")
        if value is not None and value not in KINDS:
            problems.append(Problem(file, lane.sourceline, lane.get("id"), _bad_kind(value)))
    for node in doc.iter():
        if not isinstance(node.tag, str) or not node.tag.startswith(f"{{{BPMN_NS}}}") or node.tag.endswith("}lane"):
            continue
        attributes = read_liaison_attributes(node)
        milestone = attributes.get("milestone")
        if milestone is not None and milestone not in ("true", "false"):
            problems.append(Problem(file, node.sourceline, node.get("id"),
                                    msg("liaison:milestone must be true or false")))
        kind = attributes.get("external")
        if kind is None:
            continue
        at = (file, node.sourceline, node.get("id"))
        if node.tag != f"{{{BPMN_NS}}}userTask":
            problems.append(Problem(*at, msg("liaison:external is for user tasks (and lanes) only")))
        elif kind not in KINDS:
            problems.append(Problem(*at, _bad_kind(kind)))
        elif not has_portal:
            problems.append(Problem(*at, msg("an external task needs a `portal` section in package.yaml "
                                             "(who the outsider is and where links go)")))
        elif kind != party:
            problems.append(Problem(*at, msg("an external task of a %(kind)s in a package whose portal.party is "
                                             "%(party)s", kind=kind, party=str(party))))
        rules = sorted((APPROVAL_ATTRIBUTES | {"mode"}) & attributes.keys())
        if rules:
            problems.append(Problem(*at, msg("an external task takes no approver rule or approval mode "
                                             "(%(attributes)s): it is offered to the outsider",
                                             attributes=", ".join(f"liaison:{r}" for r in rules))))
    return problems


def _bad_kind(value: str):
    return msg("liaison:external %(value)s is not one of %(kinds)s", value=value, kinds=", ".join(KINDS))

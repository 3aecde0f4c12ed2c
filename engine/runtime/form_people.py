"""People, departments and related approvals named in a form, checked against the directory; and the
self-approval policy applied to the approvers a form picks.

Every submission the engine checks (`start_instance`, `complete_task`, a delegate's answer) passes
these providers to the forms engine, so the web pages, the CLI and any future API refuse the same
values with the same localized messages: a `user` field must name an active person, a
`department` field a department code of the org chart, a choice field with `provider: roles` a role key,
a `related` field an instance of the named process that the person submitting may see
(`visibility.may_view_instance`, the pages' own rule).

A field that a node's rule `picked:FIELD` (or `expr:FIELD`), or its `assignee` / `candidateUsers` of `${FIELD}`,
reads is an approver field; when that node does not allow
self-approval (`liaison:selfApproval` `skip` or `manager`), the initiator may not pick themselves
in it ("you cannot pick yourself as your approver") rather than being silently replaced.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import bindparam, select

from engine.bpmn import paths
from engine.caching import BoundedCache
from engine.data.models import Department, Person, ProcessInstance, Role
from engine.runtime import assignment, visibility
from engine.runtime.versions import version_specs
from forms.messages import message

_ACTIVE_PERSON = select(Person.id).where(Person.username == bindparam("b_value"), Person.active)
_DEPARTMENT = select(Department.id).where(Department.code == bindparam("b_value"))
_INSTANCE = select(ProcessInstance.process_key).where(ProcessInstance.id == bindparam("b_id"))
_ROLES = select(Role.key, Role.name, Role.name_en).order_by(Role.key)


@dataclass
class DirectoryProviders:
    """`forms.build.Providers` over the org chart, on the step's connection (one indexed query per id;
    a related approval, a few more: may `submitter` see it). No `submitter` (a system action): not asked."""

    conn: object
    submitter: str | None = None

    def options(self, provider, spec, context):
        if provider == "roles":  # the org chart's roles, by key (a notice's recipients, say)
            rows = self.conn.execute(_ROLES).all()
            return [{"value": key, "label": {"zh": name, "en": name_en or name}} for key, name, name_en in rows]
        return None  # other providers have no option lists here: their choices stay open

    def exists(self, kind: str, value: str, spec: dict, context) -> bool:
        if kind == "user":
            return self.conn.execute(_ACTIVE_PERSON, {"b_value": value}).first() is not None
        if kind == "department":
            return self.conn.execute(_DEPARTMENT, {"b_value": value}).first() is not None
        if kind == "related":
            text = str(value).strip()
            if not text.isdigit() or len(text) > 18:
                return False
            process = self.conn.execute(_INSTANCE, {"b_id": int(text)}).scalar()
            if process is None or spec.get("process") not in (None, process):
                return False
            return self.submitter is None or visibility.may_view_as(self.conn, int(text), self.submitter)
        return True


@dataclass(frozen=True)
class FormPeople:
    """What a submission is checked with besides its form: the directory, and who started the instance
    with the approver fields they may not pick themselves in."""

    providers: DirectoryProviders
    initiator: str | None = None
    no_self: frozenset[str] = field(default_factory=frozenset)

    def errors(self, data: dict, lang: str) -> dict[str, list[str]]:
        """Approver fields of `data` (cleaned) naming the initiator: `{field: [message]}`."""
        if not self.initiator:
            return {}
        found = {}
        for name in self.no_self:
            value = data.get(name)
            values = value if isinstance(value, list) else [value]
            if self.initiator in values:
                found[name] = [message(lang, "self_approver")]
        return found


def no_self_fields(attributes: Iterable[Mapping]) -> frozenset[str]:
    """The fields nodes that do not allow self-approval take their approvers from
    (`assignment.approver_field`: `picked:FIELD`, `expr:FIELD`, or `assignee` / `candidateUsers` of `${FIELD}`)."""
    fields = set()
    for attrs in attributes:
        if (attrs.get("selfApproval") or "allow").strip() == "allow":
            continue
        field_name = assignment.approver_field(attrs)
        if field_name:
            fields.add(field_name)
    return frozenset(fields)


NO_SELF: BoundedCache[frozenset] = BoundedCache(256)  # version checksum -> no_self_fields of its nodes


def people_for(conn, version_id: int, checksum: str, initiator: str | None, submitter: str | None = None) -> FormPeople:
    """The checks for a submission by `submitter` (by default `initiator`) to an instance of this version
    started (or being started) by `initiator`."""
    def compute() -> frozenset[str]:
        spec, subspecs = version_specs(conn, version_id, checksum)
        return no_self_fields(paths.element_attributes_all(spec, subspecs))

    return FormPeople(DirectoryProviders(conn, submitter or initiator), initiator, NO_SELF.get(checksum, compute))

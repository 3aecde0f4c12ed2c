"""Import external parties and their contacts from CSV (UTF-8 with or without BOM, GBK) or XLSX.

One row per contact: kind, party_key, party_name, party_name_en, contact_name, email, phone, locale
(Chinese headers too: 类型, 编码, 名称, 英文名称, 联系人, 邮箱, 电话, 语言). A row without a contact
only creates or renames its party. Files are read by the org chart's readers (`engine.people.org_files`,
with this import's columns): the same size caps and hostile-file checks.

`plan_party_import` is the dry run: every row is checked and every problem reported with its row
number; nothing is written. `apply_party_import` writes a plan without errors in bulk: parties by
key (created, or kind and names updated), contacts by party and e-mail (created, or name, phone and
language updated). Nothing is deleted or revoked, and revoked parties and contacts stay revoked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, bindparam, insert, select, update

from engine.data.external_models import ExternalContact, ExternalParty
from engine.data.models import utcnow
from engine.errors import LiaisonError, msg
from engine.people.org_files import Columns, OrgTable, RowError, read_org_bytes, read_org_file

from . import parties

COLUMNS = Columns({
    "kind": ("kind", "type", "party kind", "类型", "类别"),
    "party_key": ("party_key", "key", "code", "party code", "编码", "代码", "供应商编码", "客户编码"),
    "party_name": ("party_name", "party", "company", "名称", "公司", "公司名称", "单位名称"),
    "party_name_en": ("party_name_en", "english name", "name_en", "英文名称", "英文名"),
    "contact_name": ("contact_name", "contact", "联系人", "联系人姓名"),
    "email": ("email", "e-mail", "mail", "邮箱", "电子邮箱", "邮件"),
    "phone": ("phone", "mobile", "tel", "telephone", "电话", "手机", "联系电话"),
    "locale": ("locale", "language", "lang", "语言"),
}, ("kind", "party_key", "party_name"))
KINDS = {"supplier": "supplier", "供应商": "supplier", "customer": "customer", "客户": "customer"}
LOCALES = {"": "zh", "zh": "zh", "中文": "zh", "chinese": "zh", "en": "en", "英文": "en", "english": "en"}


class PartyImportRefusedError(LiaisonError):
    """`apply_party_import` was given a plan with errors: nothing was written."""


@dataclass
class PlannedParty:
    row: int
    key: str
    kind: str
    name: str
    name_en: str | None
    existing_id: int | None = None
    action: str = "create"  # create | update | same


@dataclass
class PlannedContact:
    row: int
    party_key: str
    name: str
    email: str
    phone: str | None
    locale: str
    existing_id: int | None = None
    action: str = "create"


@dataclass
class PartyImportPlan:
    """The dry run of an import; `apply_party_import` writes it when `errors` is empty."""

    source: str
    parties: dict[str, PlannedParty] = field(default_factory=dict)
    contacts: list[PlannedContact] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    warnings: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def counts(self) -> dict[str, int]:
        planned = list(self.parties.values()) + self.contacts
        return {f"{what}_{action}": sum(1 for p in planned if p.action == action and isinstance(p, kind))
                for what, kind in (("parties", PlannedParty), ("contacts", PlannedContact))
                for action in ("create", "update", "same")}

    def to_dict(self) -> dict:
        """JSON-ready form: counts, errors and warnings by row."""
        return {"source": self.source, "ok": self.ok, "counts": self.counts(),
                "errors": [{"row": e.row, "message": e.message} for e in self.errors],
                "warnings": [{"row": w.row, "message": w.message} for w in self.warnings]}


def read_party_file(path) -> OrgTable:
    """Read a parties file (CSV or XLSX) with this import's columns."""
    return read_org_file(path, COLUMNS)


def read_party_bytes(data: bytes, source: str) -> OrgTable:
    """Like `read_party_file`, for an upload's content."""
    return read_org_bytes(data, source, COLUMNS)


def plan_party_import(conn: Connection, rows: OrgTable | Iterable[Mapping[str, object]]) -> PartyImportPlan:
    """Check every row against the others and the stored parties; change nothing."""
    table = rows if isinstance(rows, OrgTable) else OrgTable.from_records(rows, columns=COLUMNS)
    plan = PartyImportPlan(table.source, errors=list(table.problems))
    plan.warnings += [RowError(table.header_row, msg("column `%(column)s` is not known and is ignored", column=h))
                      for h in table.ignored_headers]
    if plan.errors:
        return plan
    for number, cells in table.rows:
        _plan_row(number, cells, plan)
    _match(conn, plan)
    plan.errors.sort(key=lambda e: e.row)
    return plan


def _checked(number: int, plan: PartyImportPlan, check, *args):
    try:
        return check(*args), True
    except parties.PartyError as exc:
        plan.errors.append(RowError(number, exc.args[0]))
        return None, False


def _plan_row(number: int, cells: dict[str, str], plan: PartyImportPlan) -> None:
    kind = KINDS.get(cells.get("kind", "").strip().lower())
    if kind is None:
        plan.errors.append(RowError(number, msg("kind must be supplier or customer (供应商/客户), not `%(value)s`",
                                                value=cells.get("kind", ""))))
    key, key_ok = _checked(number, plan, parties.check_key, cells.get("party_key", ""))
    name, name_ok = _checked(number, plan, parties.check_name, cells.get("party_name"), parties.NAME_MAX)
    name_en, en_ok = _checked(number, plan, parties.check_name, cells.get("party_name_en"), parties.NAME_MAX, False)
    if not (kind and key_ok and name_ok and en_ok):
        return
    party = PlannedParty(number, key, kind, name, name_en)
    earlier = plan.parties.setdefault(key, party)
    if (earlier.kind, earlier.name, earlier.name_en) != (kind, name, name_en):
        plan.errors.append(RowError(number, msg("party `%(key)s` differs from row %(row)d (kind or names)",
                                                key=key, row=earlier.row)))
        return
    if cells.get("contact_name") or cells.get("email"):
        _plan_contact(number, key, cells, plan)


def _plan_contact(number: int, key: str, cells: dict[str, str], plan: PartyImportPlan) -> None:
    name, name_ok = _checked(number, plan, parties.check_name, cells.get("contact_name"), parties.CONTACT_NAME_MAX)
    email, email_ok = _checked(number, plan, parties.check_email, cells.get("email", ""))
    phone, phone_ok = _checked(number, plan, parties.check_phone, cells.get("phone"))
    locale = LOCALES.get((cells.get("locale") or "").strip().lower())
    if locale is None:
        plan.errors.append(RowError(number, msg("language must be zh or en (中文/英文), not `%(value)s`",
                                                value=cells.get("locale"))))
    if not (name_ok and email_ok and phone_ok and locale):
        return
    if any(c.party_key == key and c.email == email for c in plan.contacts):
        plan.errors.append(RowError(number, msg("%(email)s appears twice for party `%(key)s`", email=email, key=key)))
        return
    plan.contacts.append(PlannedContact(number, key, name, email, phone, locale))


def _match(conn: Connection, plan: PartyImportPlan) -> None:
    """Match parties by key and contacts by party and e-mail to stored ones: create, update or same."""
    keys = list(plan.parties)
    stored = {r.key: r for r in conn.execute(
        select(ExternalParty.id, ExternalParty.key, ExternalParty.kind, ExternalParty.name, ExternalParty.name_en)
        .where(ExternalParty.key.in_(keys)))} if keys else {}
    for key, party in plan.parties.items():
        row = stored.get(key)
        if row is not None:
            party.existing_id = row.id
            party.action = "same" if (row.kind, row.name, row.name_en) == (party.kind, party.name, party.name_en) \
                else "update"
    ids = [r.id for r in stored.values()]
    contacts = {(r.party_id, r.email): r for r in conn.execute(
        select(ExternalContact.id, ExternalContact.party_id, ExternalContact.email, ExternalContact.name,
               ExternalContact.phone, ExternalContact.locale).where(ExternalContact.party_id.in_(ids)))} if ids else {}
    for contact in plan.contacts:
        row = contacts.get((plan.parties[contact.party_key].existing_id, contact.email))
        if row is not None:
            contact.existing_id = row.id
            contact.action = "same" if (row.name, row.phone, row.locale) == (contact.name, contact.phone,
                                                                            contact.locale) else "update"


def apply_party_import(conn: Connection, plan: PartyImportPlan, now: datetime | None = None) -> dict[str, int]:
    """Write a plan without errors in bulk (a few statements whatever the size); returns the counts.
    The caller commits."""
    if not plan.ok:
        raise PartyImportRefusedError(msg("the import has %(n)d errors: nothing was written", n=len(plan.errors)))
    now = now or utcnow()
    new = [p for p in plan.parties.values() if p.action == "create"]
    if new:
        conn.execute(insert(ExternalParty), [{"kind": p.kind, "key": p.key, "name": p.name, "name_en": p.name_en,
                                              "active": True, "created_at": now, "updated_at": now} for p in new])
    changed = [p for p in plan.parties.values() if p.action == "update"]
    if changed:
        conn.execute(update(ExternalParty).where(ExternalParty.id == bindparam("pid"))
                     .values(kind=bindparam("k"), name=bindparam("n"), name_en=bindparam("ne"), updated_at=now),
                     [{"pid": p.existing_id, "k": p.kind, "n": p.name, "ne": p.name_en} for p in changed])
    ids = dict(conn.execute(select(ExternalParty.key, ExternalParty.id)
                            .where(ExternalParty.key.in_(list(plan.parties)))).all()) if plan.parties else {}
    added = [c for c in plan.contacts if c.action == "create"]
    if added:
        conn.execute(insert(ExternalContact), [
            {"party_id": ids[c.party_key], "name": c.name, "email": c.email, "phone": c.phone, "locale": c.locale,
             "active": True, "created_at": now} for c in added])
    edited = [c for c in plan.contacts if c.action == "update"]
    if edited:
        conn.execute(update(ExternalContact).where(ExternalContact.id == bindparam("cid"))
                     .values(name=bindparam("n"), phone=bindparam("p"), locale=bindparam("l")),
                     [{"cid": c.existing_id, "n": c.name, "p": c.phone, "l": c.locale} for c in edited])
    return plan.counts()

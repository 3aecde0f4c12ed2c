"""The approval templates of issue 16 as chains: leave, expense (amount branches), purchase (会签 of
finance and the department head above a threshold) and a general request.

`CHAIN_TEMPLATES[name]` holds `name` ({zh, en}), `chain`, `forms` and package.yaml `meta`;
`chain_template_files(name, key)` makes a package folder's files of one (see chain/package.py).
"""

from __future__ import annotations

import copy

from engine.errors import NotFoundError, msg
from engine.packages.chain.package import chain_package_files


def _label(zh: str, en: str) -> dict:
    return {"zh": zh, "en": en}


DECISION_FORM = {
    "title": _label("审批意见", "Decision"),
    "fields": [
        {"name": "approved", "type": "radio", "required": True, "label": _label("审批结果", "Decision"),
         "options": [{"value": True, "label": _label("同意", "Approve")},
                     {"value": False, "label": _label("驳回", "Reject")}]},
        {"name": "opinion", "type": "textarea", "max_length": 1000, "label": _label("审批意见", "Comment")},
    ],
}
HANDLING_FORM = {
    "title": _label("办理", "Handling"),
    "fields": [{"name": "handling_note", "type": "textarea", "required": True, "max_length": 1000,
                "label": _label("办理说明", "What was done")}],
}


def _approver(node_id: str, zh: str, en: str, rule: str, **extra) -> dict:
    return {"kind": "approver", "id": node_id, "name": _label(zh, en), "approvers": rule, "form": "decision",
            **extra}


def _branch(branch_id: str, zh: str, en: str, condition: dict | None, nodes: list) -> dict:
    return {"id": branch_id, "name": _label(zh, en), "condition": condition, "nodes": nodes}


def _lane(branch_id: str, zh: str, en: str, nodes: list) -> dict:
    return {"id": branch_id, "name": _label(zh, en), "nodes": nodes}


LEAVE = {
    "name": _label("请假", "Leave request"),
    "meta": {"category": "hr", "summary": ["leave_type", "days"]},
    "forms": {
        "leave": {"title": _label("请假申请", "Leave request"), "fields": [
            {"name": "leave_type", "type": "select", "required": True, "label": _label("假期类型", "Leave type"),
             "options": ["annual", "sick", "personal"]},
            {"name": "start_day", "type": "date", "required": True, "label": _label("开始日期", "First day")},
            {"name": "days", "type": "number", "required": True, "min": 0.5, "max": 30, "step": 0.5,
             "label": _label("天数", "Days")},
            {"name": "reason", "type": "textarea", "max_length": 1000, "label": _label("事由", "Reason")}]},
        "decision": DECISION_FORM,
    },
    "chain": {"start": {"id": "submit", "name": _label("发起请假", "Request leave"), "form": "leave"}, "nodes": [
        _approver("manager_approval", "直属上级审批", "Manager approval", "manager", selfApproval="skip",
                  approversEmpty="admin", dueDate="P2D", remindAfter="P1D"),
        {"kind": "condition", "id": "long_leave", "name": _label("请假天数", "Length of leave"), "branches": [
            _branch("over_three_days", "超过 3 天", "Over 3 days", {"field": "days", "op": ">", "value": 3},
                    [_approver("head_approval", "部门负责人审批", "Department head approval", "department_head",
                               selfApproval="skip", approversEmpty="skip")]),
            _branch("short_leave", "其他情况", "Other cases", None, [])]},
        {"kind": "cc", "id": "cc_hr", "name": _label("抄送人事", "Copy HR"), "to": ["role:hr"], "when": "finish"},
    ]},
}

EXPENSE = {
    "name": _label("费用报销", "Expense claim"),
    "meta": {"category": "finance", "summary": ["title", "amount"]},
    "forms": {
        "expense": {"title": _label("报销申请", "Expense claim"), "fields": [
            {"name": "title", "type": "text", "required": True, "max_length": 100, "label": _label("事由", "Purpose")},
            {"name": "amount", "type": "money", "required": True, "min": 0.01, "label": _label("金额", "Amount")},
            {"name": "receipts", "type": "file", "max_files": 10, "label": _label("票据", "Receipts")}]},
        "decision": DECISION_FORM,
        "handling": HANDLING_FORM,
    },
    "chain": {"start": {"id": "submit", "name": _label("提交报销", "Submit claim"), "form": "expense"}, "nodes": [
        _approver("head_approval", "部门负责人审批", "Department head approval", "department_head",
                  selfApproval="manager",
                  fields={"approved": "editable", "opinion": "editable", "amount": "readonly"}),
        {"kind": "condition", "id": "by_amount", "name": _label("报销金额", "Amount"), "branches": [
            _branch("large", "一万元以上", "Over 10,000", {"field": "amount", "op": ">", "value": 10000},
                    [_approver("cfo_approval", "财务总监审批", "CFO approval", "role:cfo", approversEmpty="admin")]),
            _branch("medium", "两千元以上", "Over 2,000", {"field": "amount", "op": ">", "value": 2000},
                    [_approver("finance_approval", "财务审批", "Finance approval", "role:finance", mode="any")]),
            _branch("small", "其他情况", "Other cases", None, [])]},
        {"kind": "handler", "id": "payment", "name": _label("出纳付款", "Payment"), "approvers": "role:cashier",
         "form": "handling"},
        {"kind": "cc", "id": "cc_initiator", "name": _label("通知申请人", "Tell the initiator"),
         "to": ["initiator"], "when": "finish"},
    ]},
}

PURCHASE = {
    "name": _label("采购申请", "Purchase request"),
    "meta": {"category": "procurement", "summary": ["item", "amount"]},
    "forms": {
        "purchase": {"title": _label("采购申请", "Purchase request"), "fields": [
            {"name": "item", "type": "text", "required": True, "max_length": 200, "label": _label("物品", "Item")},
            {"name": "supplier", "type": "text", "max_length": 200, "label": _label("供应商", "Supplier")},
            {"name": "amount", "type": "money", "required": True, "min": 0.01, "label": _label("金额", "Amount")}]},
        "decision": DECISION_FORM,
        "handling": HANDLING_FORM,
    },
    "chain": {"start": {"id": "submit", "name": _label("提交采购", "Submit request"), "form": "purchase"}, "nodes": [
        _approver("manager_approval", "直属上级审批", "Manager approval", "manager", approversEmpty="admin"),
        {"kind": "condition", "id": "threshold", "name": _label("采购金额", "Amount"), "branches": [
            _branch("above_threshold", "五万元以上", "50,000 or more", {"field": "amount", "op": ">=", "value": 50000},
                    [{"kind": "parallel", "id": "countersign", "name": _label("会签", "Countersign"), "branches": [
                        _lane("finance_signs", "财务", "Finance",
                                [_approver("finance_approval", "财务会签", "Finance countersign", "role:finance",
                                           mode="all")]),
                        _lane("head_signs", "部门负责人", "Department head",
                                [_approver("head_approval", "部门负责人会签", "Department head countersign",
                                           "department_head")])]}]),
            _branch("below_threshold", "其他情况", "Other cases", None,
                    [_approver("finance_review", "财务审核", "Finance review", "role:finance", mode="any")])]},
        {"kind": "handler", "id": "place_order", "name": _label("下单", "Place the order"),
         "approvers": "role:procurement", "form": "handling"},
    ]},
}
GENERAL = {
    "name": _label("通用申请", "General request"),
    "meta": {"category": "general", "summary": ["title"]},
    "forms": {
        "request": {"title": _label("申请", "Request"), "fields": [
            {"name": "title", "type": "text", "required": True, "max_length": 100, "label": _label("标题", "Title")},
            {"name": "details", "type": "textarea", "required": True, "max_length": 2000,
             "label": _label("申请内容", "Details")},
            {"name": "attachments", "type": "file", "max_files": 5, "label": _label("附件", "Attachments")}]},
        "decision": DECISION_FORM,
    },
    "chain": {"start": {"id": "submit", "name": _label("提交申请", "Submit"), "form": "request"}, "nodes": [
        _approver("manager_approval", "直属上级审批", "Manager approval", "manager", selfApproval="skip",
                  approversEmpty="admin", dueDate="P3D"),
    ]},
}

CHAIN_TEMPLATES: dict[str, dict] = {"leave": LEAVE, "expense": EXPENSE, "purchase": PURCHASE, "general": GENERAL}


def chain_template(name: str) -> dict:
    """A copy of template `name`: {"name", "chain", "forms", "meta"}."""
    if name not in CHAIN_TEMPLATES:
        raise NotFoundError(msg("there is no template %(name)s", name=name))
    return copy.deepcopy(CHAIN_TEMPLATES[name])


def chain_template_files(name: str, key: str, label: dict | None = None) -> dict[str, str]:
    """The files of a new package `key` made from template `name` (relative path -> text)."""
    template = chain_template(name)
    return chain_package_files(template["chain"], key, label or template["name"], template["forms"],
                               template["meta"])

"""The DingTalk-style approval chain (issue 16) as data, written to and read back from standard BPMN.

A chain is plain JSON-serialisable data (dicts and lists); attribute values that become BPMN
attributes are text, exactly as in BPMN:

```python
{
  "start": {"id": "submit", "name": {"zh": "发起", "en": "Submit"},   # name optional everywhere
            "form": "request",                                        # the start form
            "starters": {"roles": [..], "departments": [..], "users": [..]}},  # absent: everyone
  "nodes": [NODE, ...],                                               # then the end
}
```

| kind | keys (besides `kind`, `id`, `name`) | BPMN |
|---|---|---|
| `approver` (审批人) | `approvers` (a rule as `liaison:approvers` takes it: docs/approvals.md), `mode` (sequential / all / any / vote), `voteWeights`, `voteThreshold`, `approversEmpty`, `selfApproval`, `dueDate`, `remindAfter`, `escalateAfter`, `timeoutAfter`, `timeoutAction`, `allow` (operations the node allows, `"return,transfer"`; absent: all, `""`: none), `returnTo` (`initiator,previous,any`), `form`, `fields` | user task with those `liaison:*` attributes, then gateway `ID_decided`: `approved == False` -> terminate end `ID_rejected`, default flow on |
| `handler` (办理人) | the same without `mode`/votes | user task, no decision gateway after it |
| `cc` (抄送人) | `to`: rules of kind users / role / department / department_head / manager / initiator; `when`: reach / finish | intermediate throw event with `liaison:cc="RULE;RULE"`, `liaison:ccWhen` |
| `condition` (条件分支) | `branches`: `[{"id", "name", "condition": CONDITION or None, "nodes": [...]}]`, the last one with None = other cases | exclusive gateway `ID` (default flow = the last branch), join `ID_join`; a branch's first flow has the branch id |
| `inclusive` | like `condition` | inclusive gateways |
| `parallel` (并行分支) | `branches` without conditions | parallel gateways |
| `delay` | `duration` (ISO 8601 / workdays, `P1D`) or `date_field` (a start-form date field) | timer intermediate catch event (`timeDuration` `"P1D"` / `timeDate` FIELD) |
| `trigger` | `operation` (registered service operation), `parameters` {name: expression}, `result`; or `message` (a name) | service task with `liaison:operation`; or message intermediate throw event |

`fields` maps field names to `editable` / `readonly` / `hidden` (the DingTalk grid). It is kept
where the forms engine reads it, not in the BPMN: a field of the node's own `form` in that form's
`access` entry for the node (docs/forms.md, "Per-node permissions"; a node without `fields` keeps
the form's default, every field editable), a field of the start form in the start form's `access`
entry for the node. The task page shows the start form's values read-only next to the node's own
form and hides the start form's `hidden` fields from everyone but the initiator; a start-form field
cannot be `editable` at a node whose form is another one (`chain_problems` says so).
CONDITION: `chain/conditions.py`.

Entry points: `chain_to_bpmn`, `bpmn_to_chain`, `chain_problems`, `chain_package_files`,
`chain_from_package`; the templates of issue 16 in `chain/templates.py`.
"""

from engine.packages.chain.conditions import condition_to_python, operators_for, python_to_condition
from engine.packages.chain.model import ChainShapeError, chain_problems
from engine.packages.chain.package import chain_forms, chain_from_package, chain_package_files
from engine.packages.chain.reader import bpmn_to_chain
from engine.packages.chain.writer import chain_to_bpmn

__all__ = ["ChainShapeError", "bpmn_to_chain", "chain_forms", "chain_from_package", "chain_package_files",
           "chain_problems", "chain_to_bpmn", "condition_to_python", "operators_for", "python_to_condition"]

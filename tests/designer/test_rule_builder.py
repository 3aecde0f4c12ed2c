"""The approver rule builder's parser and printer (designer/src/rules.js, run by Node): every rule
form of docs/approvals.md reads into a kind and an argument and prints back as written."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.browser_support import unavailable

RULES_JS = Path(__file__).resolve().parents[2] / "designer" / "src" / "rules.js"
RULES = ["users:alice,bob", "role:finance", "role:finance,legal", "department:SALES", "department:SALES+",
         "initiator", "manager", "manager:2", "department_head", "department_head:FIN", "picked:approver",
         "expr:'cfo' if amount > 10000 else 'finance_lead'"]
SCRIPT = """
import { parseRule, formatRule } from %s;
const rules = JSON.parse(process.argv[1]);
console.log(JSON.stringify(rules.map(rule => {
  const parsed = parseRule(rule);
  return { parsed, printed: formatRule(parsed) };
})));
"""


def _run(rules: list[str]) -> list[dict]:
    node = shutil.which("node")
    if node is None:
        unavailable("Node.js")
    script = SCRIPT % json.dumps(RULES_JS.as_uri())
    done = subprocess.run([node, "--input-type=module", "-e", script, json.dumps(rules)],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def test_every_documented_rule_reads_and_prints_back():
    results = _run(RULES)
    assert [result["printed"] for result in results] == RULES
    kinds = [result["parsed"]["kind"] for result in results]
    assert kinds == ["users", "role", "role", "department", "department", "initiator", "manager", "manager",
                     "department_head", "department_head", "picked", "expr"]


@pytest.mark.parametrize(("written", "printed"), [
    (" users : alice , bob ", "users:alice,bob"),  # spaces around the parts are ignored
    ("manager:1", "manager"),  # manager:1 is manager
])
def test_spacing_and_the_first_manager_level_are_normalised(written, printed):
    assert _run([written])[0]["printed"] == printed


def test_an_unknown_kind_keeps_the_whole_rule_for_the_rule_field():
    assert _run(["boss:alice"])[0]["parsed"] == {"kind": "", "arg": "boss:alice", "unknown": True}

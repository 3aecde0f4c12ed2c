"""The README tells the truth: the demo people it names exist, and its CLI example runs as written."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from tests.cli.test_cli import liaison

README = Path(__file__).resolve().parents[2] / "README.md"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _readme_usernames(text: str) -> set[str]:
    """Every username the README uses: `--as NAME`, `"manager": "NAME"`, `as `NAME``, table rows."""
    names = set(re.findall(r"--as ([a-z]\w*)", text))
    names |= set(re.findall(r'"manager": "(\w+)"', text))
    names |= set(re.findall(r"as `(\w+)` to", text))
    names |= set(re.findall(r"^\| `([a-z]\w*)` \|", text, re.MULTILINE))
    names |= set(re.findall(r"reports to `(\w+)`", text))
    return names


def _example_commands(text: str) -> list[list[str]]:
    """The shell block after "The same leave request": one argv per command, comments dropped."""
    block = text.split("The same leave request", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    return [shlex.split(line, comments=True) for line in block.replace("\\\n", " ").splitlines() if line.strip()]


def test_every_demo_username_in_the_readme_exists_in_the_demo_org_chart(tmp_path):
    text = README.read_text(encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'liaison.db'}"
    liaison("demo", url=url, instance=tmp_path)
    accounts = {line.split("\t")[0] for line in (tmp_path / "demo-accounts.txt").read_text().splitlines()}
    named = _readme_usernames(text)
    assert {"zhang", "li", "hu", "admin"} <= named  # the extraction finds them at all
    assert named <= accounts, f"the README names people `liaison demo` does not create: {named - accounts}"
    table = set(re.findall(r"^\| `([a-z]\w*)` \|", text, re.MULTILINE))
    assert table <= accounts, f"the README's table names people `liaison demo` does not create: {table - accounts}"
    assert {"admin", "zhang", "wang", "li", "hu", "zhou", "zhao"} <= table, "the people the walk-throughs use"


def test_the_readme_cli_example_runs_on_the_demo_data(tmp_path):
    url = f"sqlite:///{tmp_path / 'liaison.db'}"
    liaison("demo", url=url, instance=tmp_path)
    task_id = instance_id = None
    for argv in _example_commands(README.read_text(encoding="utf-8")):
        assert argv[0] == ".venv/bin/liaison", argv
        args = [task_id if arg == "TASK_ID" else instance_id if arg == "INSTANCE_ID" else arg for arg in argv[1:]]
        assert None not in args, f"{argv}: no task or instance id printed before it"
        out = liaison(*args, url=url, instance=tmp_path).stdout
        task_id = next(iter(UUID.findall(out)), task_id)
        instance_id = instance_id or next(iter(re.findall(r"^instance (\d+):", out, re.MULTILINE)), None)
        if argv[1:3] == ["show", "INSTANCE_ID"]:
            assert "completed at approved_end" in out

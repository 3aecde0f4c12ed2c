"""`liaison diff KEY V1 V2` and `liaison migrate KEY --from N --to M`, in process (click's CliRunner)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from cli import main
from engine import runtime
from engine.data import db
from engine.packages import drafts
from tests.conftest import add_people
from tests.engine.versioned_package import deploy_two_versions


@pytest.fixture
def url(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    db.upgrade(url)
    engine = db.make_engine(url)
    sessions = db.make_session_factory(engine)
    add_people(sessions, "ann", "owner")

    def start():
        return {where: runtime.start_instance(sessions, "trip", {"where": where, "amount": 70}, user="ann").instance_id
                for where in ("keep", "rename", "old")}

    ids = deploy_two_versions(sessions, tmp_path, v2_meta={"admins": ["owner"]}, between=start)
    engine.dispose()
    return url, ids


def _run(url, *args, code=0):
    result = CliRunner().invoke(main, ["--database-url", url, *args])
    assert result.exit_code == code, (result.output, getattr(result, "stderr", ""))
    return result


def test_diff_as_text_and_json(url):
    url, _ids = url
    text = _run(url, "diff", "trip", "1", "2").output
    assert "+ archive (userTask, Archive)" in text and "- old_check (userTask, Old check)" in text
    assert "~ review (userTask, Review)" in text and "liaison:remindAfter: PT1H -> PT2H" in text
    assert "conditionExpression: amount > 100 -> amount > 50" in text and "renamed? draft -> draft2" in text
    payload = json.loads(_run(url, "diff", "trip", "1", "2", "--json").output)
    assert {e["id"] for e in payload["changed"]} == {"review", "f_gw_boss"}
    missing = _run(url, "diff", "trip", "1", "7", code=1)
    assert "no version 7" in missing.output


def test_diff_against_the_draft(url):
    url, _ids = url
    assert "there is no draft of trip" in _run(url, "diff", "trip", "2", "draft", code=1).output
    engine = db.make_engine(url)
    with db.make_session_factory(engine)() as session, session.begin():
        draft = drafts.open_draft(session, "owner", "trip")  # made from version 2, as the designer does
        files = dict(draft.files)
        files[drafts.main_bpmn_name(files, "trip")] = files[drafts.main_bpmn_name(files, "trip")].replace(
            'name="Archive"', 'name="Archive it"')
        drafts.save_draft(session, "owner", "trip", draft.revision, files)
    engine.dispose()
    text = _run(url, "diff", "trip", "2", "draft").output
    assert "trip: version 2 -> draft" in text and "~ archive (userTask, Archive it)" in text
    assert "a version number or `draft`" in _run(url, "diff", "trip", "2", "next", code=2).output


def test_migrate_dry_run_then_run(url):
    url, ids = url
    dry = json.loads(_run(url, "migrate", "trip", "--from", "1", "--to", "2", "--dry-run", "--json").output)
    movable = {p["instance_id"]: p["movable"] for p in dry["instances"]}
    assert movable == {ids["keep"]: True, ids["rename"]: False, ids["old"]: False}
    text = _run(url, "migrate", "trip", "--from", "1", "--to", "2", "--map", "draft=draft2", "--dry-run").output
    assert f"instance {ids['rename']} at draft: would move" in text
    assert f"instance {ids['old']} at old_check: stays: it waits at old_check" in text
    refused = _run(url, "migrate", "trip", "--from", "1", "--to", "2", "--as", "ann", code=1)
    assert "may not change the process trip" in refused.output
    bad = _run(url, "migrate", "trip", "--from", "1", "--to", "2", "--map", "draft", code=1)
    assert "OLD=NEW" in bad.output
    done = json.loads(_run(url, "migrate", "trip", "--from", "1", "--to", "2", "--map", "draft=draft2",
                           "--as", "owner", "--json").output)
    assert {p["instance_id"]: p["moved"] for p in done["instances"]} == {
        ids["keep"]: True, ids["rename"]: True, ids["old"]: False}
    again = _run(url, "migrate", "trip", "--from", "1", "--to", "2", "--as", "owner").output
    assert f"instance {ids['old']} at old_check: stays" in again


def test_export_formjs_writes_a_formjs_document_and_names_what_it_left_out(tmp_path):
    from pathlib import Path

    source = Path(__file__).resolve().parents[1] / "fixtures" / "forms" / "every_type.yaml"
    result = CliRunner().invoke(main, ["export-formjs", str(source), "--lang", "zh", "-o", str(tmp_path / "f.form")])
    assert result.exit_code == 0, result.output
    document = json.loads((tmp_path / "f.form").read_text(encoding="utf-8"))
    assert document["type"] == "default" and len(document["components"]) == 12
    assert "field `quiz` (type `quiz`): form-js has no such field; left out" in result.stderr
    (tmp_path / "bad.yaml").write_text("- just a list\n", encoding="utf-8")
    assert CliRunner().invoke(main, ["export-formjs", str(tmp_path / "bad.yaml")]).exit_code == 2

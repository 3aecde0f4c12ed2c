"""Uploads and downloads through the pages: `POST /files`, `GET /files/<id>`, file fields in a start form,
attachments on a decision and on an operation, and who may fetch what.

The package is leave_request with a file field `proof` added to its start form. zhang starts it naming
wang as manager; li is involved in nothing.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import select

from engine.data.models import Upload
from engine.packages import deployment as packages
from engine.people import accounts
from engine.runtime import uploads
from engine.work import queries

from .conftest import PASSWORD, csrf_token, post, sign_in

PROCESSES = Path(__file__).resolve().parents[2] / "processes"
PROOF = ("  - {name: proof, type: file, max_files: 3, max_size: 1MB, accept: [.pdf, .txt, image/*],"
         " label: {zh: 证明材料, en: Proof}}\n")


def with_file_field(folder: Path) -> Path:
    """A copy of leave_request whose start form has the file field `proof`."""
    target = folder / "leave_request"
    shutil.copytree(PROCESSES / "leave_request", target)
    shutil.rmtree(target / "tests", ignore_errors=True)
    form = target / "forms" / "leave_request.yaml"
    form.write_text(form.read_text(encoding="utf-8") + PROOF, encoding="utf-8")
    return target


@pytest.fixture
def staff(sessions, people, tmp_path):
    """zhang, li (people fixture) and wang; leave_request with a file field deployed."""
    with sessions() as session, session.begin():
        accounts.create_person_account(session, "wang", "王五", PASSWORD, name_en="Wang Wu")
    packages.deploy_package(sessions, packages.load_package(with_file_field(tmp_path / "packages")), "admin")
    return people


def client_for(app, username: str):
    client = app.test_client()
    assert sign_in(client, username).status_code == 302
    return client


def upload(client, data: bytes, name: str, query: str = "", token: str | None = ""):
    """Post one file as the upload widget does; `token=None` leaves the CSRF token out."""
    form = {"file": (io.BytesIO(data), name)}
    if token is not None:
        form["csrf_token"] = token or csrf_token(client, "/password")
    return client.post(f"/files{query}", data=form, content_type="multipart/form-data")


def uploaded(client, data: bytes, name: str) -> dict:
    response = upload(client, data, name)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def start(client, **fields):
    data = {"leave_type": "annual", "days": "2", "manager": "wang", "reason": "家里有事", **fields}
    return post(client, "/start/leave_request", data)


def started(client, **fields) -> int:
    response = start(client, **fields)
    assert response.status_code == 302, response.get_data(as_text=True)
    return int(response.headers["Location"].rsplit("/", 1)[1])


def open_task(sessions, instance_id: int) -> str:
    with sessions() as session:
        return next(t["id"] for t in queries.instance_view(session, instance_id)["tasks"] if t["status"] == "open")


def upload_row(sessions, upload_id: str) -> Upload:
    with sessions() as session:
        return session.scalars(select(Upload).where(Upload.id == upload_id)).one()


# -- upload --------------------------------------------------------------------------------------------

def test_upload_stores_the_file_and_answers_its_reference(app, staff, sessions, tmp_path):
    zhang = client_for(app, "zhang")
    content = b"%PDF-1.4 receipt"
    ref = uploaded(zhang, content, "receipt.pdf")
    assert set(ref) >= {"id", "name", "size", "sha256"}
    assert (ref["name"], ref["size"], ref["sha256"]) == ("receipt.pdf", len(content),
                                                          hashlib.sha256(content).hexdigest())
    assert (tmp_path / "uploads" / ref["id"][:2] / ref["id"]).read_bytes() == content
    row = upload_row(sessions, ref["id"])
    assert (row.owner, row.instance_id, row.content_type) == ("zhang", None, "application/pdf")


@pytest.mark.parametrize(("data", "name", "query", "status", "code"), [
    (b"x" * 101, "big.pdf", "", 413, "too_large"),
    (b"MZ\x90", "setup.exe", "", 415, "type"),
    (b"", "empty.pdf", "", 400, "empty"),
    (b"hello", "notes.txt", "?accept=.pdf,image/*", 415, "type"),   # narrowed to the field's own types
    (b"x" * 20, "small.pdf", "?max_size=10", 413, "too_large"),      # narrowed to the field's own size
])
def test_upload_refusals_say_why(make_app, staff, sessions, data, name, query, status, code):
    app = make_app(LIAISON_UPLOAD_MAX_SIZE=100)
    zhang = client_for(app, "zhang")
    response = upload(zhang, data, name, query)
    assert response.status_code == status
    answer = response.get_json()
    assert answer["code"] == code and name in answer["error"]
    with sessions() as session:
        assert session.scalars(select(Upload)).all() == []


def test_a_body_larger_than_the_limit_is_refused_before_it_is_read(make_app, staff):
    app = make_app(LIAISON_UPLOAD_MAX_SIZE=1000)
    zhang = client_for(app, "zhang")
    response = upload(zhang, b"x" * 200_000, "huge.pdf")
    assert response.status_code == 413 and response.get_json()["code"] == "too_large"


def test_upload_without_csrf_token_is_refused(app, staff, sessions):
    zhang = client_for(app, "zhang")
    response = upload(zhang, b"%PDF", "a.pdf", token=None)
    assert response.status_code == 400 and response.get_json()["code"] == "csrf"
    with sessions() as session:
        assert session.scalars(select(Upload)).all() == []


def test_anonymous_upload_goes_to_sign_in(app, staff, sessions):
    client = app.test_client()
    response = upload(client, b"%PDF", "a.pdf", token=csrf_token(client, "/login"))
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    with sessions() as session:
        assert session.scalars(select(Upload)).all() == []


# -- download ----------------------------------------------------------------------------------------------

def test_an_unattached_upload_is_its_uploaders_alone(app, staff):
    zhang, li = client_for(app, "zhang"), client_for(app, "li")
    ref = uploaded(zhang, b"%PDF-1.4 mine", "mine.pdf")
    response = zhang.get(f"/files/{ref['id']}")
    assert response.status_code == 200 and response.data == b"%PDF-1.4 mine"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Type"] == "application/pdf"
    assert "no-store" in response.headers["Cache-Control"]  # not kept by the browser or a proxy
    assert li.get(f"/files/{ref['id']}").status_code == 404
    assert zhang.get("/files/" + "0" * 32).status_code == 404
    assert zhang.get("/files/..%2Fsecret_key").status_code == 404
    assert app.test_client().get(f"/files/{ref['id']}").status_code == 302  # sign in first


def test_a_chinese_file_name_comes_back_as_it_was(app, staff):
    zhang = client_for(app, "zhang")
    name = "差旅报销单 2026年.pdf"
    ref = uploaded(zhang, b"%PDF-1.4 \xe4\xb8\xad", name)
    assert ref["name"] == name
    response = zhang.get(f"/files/{ref['id']}")
    disposition = response.headers["Content-Disposition"]
    assert f"filename*=UTF-8''{quote(name)}" in disposition  # RFC 5987
    assert disposition.encode("latin-1")  # the header itself stays ASCII / Latin-1
    assert response.data == b"%PDF-1.4 \xe4\xb8\xad"


def test_active_content_is_sent_as_plain_bytes(app, staff):
    zhang = client_for(app, "zhang")
    ref = uploaded(zhang, b"hello", "readme.txt")
    response = zhang.get(f"/files/{ref['id']}")
    assert response.headers["Content-Type"].startswith("text/plain")
    assert "sandbox" in response.headers["Content-Security-Policy"]


# -- a file field in a start form ------------------------------------------------------------------------

def test_a_file_field_of_the_start_form_end_to_end(app, staff, sessions):
    zhang, wang, li = client_for(app, "zhang"), client_for(app, "wang"), client_for(app, "li")
    page = zhang.get("/start/leave_request").get_data(as_text=True)
    assert 'data-upload-for="proof"' in page and 'data-upload-url="/files"' in page and "upload.js" in page
    assert "<noscript>" in page
    ref = uploaded(zhang, b"%PDF-1.4 doctor's note", "病假条.pdf")
    tampered = {**ref, "name": "other.exe", "content_type": "application/x-msdownload"}
    instance_id = started(zhang, proof=json.dumps([tampered]))
    with sessions() as session:
        view = queries.instance_view(session, instance_id)
    stored = view["data"]["proof"]
    assert stored == [{"id": ref["id"], "name": "病假条.pdf", "size": ref["size"], "sha256": ref["sha256"],
                       "content_type": "application/pdf"}]  # what the server recorded, not what was posted
    assert upload_row(sessions, ref["id"]).instance_id == instance_id
    page = wang.get(f"/instances/{instance_id}").get_data(as_text=True)
    assert f'href="/files/{ref["id"]}"' in page and "病假条.pdf" in page
    assert wang.get(f"/files/{ref['id']}").data == b"%PDF-1.4 doctor's note"   # the manager views the instance
    assert zhang.get(f"/files/{ref['id']}").status_code == 200                   # the initiator too
    assert li.get(f"/files/{ref['id']}").status_code == 404                      # someone uninvolved: no


def test_a_start_form_refuses_someone_elses_upload(app, staff, sessions):
    zhang, li = client_for(app, "zhang"), client_for(app, "li")
    ref = uploaded(li, b"%PDF-1.4 li's", "li.pdf")
    response = start(zhang, proof=json.dumps([ref]))
    assert response.status_code == 422
    assert "不是你上传的" in response.get_data(as_text=True)
    assert upload_row(sessions, ref["id"]).instance_id is None
    with sessions() as session:
        assert queries.list_processes(session)  # deployed, but nothing started
        assert session.execute(select(Upload.instance_id)).scalars().all() == [None]


def test_an_upload_attached_to_one_request_cannot_be_reused_in_another(app, staff, sessions):
    zhang = client_for(app, "zhang")
    ref = uploaded(zhang, b"%PDF-1.4 once", "once.pdf")
    first = started(zhang, proof=json.dumps([ref]))
    response = start(zhang, proof=json.dumps([ref]))
    assert response.status_code == 422 and "不是你上传的" in response.get_data(as_text=True)
    assert upload_row(sessions, ref["id"]).instance_id == first


def test_a_file_whose_bytes_changed_is_refused(app, staff, sessions, tmp_path):
    zhang = client_for(app, "zhang")
    ref = uploaded(zhang, b"%PDF-1.4 original", "x.pdf")
    (tmp_path / "uploads" / ref["id"][:2] / ref["id"]).write_bytes(b"%PDF-1.4 changed!")
    response = start(zhang, proof=json.dumps([ref]))
    assert response.status_code == 422 and "校验和不符" in response.get_data(as_text=True)


# -- attachments on a decision and on operations ----------------------------------------------------------

def test_an_attachment_on_a_decision_is_in_the_timeline(app, staff, sessions):
    zhang, wang, li = client_for(app, "zhang"), client_for(app, "wang"), client_for(app, "li")
    instance_id = started(zhang)
    task_id = open_task(sessions, instance_id)
    page = wang.get(f"/tasks/{task_id}").get_data(as_text=True)
    assert 'data-upload-for="task-attachments"' in page and 'name="task-attachments"' in page
    memo = uploaded(wang, "同意。交接见附件".encode(), "交接说明.txt")
    response = post(wang, f"/tasks/{task_id}", {"approved": "true", "task-comment": "同意",
                                                "task-attachments": json.dumps([memo])})
    assert response.status_code == 302, response.get_data(as_text=True)
    with sessions() as session:
        entry = next(h for h in queries.instance_view(session, instance_id)["history"]
                     if h["action"] == "task_completed")
    assert entry["data"][uploads.HISTORY_KEY] == [{"id": memo["id"], "name": "交接说明.txt", "size": memo["size"]}]
    assert entry["data"]["approved"] is True
    assert upload_row(sessions, memo["id"]).instance_id == instance_id
    timeline = zhang.get(f"/instances/{instance_id}").get_data(as_text=True)
    assert f'href="/files/{memo["id"]}"' in timeline and "交接说明.txt" in timeline
    assert zhang.get(f"/files/{memo['id']}").data == "同意。交接见附件".encode()   # the initiator downloads it
    assert li.get(f"/files/{memo['id']}").status_code == 404


def test_a_decision_refuses_someone_elses_upload(app, staff, sessions):
    zhang, wang = client_for(app, "zhang"), client_for(app, "wang")
    instance_id = started(zhang)
    task_id = open_task(sessions, instance_id)
    theirs = uploaded(zhang, b"%PDF-1.4 zhang's", "zhang.pdf")
    response = post(wang, f"/tasks/{task_id}", {"approved": "true", "task-attachments": json.dumps([theirs])})
    assert response.status_code == 422
    assert "不是你上传的" in response.get_data(as_text=True)
    assert open_task(sessions, instance_id) == task_id  # nothing was saved
    assert upload_row(sessions, theirs["id"]).instance_id is None


def test_an_operation_carries_attachments(app, staff, sessions):
    zhang, li = client_for(app, "zhang"), client_for(app, "li")
    instance_id = started(zhang)
    page = zhang.get(f"/instances/{instance_id}").get_data(as_text=True)
    assert 'id="urge-attachments-upload"' in page and "upload.js" in page
    note = uploaded(zhang, b"%PDF-1.4 please", "urgent.pdf")
    response = post(zhang, f"/instances/{instance_id}/urge", {"comment": "请尽快",
                                                               "attachments": json.dumps([note])})
    assert response.status_code == 302
    with sessions() as session:
        entry = next(h for h in queries.instance_view(session, instance_id)["history"] if h["action"] == "urged")
    assert entry["data"][uploads.HISTORY_KEY] == [{"id": note["id"], "name": "urgent.pdf", "size": note["size"]}]
    assert f'href="/files/{note["id"]}"' in zhang.get(f"/instances/{instance_id}").get_data(as_text=True)
    # li's upload in zhang's CC: refused with a message, nobody copied
    foreign = uploaded(li, b"%PDF-1.4 li", "li.pdf")
    response = post(zhang, f"/instances/{instance_id}/cc", {"to": "li", "attachments": json.dumps([foreign])})
    assert response.status_code == 302
    with sessions() as session:
        assert not any(h["action"] == "cc" for h in queries.instance_view(session, instance_id)["history"])
    assert "不是你上传的" in zhang.get(f"/instances/{instance_id}").get_data(as_text=True)


def test_a_transfer_carries_attachments(app, staff, sessions):
    zhang, wang = client_for(app, "zhang"), client_for(app, "wang")
    instance_id = started(zhang)
    task_id = open_task(sessions, instance_id)
    note = uploaded(wang, b"%PDF-1.4 context", "context.pdf")
    response = post(wang, f"/tasks/{task_id}/transfer", {"to": "li", "attachments": json.dumps([note])})
    assert response.status_code == 302
    with sessions() as session:
        entry = next(h for h in queries.instance_view(session, instance_id)["history"]
                     if h["action"] == "transferred")
    assert entry["data"]["to"] == "li"
    assert entry["data"][uploads.HISTORY_KEY][0]["id"] == note["id"]
    li = client_for(app, "li")  # holds the task now: may view the instance and its files
    assert li.get(f"/files/{note['id']}").status_code == 200


def test_delegation_and_withdrawal_carry_attachments(app, staff, sessions):
    zhang, wang = client_for(app, "zhang"), client_for(app, "wang")
    instance_id = started(zhang)
    task_id = open_task(sessions, instance_id)
    brief = uploaded(wang, b"%PDF-1.4 brief", "brief.pdf")
    assert post(wang, f"/tasks/{task_id}/delegate", {"to": "li", "attachments": json.dumps([brief])}).status_code == 302
    li = client_for(app, "li")
    answer = uploaded(li, b"%PDF-1.4 answer", "answer.pdf")
    response = post(li, f"/tasks/{task_id}", {"approved": "true", "task-attachments": json.dumps([answer])})
    assert response.status_code == 302, response.get_data(as_text=True)
    reason = uploaded(zhang, b"%PDF-1.4 plans changed", "reason.pdf")
    assert post(zhang, f"/instances/{instance_id}/withdraw",
                {"attachments": json.dumps([reason])}).status_code == 302
    with sessions() as session:
        history = {h["action"]: h for h in queries.instance_view(session, instance_id)["history"]}
    for action, ref in (("delegated", brief), ("delegation_done", answer), ("withdrawn", reason)):
        assert [a["id"] for a in uploads.attachments_of(history[action]["data"])] == [ref["id"]], action
        assert upload_row(sessions, ref["id"]).instance_id == instance_id
    assert history["withdrawn"]["data"] == {uploads.HISTORY_KEY: [{"id": reason["id"], "name": "reason.pdf",
                                                                   "size": reason["size"]}]}

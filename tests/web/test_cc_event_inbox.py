"""The inbox's "CC'd to me" tab names the process, not a person, for a copy a diagram's CC event made."""

from __future__ import annotations

from engine import runtime
from engine.packages import deployment as packages
from engine.people import accounts
from tests.engine.conftest import flow, write_package

from .conftest import PASSWORD, sign_in

BODY = f"""
<bpmn:startEvent id="start"/>
<bpmn:intermediateThrowEvent id="copy" name="Copy" liaison:cc="users:zhao"/>
<bpmn:userTask id="approve" name="Approve" liaison:assignee="root"/>
<bpmn:endEvent id="done"/>
{flow("start", "copy")}{flow("copy", "approve")}{flow("approve", "done")}
"""


def test_a_copy_by_the_diagram_is_listed_as_made_by_the_process(app, sessions, people, tmp_path):
    with sessions() as session, session.begin():
        accounts.create_person_account(session, "zhao", "赵六", PASSWORD)
    with sessions() as session, session.begin():
        packages.deploy(session, packages.load_package(write_package(tmp_path, "buy", {"buy": BODY})), "admin")
    started = runtime.start_instance(sessions, "buy", {}, user="zhang")
    client = app.test_client()
    assert sign_in(client, "zhao").status_code == 302
    listed = client.get("/inbox/?view=cc").get_data(as_text=True)
    assert f'data-instance="{started.instance_id}" class="is-unread"' in listed
    assert "流程（自动抄送）" in listed and ">system<" not in listed
    assert client.get(f"/instances/{started.instance_id}").status_code == 200  # a CC'd person may view it

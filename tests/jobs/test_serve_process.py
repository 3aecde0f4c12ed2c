"""`liaison run` serves with a production WSGI server (waitress), and its in-process runner works.

A real subprocess on a free port against a temp SQLite instance: /healthz answers, the `Server:`
header is Liaison's (not Werkzeug's development server, not waitress's name), and a queued e-mail
and a 2-second timer are done by the job runner inside the served process.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import urllib.request

from sqlalchemy import select

from engine import runtime
from engine.data import db
from engine.data.models import ProcessInstance
from engine.packages import deployment as packages
from tests.jobs.conftest import LIAISON, free_port, wait_for
from tests.jobs.test_delivery_workers import add_people
from tests.jobs.test_timer_workers import timer_package


def _get(url: str):
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except OSError:
        return None


def test_liaison_run_serves_with_waitress_and_runs_jobs_in_process(tmp_path, sqlite_template, smtp_server):
    handler, smtp_url = smtp_server()
    shutil.copy(sqlite_template, tmp_path / "liaison.db")
    url = f"sqlite:///{tmp_path / 'liaison.db'}"
    engine = db.make_engine(url)
    sessions = db.make_session_factory(engine)
    add_people(sessions, "alice")
    packages.deploy_package(sessions, packages.load_package(timer_package(tmp_path)), "admin")
    result = runtime.start_instance(sessions, "timeout", {}, "bob")  # e-mails alice, then a 2-s timer

    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("LIAISON_")}
    env.update(LIAISON_DATABASE_URL=url, LIAISON_INSTANCE_DIR=str(tmp_path), LIAISON_SMTP_URL=smtp_url)
    log = tmp_path / "run.log"
    with log.open("wb") as out:
        process = subprocess.Popen([str(LIAISON), "run", "--port", str(port)], env=env, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    try:
        answer = wait_for(lambda: _get(f"http://127.0.0.1:{port}/healthz"), 60,
                          lambda: f"/healthz on port {port}; log:\n{log.read_text()}")
        status, headers, _ = answer
        assert status == 200
        assert headers["Server"] == "Liaison"
        assert "development server" not in log.read_text()  # Flask's server says so on start
        assert "(waitress, 8 threads;" in log.read_text()
        # no LIAISON_BASE_URL: the links it writes name the port it serves on, not the settings' default 5000
        assert f"links in e-mails and invitations: http://127.0.0.1:{port}\n" in log.read_text()
        wait_for(lambda: "alice@example.com" in handler.recipients(), 30, "alice's task e-mail")

        def instance_status():
            with sessions() as session:
                return session.scalar(select(ProcessInstance.status).where(ProcessInstance.id == result.instance_id))

        wait_for(lambda: instance_status() == "completed", 30, "the 2-second timer to end the instance")
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(20)
        engine.dispose()


def test_make_run_takes_port_and_host():
    root = LIAISON.parents[2]
    plan = subprocess.run(["make", "-n", "-C", str(root), "run", "PORT=5055", "HOST=0.0.0.0"], capture_output=True,
                          text=True, timeout=60)
    assert ".venv/bin/liaison run --host 0.0.0.0 --port 5055" in plan.stdout, plan.stdout + plan.stderr
    default = subprocess.run(["make", "-n", "-C", str(root), "run"], capture_output=True, text=True, timeout=60,
                             env={k: v for k, v in os.environ.items() if k not in ("PORT", "HOST")})
    assert ".venv/bin/liaison run --host 127.0.0.1 --port 5000" in default.stdout

"""Fixtures for the job tests: a redis-server of the test's own, an SMTP server, worker processes.

Each test that needs Redis starts its own `redis-server` on a free port (no persistence), so it
can kill and restart it. Workers are real `liaison worker` subprocesses in their own process
group. A missing redis-server binary skips locally and fails in CI (CI=true).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

REDIS_SERVER = os.environ.get("LIAISON_TEST_REDIS_SERVER", "/usr/bin/redis-server")
LIAISON = Path(sys.executable).parent / "liaison"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(condition: Callable[[], object], timeout: float = 30.0,
             what: str | Callable[[], str] = "condition", interval: float = 0.05):
    """Poll `condition` until it returns a true value (returned), or fail after `timeout` seconds.

    `what` names the awaited thing in the failure; a callable is asked only then (e.g. for logs).
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what() if callable(what) else what}")
        time.sleep(interval)


def _redis_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """A redis-server process on a fixed port that the test can kill and start again."""

    def __init__(self, port: int, folder: Path):
        self.port = port
        self.folder = folder
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: _redis_ping(self.port), 15, f"redis-server on port {self.port}")
        return self

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.process = None

    def queued(self, queue: str = "liaison") -> int:
        """Jobs waiting in an RQ queue (LLEN over the raw protocol)."""
        key = f"rq:queue:{queue}".encode()
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as sock:
            sock.sendall(b"*2\r\n$4\r\nLLEN\r\n$%d\r\n%s\r\n" % (len(key), key))
            reply = sock.recv(64)
        return int(reply[1:].split(b"\r\n")[0])


@pytest.fixture
def redis_server(tmp_path):
    """A fresh redis-server of this test's own (killed at the end)."""
    if not (os.path.isfile(REDIS_SERVER) and os.access(REDIS_SERVER, os.X_OK)) and not shutil.which("redis-server"):
        message = f"redis-server not found at {REDIS_SERVER}"
        if IN_CI:
            pytest.fail(f"Redis is required in CI: {message}")
        pytest.skip(message)
    folder = tmp_path / "redis"
    folder.mkdir()
    server = RedisServer(free_port(), folder).start()
    yield server
    server.kill()


class RecordingHandler:
    """An aiosmtpd handler: waits `delay` seconds inside DATA, then records the message and says 250.

    `entered` is set while a DATA is being handled; `cancelled` counts handlers aiosmtpd cancelled
    because the client went away before the reply.
    """

    def __init__(self, delay: float = 0.0):
        self.delay = delay
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.cancelled = 0
        self.entered = threading.Event()
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.entered.set()
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
        except asyncio.CancelledError:
            with self.lock:
                self.cancelled += 1
            raise
        finally:
            self.entered.clear()
        with self.lock:
            self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"

    def recipients(self) -> list[str]:
        with self.lock:
            return [rcpt for _sender, rcpts, _content in self.messages for rcpt in rcpts]


@pytest.fixture
def smtp_server():
    """Start an aiosmtpd server: `smtp_server(delay=0.0)` returns (handler, url)."""
    from aiosmtpd.controller import Controller

    controllers = []

    def start(delay: float = 0.0):
        handler = RecordingHandler(delay)
        controller = Controller(handler, hostname="127.0.0.1", port=free_port())
        controller.start()
        controllers.append(controller)
        return handler, f"smtp://127.0.0.1:{controller.port}"

    yield start
    for controller in controllers:
        controller.stop()


class Workers:
    """`liaison worker` subprocesses, each in its own process group, with their output in files."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.processes: list[tuple[subprocess.Popen, Path]] = []

    def start(self, database_url: str, redis_url: str, name: str, **env: str) -> subprocess.Popen:
        environ = {key: value for key, value in os.environ.items() if not key.startswith("LIAISON_")}
        environ.update({"LIAISON_REDIS_URL": redis_url, "LIAISON_INSTANCE_DIR": str(self.folder / "instance"),
                        "PYTHONUNBUFFERED": "1", **env})
        log = self.folder / f"worker-{name}.log"
        with log.open("ab") as out:
            process = subprocess.Popen([str(LIAISON), "--database-url", database_url, "worker", "--name", name],
                                       env=environ, cwd=self.folder, stdout=out, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, start_new_session=True)
        self.processes.append((process, log))
        return process

    @staticmethod
    def kill(process: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
        """Send `sig` to the worker's whole process group."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)

    def stop(self, process: subprocess.Popen, timeout: float = 20.0) -> int:
        """SIGTERM, then wait for the exit code (SIGKILL and fail if it does not stop)."""
        self.kill(process, signal.SIGTERM)
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill(process)
            process.wait(5)
            pytest.fail(f"worker {process.pid} did not stop on SIGTERM within {timeout:.0f}s:\n{self.logs()}")

    def logs(self) -> str:
        return "\n".join(f"--- {log.name}\n{log.read_text(errors='replace')[-4000:]}"
                         for _process, log in self.processes if log.exists())

    def close(self) -> None:
        for process, _log in self.processes:
            if process.poll() is None:
                self.kill(process)
                process.wait(10)


@pytest.fixture
def workers(tmp_path):
    """Start worker processes with `workers.start(database_url, redis_url, name, **env)`; all killed at the end."""
    pool = Workers(tmp_path)
    yield pool
    pool.close()

"""Background jobs: which rows are due, who runs them, and the in-process runner.

The database is the source of truth for work to do: due timers (`timer`), outbox rows
(`outbox`) and notices with background work (`notice.job`: fan-out or reminder) each carry a lease
column, `claimed_until`. A `Dispatcher` claims due rows
(`engine.timers.claim_due`, `engine.delivery.claim_due`: the lease is set, SKIP LOCKED on
PostgreSQL) and hands each id to a `submit(kind, id)` callable:

- with Redis (`liaison worker`, `engine.queue`), submit enqueues `run_timer` / `run_delivery`
  on RQ, and any worker process runs it;
- without Redis (the embedded default), `InProcessRunner` runs the job in a small thread pool.

A submit that fails (queue down) loses nothing: the claimed row waits for its lease to expire
and is claimed again. Running a job twice is harmless: `timers.fire` marks the timer fired in
the same write as the engine step it causes, only while it is still pending, and
`delivery.deliver` skips a row that is no longer due. This module imports no RQ or Redis.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from engine.data import db
from engine.notices import process_link
from engine.notices import sending as notices
from engine.notify import delivery
from engine.projects import process_wait as project_requests
from engine.runtime import external_tasks, messages, room_sync, signals, timers, visit_passes
from engine.work import analytics

log = logging.getLogger("liaison.jobs")
_MODULES = {"timers": timers, "delivery": delivery, "messages": messages, "notices": notices}

TIMER = "timer"
DELIVERY = "delivery"
NOTICE = "notice"  # a notice's fan-out or reminder, in batches (engine.notices.sending.run_job)
KINDS = (TIMER, DELIVERY, NOTICE)
DEFAULT_LEASE = timedelta(seconds=60)
LEASE_ENV = "LIAISON_JOB_LEASE_SECONDS"
EXPIRE_EVERY = 60.0  # seconds between two `messages.expire` calls
MAX_IDLE_BACKOFF = 30.0  # seconds: the longest pause after the database failed a tick

Sessions = sessionmaker[Session]
Submit = Callable[[str, int], object]

_SESSIONS: dict[tuple[int, str], Sessions] = {}
_SESSIONS_LOCK = threading.Lock()


def lease_from_env(environ: dict[str, str] | None = None) -> timedelta:
    """The claim lease: `LIAISON_JOB_LEASE_SECONDS` (a positive number) or 60 seconds.

    A short lease makes a dead worker's claim come back sooner; it must stay longer than one
    job takes (an SMTP send, one engine step), or a slow job may be claimed a second time.
    """
    raw = (os.environ if environ is None else environ).get(LEASE_ENV, "").strip()
    if not raw:
        return DEFAULT_LEASE
    try:
        seconds = float(raw)
    except ValueError:
        log.warning("%s=%r is not a number: using %ss", LEASE_ENV, raw, DEFAULT_LEASE.total_seconds())
        return DEFAULT_LEASE
    return timedelta(seconds=seconds) if seconds > 0 else DEFAULT_LEASE


def sessions_for(database_url: str) -> Sessions:
    """One session factory per database URL and process (a forked child gets its own engine)."""
    key = (os.getpid(), database_url)
    factory = _SESSIONS.get(key)
    if factory is None:
        with _SESSIONS_LOCK:
            factory = _SESSIONS.get(key)
            if factory is None:
                factory = db.make_session_factory(db.make_engine(database_url))
                _SESSIONS[key] = factory
    return factory


def _module(name: str):
    """The module that claims and runs one kind of job: `timers`, `delivery` or `messages`."""
    return _MODULES[name]


_JOB_MODULES = {TIMER: ("timers", "fire"), DELIVERY: ("delivery", "deliver"), NOTICE: ("notices", "run_job")}


def execute(sessions: Sessions, kind: str, item_id: int, lease: timedelta | None = None) -> str:
    """Run one job now, in this thread: fire timer `item_id` or deliver outbox row `item_id`.

    `lease` (default: `LIAISON_JOB_LEASE_SECONDS` when set) is passed on to a job function that
    takes one: how long the row it works on stays its own (e.g. while an e-mail is being sent).

    Returns the outcome of `timers.fire` ("fired", "skipped", "retry", "failed") or
    `delivery.deliver` ("sent", "retry", "failed", "skipped").
    """
    try:
        module_name, function = _JOB_MODULES[kind]
    except KeyError:
        raise ValueError(f"unknown job kind {kind!r}") from None
    if lease is None and os.environ.get(LEASE_ENV):
        lease = lease_from_env()
    job = getattr(_module(module_name), function)
    outcome = job(sessions, item_id, lease=lease) if kind == DELIVERY and lease is not None else job(sessions, item_id)
    log.debug("%s %s: %s", kind, item_id, outcome)
    return outcome


def run_timer(database_url: str, timer_id: int) -> str:
    """RQ job: fire one timer (a no-op "skipped" when it fired already or was cancelled)."""
    return execute(sessions_for(database_url), TIMER, timer_id)


def run_delivery(database_url: str, outbox_id: int) -> str:
    """RQ job: deliver one outbox row (e-mail or webhook), or schedule its retry."""
    return execute(sessions_for(database_url), DELIVERY, outbox_id)


def run_notice(database_url: str, notice_id: int) -> str:
    """RQ job: fan a notice out (or send its reminder) to the end, one batch per transaction."""
    return execute(sessions_for(database_url), NOTICE, notice_id)


JOB_FUNCTIONS: dict[str, Callable[[str, int], str]] = {TIMER: run_timer, DELIVERY: run_delivery, NOTICE: run_notice}


class Dispatcher:
    """Claims due timers and outbox rows and hands each id to `submit(kind, id)`.

    `capacity()`, when given, says how many more jobs the executor takes now (a full queue or
    pool: claim less, so claimed rows do not outlive their lease waiting); it may raise, like
    `submit`, when the queue is down: then nothing is claimed this round. A failing submit is
    logged once; its row and the rest of the batch wait for the lease and are claimed again.
    Any number of dispatchers may run at once (leases, and SKIP LOCKED on PostgreSQL).
    """

    def __init__(self, sessions: Sessions, submit: Submit, interval: float = 1.0, batch: int = 100,
                 lease: timedelta | None = None, capacity: Callable[[], int] | None = None):
        self.sessions = sessions
        self.submit = submit
        self.interval = interval
        self.batch = batch
        self.lease = lease or lease_from_env()
        self.capacity = capacity
        self.queue_down = False
        self._last_expire = 0.0
        self._order = [(NOTICE, "notices"), (TIMER, "timers"), (DELIVERY, "delivery")]

    def tick(self, now: datetime | None = None) -> int:
        """One round: claim what is due now and submit it. Returns how many ids were submitted."""
        room = self._room()
        submitted = 0
        self._order.append(self._order.pop(0))  # no kind starves the others when room is short
        for kind, module_name in self._order:
            limit = min(self.batch, room - submitted)
            if limit <= 0:
                break
            ids = _module(module_name).claim_due(self.sessions, now=now, limit=limit, lease=self.lease)
            for position, item_id in enumerate(ids):
                if not self._submit(kind, item_id, len(ids) - position):
                    return submitted
                submitted += 1
        if submitted:
            self._queue_up()
        self._expire_messages(now)
        return submitted

    def run_forever(self, stop_event: threading.Event) -> None:
        """Tick until `stop_event` is set: again at once after a full batch, else every `interval`.

        A failing tick (database unreachable, say) is logged and retried with a growing pause
        (up to 30 s); the loop itself never ends on an error.
        """
        pause = self.interval
        while not stop_event.is_set():
            try:
                submitted = self.tick()
            except Exception:  # noqa: BLE001 - the loop must survive a database outage
                log.exception("job dispatcher: a round failed; trying again in %.0fs", pause)
                stop_event.wait(pause)
                pause = min(pause * 2, MAX_IDLE_BACKOFF)
                continue
            pause = self.interval
            if submitted < self.batch:
                stop_event.wait(self.interval)

    def _room(self) -> int:
        if self.capacity is None:
            return self.batch * len(KINDS)
        try:
            room = int(self.capacity())
        except Exception as exc:  # noqa: BLE001 - any failure of the queue means "not now"
            self._queue_failed(exc)
            return 0
        self._queue_up()
        return room

    def _submit(self, kind: str, item_id: int, waiting: int) -> bool:
        try:
            self.submit(kind, item_id)
        except Exception as exc:  # noqa: BLE001 - the rows stay claimed and come back after the lease
            self._queue_failed(exc, waiting)
            return False
        return True

    def _queue_failed(self, exc: Exception, waiting: int = 0) -> None:
        if not self.queue_down:
            extra = f"; {waiting} claimed job(s) wait for their lease ({self.lease.total_seconds():.0f}s)" \
                if waiting else ""
            log.warning("job queue unavailable: %s: %s: work stays in the database and is retried%s",
                        type(exc).__name__, exc, extra)
        self.queue_down = True

    def _queue_up(self) -> None:
        if self.queue_down:
            log.warning("job queue reachable again: dispatching")
        self.queue_down = False

    def _expire_messages(self, now: datetime | None) -> None:
        """About once a minute: `messages.sweep` drops buffered messages
        past their keep time and hands kept ones to instances that wait for them."""
        clock = time.monotonic()
        if clock - self._last_expire < EXPIRE_EVERY:
            return
        self._last_expire = clock
        messages = _module("messages")
        if messages is None:
            return
        try:
            messages.sweep(self.sessions, now=now)
            external_tasks.sweep(self.sessions, now=now)  # links a crash after a step's commit missed
        except Exception:  # noqa: BLE001 - housekeeping; the next minute retries
            log.exception("sweeping buffered messages failed")
        try:
            signals.sweep(self.sessions, now=now)  # thrown signals a crash left pending, failed receivers again
        except Exception:  # noqa: BLE001 - housekeeping; the next minute retries
            log.exception("sweeping signal deliveries failed")
        try:
            visit_passes.sweep(self.sessions, now=now)
        except Exception:  # noqa: BLE001 - housekeeping; the next minute retries
            log.exception("sweeping visitor passes failed")
        try:
            room_sync.sweep(self.sessions, now=now)
        except Exception:  # noqa: BLE001 - housekeeping; the next minute retries
            log.exception("sweeping room bookings failed")
        try:
            process_link.sweep(self.sessions, now=now)  # notices a crash after their instance's end missed
        except Exception:  # noqa: BLE001 - housekeeping; the next minute retries
            log.exception("sweeping notices of ended instances failed")
        try:
            analytics.sweep(self.sessions, now=now)  # the dashboards' summary tables, from newer history
        except Exception:  # noqa: BLE001 - housekeeping; the next minute retries
            log.exception("refreshing the analytics summary failed")
        try:
            project_requests.take_requests(self.sessions, now=now)  # process steps asking for project tasks
        except Exception:  # noqa: BLE001 - housekeeping; the next minute retries
            log.exception("taking project task requests failed")


class InProcessRunner:
    """The embedded default without Redis: a daemon thread dispatching to a small thread pool.

    `start()` begins, `stop()` ends (waiting for running jobs); also a context manager. At most
    `workers * 4` jobs are claimed but not finished at any time, so a slow SMTP server does not
    leave claimed rows waiting past their lease.
    """

    def __init__(self, sessions: Sessions, workers: int = 2, interval: float = 1.0, batch: int = 100,
                 lease: timedelta | None = None):
        self.sessions = sessions
        self.workers = workers
        self.limit = workers * 4
        self._inflight = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._pool: ThreadPoolExecutor | None = None
        self._thread: threading.Thread | None = None
        self.outcomes: dict[str, int] = {}
        self.dispatcher = Dispatcher(sessions, self._submit, interval=interval, batch=batch, lease=lease,
                                     capacity=self._capacity)

    def start(self) -> InProcessRunner:
        """Start the pool and the dispatcher thread (once)."""
        if self._thread is not None:
            return self
        self._stop.clear()
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="liaison-job")
        self._thread = threading.Thread(target=self.dispatcher.run_forever, args=(self._stop,),
                                        name="liaison-dispatcher", daemon=True)
        self._thread.start()
        log.info("jobs run in process (%d threads)", self.workers)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop claiming, then wait for the jobs already handed to the pool."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def __enter__(self) -> InProcessRunner:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _capacity(self) -> int:
        with self._lock:
            return max(0, self.limit - self._inflight)

    def _submit(self, kind: str, item_id: int) -> None:
        if self._pool is None:
            raise RuntimeError("the in-process runner is stopped")
        with self._lock:
            self._inflight += 1
        try:
            self._pool.submit(self._run, kind, item_id)
        except Exception:
            with self._lock:
                self._inflight -= 1
            raise

    def _run(self, kind: str, item_id: int) -> None:
        try:
            outcome = execute(self.sessions, kind, item_id)
        except Exception:  # noqa: BLE001 - a job's failure must not kill the pool thread
            log.exception("%s job %s failed", kind, item_id)
            outcome = "error"
        finally:
            with self._lock:
                self._inflight -= 1
        with self._lock:
            key = f"{kind}:{outcome}"
            self.outcomes[key] = self.outcomes.get(key, 0) + 1


def run_due(sessions: Sessions, now: datetime | None = None, batch: int = 100) -> dict[str, int]:
    """One dispatcher round run here and now, each job in this thread (`liaison jobs run-due`).

    Returns the count of each outcome, e.g. {"timer:fired": 2, "delivery:sent": 5}.
    """
    counts: dict[str, int] = {}

    def submit(kind: str, item_id: int) -> None:
        try:
            outcome = execute(sessions, kind, item_id)
        except Exception:  # noqa: BLE001 - reported as an outcome, the row's lease brings it back
            log.exception("%s job %s failed", kind, item_id)
            outcome = "error"
        counts[f"{kind}:{outcome}"] = counts.get(f"{kind}:{outcome}", 0) + 1

    Dispatcher(sessions, submit, batch=batch).tick(now or datetime.now(UTC))
    return counts

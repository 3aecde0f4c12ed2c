"""RQ over Redis: the production job queue (`liaison worker`). The only module importing rq/redis.

Redis only distributes work; the database says what is due (see `engine.jobs`). Each worker
process runs a `jobs.Dispatcher` thread that claims due timers and outbox rows and enqueues
`jobs.run_timer` / `jobs.run_delivery` on the "liaison" queue, and an RQ `SimpleWorker` in the
main thread that runs them (no fork per job: the database engine and the caches of specs and
live workflows stay warm). Any number of workers may run at once.

Redis down is a delay, never a loss: the dispatcher claims nothing while Redis does not answer
(2 s socket timeouts: a dead Redis fails fast), and a job enqueued just before Redis went away
is claimed again from the database when its row's lease expires. The worker logs one line when
Redis becomes unreachable, retries with a growing pause (1 s .. 30 s) forever, and picks up
again by itself when Redis is back. SIGTERM (or Ctrl-C) stops it cleanly after the running job.
"""

from __future__ import annotations

import logging
import signal
import threading
import time

from redis import Redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry
from rq import Queue, SimpleWorker

from engine.config import Settings
from engine.errors import QueueUnavailableError
from engine.jobs import dispatch as jobs

log = logging.getLogger("liaison.queue")

QUEUE_NAME = "liaison"
SOCKET_TIMEOUT = 2.0  # seconds, for connecting and for every command of the enqueueing client
HIGH_WATER = 500  # jobs waiting in the queue above which a dispatcher claims nothing more
JOB_TIMEOUT = 300  # seconds one job may run before RQ stops it
RESULT_TTL = 300  # seconds RQ keeps a finished job's outcome
FAILURE_TTL = 7 * 24 * 3600
BACKOFF_MIN, BACKOFF_MAX = 1.0, 30.0
WORKER_TTL = 60  # seconds; RQ blocks up to WORKER_TTL - 15 s waiting for a job


def _client(redis_url: str, socket_timeout: float | None = SOCKET_TIMEOUT) -> Redis:
    """A Redis client that fails fast: 2 s to connect, no silent retries."""
    return Redis.from_url(redis_url, socket_connect_timeout=SOCKET_TIMEOUT, socket_timeout=socket_timeout,
                          retry=Retry(NoBackoff(), 0), health_check_interval=30)


def _safe_url(redis_url: str) -> str:
    """The URL without a password, for log lines."""
    head, at, tail = redis_url.rpartition("@")
    return f"{head.split('://')[0]}://***@{tail}" if at else redis_url


class RedisQueue:
    """Enqueues jobs for `liaison worker` processes: `submit(kind, id)` is a Dispatcher's submit."""

    def __init__(self, redis_url: str, database_url: str, queue_name: str = QUEUE_NAME,
                 high_water: int = HIGH_WATER):
        self.redis_url = redis_url
        self.database_url = database_url
        self.high_water = high_water
        self.connection = _client(redis_url)
        self.queue = Queue(queue_name, connection=self.connection)

    def submit(self, kind: str, item_id: int) -> str:
        """Enqueue the job for timer or outbox row `item_id`; returns the RQ job id.

        The job id `kind-id-claim_second` (RQ allows letters, digits, `_` and `-`) makes a
        re-submission of the same claim one job.
        Raises `QueueUnavailableError` when Redis does not answer within 2 s.
        """
        try:
            function = jobs.JOB_FUNCTIONS[kind]
        except KeyError:
            raise ValueError(f"unknown job kind {kind!r}") from None
        job_id = f"{kind}-{item_id}-{int(time.time())}"
        try:
            self.queue.enqueue(function, self.database_url, item_id, job_id=job_id, job_timeout=JOB_TIMEOUT,
                               result_ttl=RESULT_TTL, failure_ttl=FAILURE_TTL, description=f"{kind} {item_id}")
        except RedisError as exc:
            raise QueueUnavailableError(f"Redis at {_safe_url(self.redis_url)} unavailable: {exc}") from exc
        return job_id

    def capacity(self) -> int:
        """How many more jobs to enqueue now (0 when the queue already holds `high_water`)."""
        try:
            waiting = self.queue.count
        except RedisError as exc:
            raise QueueUnavailableError(f"Redis at {_safe_url(self.redis_url)} unavailable: {exc}") from exc
        return max(0, self.high_water - waiting)


class _Worker(SimpleWorker):
    """RQ's in-process worker whose stop request (SIGTERM, SIGINT) also stops our dispatcher."""

    max_connection_wait_time = BACKOFF_MAX
    stop_event: threading.Event | None = None

    def request_stop(self, signum, frame):  # noqa: D102 - RQ's signal handler
        if self.stop_event is not None:
            self.stop_event.set()
        super().request_stop(signum, frame)

    def _install_signal_handlers(self):
        super()._install_signal_handlers()
        if self.stop_event is not None and self.stop_event.is_set():
            self._stop_requested = True  # a signal came before RQ's handlers were in place


def _install_stop_handlers(stop: threading.Event) -> None:
    if threading.current_thread() is not threading.main_thread():
        return

    def handler(signum, _frame):
        log.info("stop requested (%s)", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def run_worker(settings: Settings, name: str | None = None, burst: bool = False,
               stop_event: threading.Event | None = None) -> int:
    """Run a worker until SIGTERM (or `stop_event`); with `burst`, until nothing is due. Returns 0.

    Needs `settings.redis_url`. Never exits because Redis is down: it says so once and retries.
    """
    if not settings.redis_url:
        raise ValueError("run_worker needs a Redis URL (LIAISON_REDIS_URL)")
    stop = stop_event or threading.Event()
    _install_stop_handlers(stop)
    sessions = jobs.sessions_for(settings.database_url)
    queue = RedisQueue(settings.redis_url, settings.database_url)
    dispatcher = jobs.Dispatcher(sessions, queue.submit, capacity=queue.capacity)
    where = _safe_url(settings.redis_url)
    log.info("worker on %s, queue %r, lease %ss", where, QUEUE_NAME, dispatcher.lease.total_seconds())
    if burst:
        return _run_burst(settings.redis_url, name, dispatcher, stop)
    thread = threading.Thread(target=dispatcher.run_forever, args=(stop,), name="liaison-dispatcher",
                              daemon=True)
    thread.start()
    backoff, attempt, down = BACKOFF_MIN, 0, False
    while not stop.is_set():
        started = time.monotonic()
        try:
            worker = _make_worker(settings.redis_url, name, attempt, stop)
            if down:
                log.warning("Redis at %s is reachable again: working", where)
                down = False
            worker.work(burst=False, logging_level="WARNING", with_scheduler=False)
        except ValueError as exc:  # RQ: "There exists an active worker named ..." (a killed one's key)
            log.warning("%s: trying again under another name", exc)
        except (RedisError, OSError) as exc:
            if not down:
                log.warning("Redis at %s is unreachable (%s): timers and notifications wait in the "
                            "database; retrying every %.0f..%.0fs", where, exc, BACKOFF_MIN, BACKOFF_MAX)
            down = True
        _install_stop_handlers(stop)  # RQ replaced them while it worked
        if stop.is_set():
            break
        attempt += 1
        if time.monotonic() - started > BACKOFF_MAX:
            backoff = BACKOFF_MIN
        stop.wait(backoff)
        backoff = min(backoff * 2, BACKOFF_MAX)
    thread.join(timeout=10)
    log.info("worker stopped")
    return 0


def _make_worker(redis_url: str, name: str | None, attempt: int, stop: threading.Event) -> _Worker:
    connection = _client(redis_url, socket_timeout=None)  # RQ sets a timeout above its blocking wait
    connection.ping()
    worker_name = name if (name is None or attempt == 0) else f"{name}.{attempt}"
    worker = _Worker([Queue(QUEUE_NAME, connection=connection)], connection=connection, name=worker_name,
                     worker_ttl=WORKER_TTL)
    worker.stop_event = stop
    return worker


def _run_burst(redis_url: str, name: str | None, dispatcher: jobs.Dispatcher, stop: threading.Event) -> int:
    """Dispatch what is due and work the queue empty, until a round finds nothing due.

    Unlike a long-running worker, a burst does not wait for Redis: QueueUnavailableError.
    """
    try:
        return _burst_rounds(redis_url, name, dispatcher, stop)
    except RedisError as exc:
        raise QueueUnavailableError(f"Redis at {_safe_url(redis_url)} is unreachable: {exc}") from exc


def _burst_rounds(redis_url: str, name: str | None, dispatcher: jobs.Dispatcher, stop: threading.Event) -> int:
    worker = _make_worker(redis_url, name, 0, stop)
    while not stop.is_set():
        submitted = dispatcher.tick()
        if dispatcher.queue_down:
            raise QueueUnavailableError(f"Redis at {_safe_url(redis_url)} is unreachable")
        worker.work(burst=True, logging_level="WARNING", with_scheduler=False)
        _install_stop_handlers(stop)
        if not submitted:
            break
        worker = _make_worker(redis_url, name, 0, stop)  # RQ tore the finished one down
    return 0

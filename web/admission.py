"""Who gets a worker thread, and when: /healthz and static files never wait behind searches.

Requests fall in three kinds (`classify`):

- urgent: /healthz, static files, requests waitress already found malformed. Always served first, by
  any free thread; they cost microseconds.
- heavy: searches, exports, cited-by lists, every POST (the tools, uploads, admin). At most
  `heavy_slots` run at once (web_heavy_slots; by default threads - 2).
- page: everything else (article and law pages, forms). Pages and heavy requests together hold at most
  threads - 1 threads, so one is always left for urgent requests.

Under `lawkb serve` the line is kept by `AdmissionDispatcher`, waitress's task dispatcher with three
queues: a request waits there for its slot without holding a thread, and one that has waited longer
than web_queue_timeout is answered 503 (Chinese message, Retry-After) at once instead. The dispatcher
tells the app what it decided through the WSGI environ (`ENVIRON_KEY`).

Under another server (the Flask test client, a WSGI server of the operator's choosing) `register` keeps
the heavy limit inside the app instead: a semaphore of the same size, waited on for web_queue_timeout.
One person searching never meets either limit.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from urllib.parse import parse_qsl

from flask import Flask, g, request
from waitress.task import ThreadedTaskDispatcher, WSGITask

from lawkb.core import settings

from .errors import WebError

URGENT, PAGE, HEAVY = "urgent", "page", "heavy"
ENVIRON_KEY = "lawkb.admission"
ADMITTED, EXPIRED = "admitted", "expired"   # its values: let through by the dispatcher, or waited too long
RETRY_AFTER = 5   # seconds: a slot frees within that in all but a flood
log = logging.getLogger("lawkb.web")
BUSY_MESSAGE = "网站正忙：同时在检索或使用工具的人太多，请过几秒钟再试。"

_URGENT_PATHS = frozenset({"/healthz", "/favicon.ico", "/robots.txt"})
_HEAVY_PREFIXES = ("/api/v1/search", "/lawyer/export", "/cited-by/")


def classify(method: str, path: str, query: str = "") -> str:
    """URGENT, PAGE or HEAVY for a request line (query: the raw query string)."""
    if path in _URGENT_PATHS or path.startswith("/static/"):
        return URGENT
    if method.upper() not in ("GET", "HEAD", "OPTIONS"):
        return HEAVY   # every POST runs a tool, an upload or an admin action
    if path.startswith(_HEAVY_PREFIXES) or (path.startswith("/law/") and path.endswith("/text")):
        return HEAVY
    if path == "/" and query and any(k == "q" and v.strip() for k, v in parse_qsl(query)):
        return HEAVY   # the front page with a question is a search; without one, a form
    return PAGE


def heavy_slots(threads: int, configured: int | None = None) -> int:
    """Heavy requests that may run at once: the setting, or threads - 2, and never all the threads."""
    wanted = settings.get("web_heavy_slots") if configured is None else configured
    wanted = wanted if wanted > 0 else threads - 2
    return max(1, min(wanted, threads - 1))


def busy_error() -> WebError:
    return WebError(503, BUSY_MESSAGE, headers={"Retry-After": str(RETRY_AFTER)})


# ---- under `lawkb serve`: the dispatcher keeps the line ----------------------------------------------

class AdmittedTask(WSGITask):
    """waitress's WSGI task, with the dispatcher's decision in the environ."""

    def get_environment(self) -> dict:
        environ = super().get_environment()
        environ[ENVIRON_KEY] = getattr(self.channel, "admission", None) or ADMITTED
        return environ


def _kind_of(channel) -> str:
    try:
        req = channel.requests[0]
    except (AttributeError, IndexError):
        return PAGE
    if req.error is not None:
        return URGENT   # waitress answers it with its error page: no app code runs
    # as waitress builds PATH_INFO: //api/v1/search is the search
    return classify(req.command or "GET", "/" + (req.path or "").lstrip("/"), req.query or "")


class AdmissionDispatcher(ThreadedTaskDispatcher):
    """waitress's thread pool with three queues (urgent, page, heavy) in place of one FIFO.

    A task is a waitress channel whose first request is ready. A thread takes, in order: an urgent task;
    a page or heavy task that has waited past `queue_timeout` (marked EXPIRED: the app answers 503 in
    microseconds, so it needs no slot); the older of the next page and the next heavy task that fits
    under the limits. Nothing else changes: the channel serves its request exactly as under waitress."""

    def __init__(self, threads: int, slots: int, queue_timeout: float) -> None:
        super().__init__()
        self.heavy_slots = slots
        self.general = max(1, threads - 1)   # pages and heavy requests together: one thread stays free
        self.queue_timeout = queue_timeout
        self.queues: dict[str, deque] = {URGENT: deque(), PAGE: deque(), HEAVY: deque()}
        self.running = {PAGE: 0, HEAVY: 0}
        self.expired, self.last_report = 0, float("-inf")

    def add_task(self, task) -> None:
        kind = _kind_of(task)
        with self.lock:
            self.queues[kind].append((time.monotonic(), task))
            self.queue_cv.notify()

    def _pick(self, now: float) -> tuple[tuple[str | None, str | None, object] | None, float | None]:
        """(kind counted or None, note, task) to run now, or None and how long to wait (under the lock)."""
        if self.queues[URGENT]:
            return (None, None, self.queues[URGENT].popleft()[1]), None
        waiting = [q for q in (self.queues[HEAVY], self.queues[PAGE]) if q]
        for q in waiting:
            if 0 < self.queue_timeout < now - q[0][0]:
                self._note_expired(now)
                return (None, EXPIRED, q.popleft()[1]), None
        if self.running[PAGE] + self.running[HEAVY] < self.general:
            fits = [kind for kind in (PAGE, HEAVY) if self.queues[kind]
                    and (kind == PAGE or self.running[HEAVY] < self.heavy_slots)]
            if fits:
                kind = min(fits, key=lambda k: self.queues[k][0][0])   # first come, first served
                self.running[kind] += 1
                return (kind, ADMITTED, self.queues[kind].popleft()[1]), None
        if not waiting or self.queue_timeout <= 0:
            return None, None
        # Wake when the oldest waiting request expires, to answer it even if no slot frees by then.
        return None, max(0.01, min(q[0][0] for q in waiting) + self.queue_timeout - now)

    def _note_expired(self, now: float) -> None:
        self.expired += 1
        if now - self.last_report > 60:   # one line a minute at most: the operator learns, the log stays small
            log.warning("lawkb: %d requests waited over %g s for a worker thread and were answered 503 "
                        "(raise web_threads / web_heavy_slots, or add CPU)", self.expired, self.queue_timeout)
            self.expired, self.last_report = 0, now

    def handler_thread(self, thread_no: int) -> None:
        while True:
            with self.lock:
                while True:
                    if self.stop_count > 0:   # as waitress does: set_thread_count asked fewer threads
                        self.active_count -= 1
                        self.stop_count -= 1
                        self.threads.discard(thread_no)
                        self.thread_exit_cv.notify()
                        return
                    picked, wait = self._pick(time.monotonic())
                    if picked is not None:
                        break
                    self.active_count -= 1
                    self.queue_cv.wait(wait)
                    self.active_count += 1
            kind, note, task = picked
            task.admission = note
            try:
                task.service()
            except BaseException:
                self.logger.exception("Exception when servicing %r", task)
            finally:
                if kind is not None:
                    with self.lock:
                        self.running[kind] -= 1
                        # A slot is free: one idle thread may take a task (idle threads are alike, so if
                        # that one cannot, none can; waking them all would only cost GIL switches).
                        self.queue_cv.notify()

    def shutdown(self, cancel_pending: bool = True, timeout: int = 5) -> bool:
        done = super().shutdown(cancel_pending=cancel_pending, timeout=timeout)
        if cancel_pending:
            with self.lock:
                for q in self.queues.values():
                    while q:
                        q.popleft()[1].cancel()
        return done


# ---- in the app: answering the dispatcher's 503, or keeping the limit itself elsewhere ------------------

def register(app: Flask) -> None:
    """Answer requests the dispatcher let wait too long; without it, limit heavy requests in the app.
    HEAVY_SLOTS in the config sets that limit (0: none), QUEUE_TIMEOUT the wait for a slot."""
    slots = app.config.get("HEAVY_SLOTS")
    if slots is None:
        slots = heavy_slots(settings.get("web_threads"))
    wait = float(app.config.get("QUEUE_TIMEOUT", settings.get("web_queue_timeout"))) or None   # 0: no limit
    gate = threading.BoundedSemaphore(slots) if slots > 0 else None

    @app.before_request
    def _admit():
        note = request.environ.get(ENVIRON_KEY)
        if note == EXPIRED:
            raise busy_error()
        if note is not None or gate is None:
            return   # lawkb's server already let it through
        if classify(request.method, request.path, request.query_string.decode("latin-1")) != HEAVY:
            return
        if not gate.acquire(timeout=wait):
            raise busy_error()
        g.lawkb_heavy_slot = True

    @app.teardown_request
    def _release(exc: BaseException | None) -> None:
        if g.pop("lawkb_heavy_slot", False):
            gate.release()

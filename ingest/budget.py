"""Run parse jobs in child processes, each job under a time and a memory budget.

A parser that meets a pathological file (a DOCX whose styles make every paragraph walk thousands of
others, an HTML page of 50,000 nested elements) can run for hours or take gigabytes; inside the caller
nothing can stop it. So every job runs in a worker process:

- memory: before each job the worker caps its own address space (RLIMIT_AS) at what it holds then plus
  the budget, so an allocation past the budget fails with MemoryError in the worker, which reports it
  and is replaced (after a MemoryError a C library may be left half-way);
- time: the parent gives each job a deadline and kills the worker (SIGKILL) when it passes, then
  starts another one for the jobs still queued. Should the parent die, the worker dies with it
  (PR_SET_PDEATHSIG), and a CPU limit of twice the budget (RLIMIT_CPU) stops it in any case.

Workers are forked from a forkserver (a clean single-threaded process started once per calling process,
with the readers imported and warmed up, see warm.py), never from the caller itself: the site ingests
while its ONNX runtime threads run, and a plain fork copies those threads' locks mid-use. Healthy
workers are kept between batches, so a small ingest pays for no process start at all (a spawned
interpreter spends a third of a second importing the readers; a forked worker some 20 ms and its
first parse more). A worker that holds much memory after a job is retired instead of kept.

Results come back in the order of the jobs, whatever order the workers finish in. A thread feeds the
workers and collects their answers, so that they go on parsing while the caller writes a document.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import wait
from typing import Any

# Imported once by the forkserver, so that each worker starts with the readers loaded and warm.
PRELOAD = ["__main__", "ctypes", "lawkb.ingest.pipeline", "lawkb.ingest.pdf_reader", "lawkb.ingest.docx_reader",
           "lawkb.ingest.html_reader", "lawkb.ingest.text_reader", "lawkb.ingest.warm"]
# Idle workers kept for the next batch, and the peak resident memory past which one is retired instead.
KEEP_IDLE = 8
KEEP_RSS = 512 << 20


@dataclass(frozen=True)
class Budget:
    """What one job may take: wall-clock seconds and MiB of memory above an idle worker (0: no limit)."""

    seconds: float = 120.0
    mib: int = 2048

    def time_reason(self) -> str:
        return f"parse took longer than {self.seconds:g} s (LAWKB_INGEST_PARSE_SECONDS): stopped"

    def memory_reason(self) -> str:
        return f"parse needed more than {self.mib} MiB of memory (LAWKB_INGEST_PARSE_MB): stopped"


def _context() -> multiprocessing.context.BaseContext:
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")  # no forkserver on this platform: slower, as safe
    ctx = multiprocessing.get_context("forkserver")
    # Takes effect when the forkserver starts (first use in this process); a forkserver started by
    # someone else already is used as it is, only without the readers preloaded.
    ctx.set_forkserver_preload(PRELOAD)
    return ctx


_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _vm_bytes() -> int | None:
    """This process's address-space size (Linux; /proc/self/statm, cheaper to read than status)."""
    try:
        with open("/proc/self/statm", "rb") as fh:
            return int(fh.read().split()[0]) * _PAGE
    except (OSError, ValueError, IndexError):
        return None


def _limit_memory(mib: int) -> None:
    """Let this process grow by at most mib MiB of address space from now (0: no limit)."""
    import resource

    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    base = _vm_bytes()
    if mib <= 0 or base is None:  # no figure to add the budget to (not Linux): time is the only bound
        resource.setrlimit(resource.RLIMIT_AS, (hard, hard))
        return
    limit = base + (mib << 20)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _die_with_parent() -> None:
    """Ask Linux to kill this worker when its parent (the forkserver) exits. The forkserver exits as soon
    as the process that uses it dies, so a `kill -9` of `lawkb ingest` cannot leave a worker parsing
    on for minutes."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _leave_forkserver() -> None:
    """A forkserver child inherits the forkserver's 'alive' pipe, which keeps the forkserver running while
    any of its children lives: a worker stuck on a file would keep it up, and so itself, after the
    caller is killed. Closed here, the forkserver exits with the caller and _die_with_parent applies."""
    try:
        from multiprocessing import forkserver

        fd = forkserver._forkserver._forkserver_alive_fd
        if fd is not None:
            forkserver._forkserver._forkserver_alive_fd = None
            os.close(fd)
    except (AttributeError, OSError):
        pass


def _limit_cpu(seconds: float) -> None:
    """A second bound, for a worker whose parent is gone and cannot kill it: the kernel stops it
    (SIGXCPU) once this job has used twice its time budget in CPU."""
    import resource

    _soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
    if seconds <= 0:
        resource.setrlimit(resource.RLIMIT_CPU, (hard, hard))
        return
    used = resource.getrusage(resource.RUSAGE_SELF)
    limit = int(used.ru_utime + used.ru_stime + 2 * seconds) + 5
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (limit, hard))


def _serve(conn, fn: Callable[[Any], Any]) -> None:
    """Worker loop: receive (job, mib, seconds), send (status, value, peak resident KiB) where status is
    'ok' (value: the result), 'memory' or 'error' (value: the message)."""
    import resource

    _leave_forkserver()
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it stops us
    while True:
        try:
            job, mib, seconds = conn.recv()
        except (EOFError, OSError):
            return  # the parent is done with us, or gone
        _limit_memory(mib)
        _limit_cpu(seconds)
        try:
            reply = ("ok", fn(job))
        except MemoryError:
            reply = ("memory", None)
        except Exception as exc:  # noqa: BLE001 - the job function should catch; if not, report it
            reply = ("error", f"{type(exc).__name__}: {exc}")
        try:
            conn.send((*reply, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))
        except MemoryError:
            reply = None
            try:
                conn.send(("memory", None, None))  # the result itself was too big to send under the budget
            except (OSError, ValueError):
                return
        except (OSError, ValueError):
            return


class _Worker:
    def __init__(self, ctx, fn: Callable[[Any], Any]) -> None:
        here, there = ctx.Pipe()
        self.fn = fn
        self.proc = ctx.Process(target=_serve, args=(there, fn), daemon=True, name="lawkb-parse")
        self.proc.start()
        there.close()
        self.conn = here
        # Jobs sent and not yet answered, oldest first: the worker is on the first; the deadline is its.
        self.inflight: deque[int] = deque()
        self.deadline = float("inf")
        self.keep = True                # healthy and not holding much memory: may serve the next batch

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.conn.close()  # an idle worker sees EOF and exits by itself
        if self.inflight or not self.keep:
            with contextlib.suppress(OSError, ValueError):
                self.proc.kill()
        self.proc.join(timeout=5)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()

    def exit_reason(self, budget: Budget) -> str:
        self.proc.join(timeout=1)
        code = self.proc.exitcode
        if code == -signal.SIGXCPU:  # the kernel's CPU limit, the time budget's backstop (_limit_cpu)
            return budget.time_reason()
        if code is not None and code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            # SIGKILL that we did not send is the kernel's out-of-memory killer, in practice.
            hint = " (out of memory?)" if -code == signal.SIGKILL else ""
            return f"parse worker was killed by {name}{hint}"
        return f"parse worker exited unexpectedly (exit code {code})"


_idle: list[_Worker] = []
_idle_lock = threading.Lock()


def _take_idle(fn: Callable[[Any], Any], n: int) -> list[_Worker]:
    with _idle_lock:
        mine = [w for w in _idle if w.fn is fn][:n]
        for w in mine:
            _idle.remove(w)
    alive = [w for w in mine if w.proc.is_alive()]
    for w in mine:
        if w not in alive:
            w.stop()
    return alive


def _put_idle(w: _Worker) -> None:
    with _idle_lock:
        if len(_idle) < KEEP_IDLE:
            _idle.append(w)
            return
    w.stop()


def run_jobs(fn: Callable[[Any], Any], jobs: Sequence[Any], *, workers: int, budget: Budget,
             failed: Callable[[Any, str], Any]) -> Iterator[Any]:
    """Yield fn(job) for each job, in order, each computed in a worker under the budget. A job that runs
    out of time or memory, or whose worker dies, yields failed(job, reason) instead, and the rest go on.
    fn must be a module-level function (it is pickled to the workers)."""
    if not jobs:
        return
    run = _Dispatch(fn, jobs, max(1, min(workers, len(jobs))), budget, failed)
    thread = threading.Thread(target=run.loop, name="lawkb-parse-dispatch", daemon=True)
    thread.start()
    try:
        for index in range(len(jobs)):
            yield run.result(index)
    finally:
        # Also when the caller stops early (strict mode, Ctrl-C): a worker still on a job is killed.
        run.stop()
        thread.join()
        run.close()


# Jobs sent to a worker ahead of its answers (with one, a worker idles while its answer travels), and
# how far past the caller's place in the batch jobs are given out: the workers go on parsing while the
# caller writes what came back, without the whole batch's documents piling up in memory.
DEPTH = 2
AHEAD = 64


class _Dispatch:
    """Feeds the workers and collects their answers, in a thread of its own: the caller's generator is
    suspended while it writes a document, and the workers must not wait for that."""

    def __init__(self, fn: Callable[[Any], Any], jobs: Sequence[Any], size: int, budget: Budget,
                 failed: Callable[[Any, str], Any]) -> None:
        self.fn, self.jobs, self.size, self.budget, self.failed = fn, jobs, size, budget, failed
        self.queue: deque[int] = deque(range(len(jobs)))
        self.done: dict[int, Any] = {}   # answers the caller has not taken yet
        self.taken = 0                   # answers the caller has taken (it takes them in order)
        self.error: BaseException | None = None
        self.stopping = False
        self.cond = threading.Condition()
        self.wake_r, self.wake_w = os.pipe()  # wakes the dispatcher from wait(): stop, or room ahead
        os.set_blocking(self.wake_w, False)

    def result(self, index: int) -> Any:
        with self.cond:
            while index not in self.done and self.error is None:
                self.cond.wait()
            if index not in self.done:
                raise self.error  # type: ignore[misc]
            self.taken = index + 1
            value = self.done.pop(index)
        self._wake()
        return value

    def stop(self) -> None:
        self.stopping = True
        self._wake()

    def close(self) -> None:
        os.close(self.wake_r)
        os.close(self.wake_w)

    def _wake(self) -> None:
        with contextlib.suppress(BlockingIOError):
            os.write(self.wake_w, b"\0")

    def loop(self) -> None:
        pool = _take_idle(self.fn, self.size)
        answered = 0
        try:
            while answered < len(self.jobs) and not self.stopping:
                while self.queue and len(pool) < self.size:
                    pool.append(_Worker(_context(), self.fn))
                for w in pool:
                    while self.queue and len(w.inflight) < DEPTH and self.queue[0] < self.taken + AHEAD:
                        _give(w, self.queue.popleft(), self.jobs, self.budget)
                busy = [w for w in pool if w.inflight]
                timeout = min((w.deadline for w in busy), default=float("inf")) - time.monotonic()
                ready = set(wait([self.wake_r] + [w.conn for w in busy] + [w.proc.sentinel for w in busy],
                                 None if timeout == float("inf") else max(0.0, timeout)))
                if self.wake_r in ready:
                    os.read(self.wake_r, 4096)
                answers: dict[int, Any] = {}
                for w in busy:
                    if not _collect(w, ready, self.jobs, self.budget, self.failed, answers):
                        # Retired: the jobs it had not started go back to the front of the queue.
                        self.queue.extendleft(reversed(w.inflight))
                        w.inflight.clear()
                        pool.remove(w)
                        w.keep = False
                        w.stop()
                if answers:
                    answered += len(answers)
                    with self.cond:
                        self.done.update(answers)
                        self.cond.notify_all()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread, raised there
            with self.cond:
                self.error = exc
                self.cond.notify_all()
        finally:
            for w in pool:
                if w.keep and not w.inflight:
                    _put_idle(w)
                else:
                    w.stop()


def _give(w: _Worker, index: int, jobs: Sequence[Any], budget: Budget) -> None:
    if not w.inflight:
        w.deadline = _deadline(budget)
    w.inflight.append(index)
    w.conn.send((jobs[index], budget.mib, budget.seconds))


def _deadline(budget: Budget) -> float:
    return time.monotonic() + budget.seconds if budget.seconds > 0 else float("inf")


def _collect(w: _Worker, ready: set, jobs: Sequence[Any], budget: Budget, failed: Callable[[Any, str], Any],
             done: dict[int, Any]) -> bool:
    """Put worker w's answers into done. False when w must be retired: its current job ran out of time
    or memory (that job is put into done as failed), or w died."""
    # Answers first: a worker that sent its answer and then died still answered, and an answer that
    # came in after wait() returned is an answer in time.
    gone = False
    try:
        while w.inflight and w.conn.poll():
            status, value, rss_kib = w.conn.recv()
            index = w.inflight.popleft()
            if status == "ok":
                done[index] = value
                w.keep = w.keep and (rss_kib is None or rss_kib << 10 <= KEEP_RSS)
                w.deadline = _deadline(budget)  # the worker has gone on to its next job, if any
                continue
            reason = budget.memory_reason() if status == "memory" else f"parser error ({value})"
            done[index] = failed(jobs[index], reason)
            return False
    except (EOFError, OSError):
        gone = True
    if not w.inflight:
        return True
    if gone or w.proc.sentinel in ready:
        index = w.inflight.popleft()
        done[index] = failed(jobs[index], w.exit_reason(budget))
        return False
    if time.monotonic() >= w.deadline:
        index = w.inflight.popleft()
        done[index] = failed(jobs[index], budget.time_reason())
        return False
    return True

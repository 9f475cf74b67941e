"""`lawkb serve`: the site under waitress (a production WSGI server), and, on a fresh KB, the model
(downloaded if need be) and article vectors got in the background while lexical search already answers.

The server is waitress's, with three changes so that slow or many clients never take the site offline
(docs/web.md, "Serving"): a deadline on sending each request (`DeadlineChannel`), room made for new
connections by closing the slowest when the connection limit is reached (`GuardedServer`), and the
thread pool of web/admission.py, where /healthz never waits behind searches."""

from __future__ import annotations

import json
import logging
import os
import threading
import time

from flask import Flask
from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.server import TcpWSGIServer
from waitress.task import ErrorTask

from lawkb.core import settings

from .admission import AdmissionDispatcher, AdmittedTask, heavy_slots
from .views.resident import MODEL_STATE

log = logging.getLogger("lawkb.web")


def _resolve_in_background(status: dict, download: bool):
    """The model for the background thread (downloaded when none is local and download allows it), with
    status kept for the page and /healthz, and one log line when there is none."""
    from lawkb.search.encode.resolve import resolve_model, why_no_model

    def downloading(done: int, total: int) -> None:
        status.update(state="downloading", done=done, total=total)

    try:
        enc = resolve_model(allow_download=download, download_progress=downloading)
        why = why_no_model()
    except Exception as exc:  # the site keeps answering lexically; the log says why
        enc, why = None, ("failed", f"{type(exc).__name__}: {exc}")
    if enc is None:
        code, line = why or ("failed", "no model")
        status.update(state="missing", why=code, reason=line)
        log.warning("lawkb: search is keyword-only: no embedding model (%s)", line)
    else:
        status.update(state="ready", why=None, reason=None)
    return enc


def _say_why_lexical(app: Flask) -> None:
    """With no background work, one log line (and the page's status) when search stays lexical."""
    from lawkb.search.encode.resolve import why_no_model

    r = app.extensions["lawkb"]
    enc = r.searcher.encoder()
    if enc is None:
        code, line = why_no_model() or ("failed", "embedding model disabled")
        app.extensions[MODEL_STATE] = {"state": "missing", "why": code, "reason": line}
        log.warning("lawkb: search is keyword-only: no embedding model (%s)", line)
    elif r.kb.embeds_in_place and r.kb.missing_vectors(enc.model_id):
        log.warning("lawkb: search is keyword-only until article vectors for %s are computed: run `lawkb embed` "
                    "or `lawkb serve` without --no-embed", enc.model_id)


def _hybrid_searcher(r):
    from lawkb.search import open_searcher

    searcher = open_searcher(r.kb, use_model=True)
    searcher.prepare()  # load before the swap, so no request waits for it
    return searcher


def embed_in_background(app: Flask, locator: str, *, download: bool = True) -> threading.Thread | None:
    """Compute missing vectors on a thread of its own (low priority, its own DB connection), then swap
    in a searcher that uses them. The model is resolved on that thread too and, with download, fetched
    there when none is local, so the site never waits for it; app.extensions[MODEL_STATE] says how that
    goes. Returns the thread, or None when there is nothing to do."""
    r = app.extensions["lawkb"]
    if not r.kb.embeds_in_place:
        return None  # a store that embeds by rebuilding does it with `lawkb embed`, not under the site
    status = app.extensions[MODEL_STATE] = {"state": "checking", "why": None, "reason": None}

    def run() -> None:
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)  # searches come first
        except (AttributeError, OSError):
            pass
        from lawkb.search import open_kb

        enc = _resolve_in_background(status, download)
        if enc is None:
            return
        kb = open_kb(locator)
        try:
            todo = kb.missing_vectors(enc.model_id)
            if not todo:
                if r.searcher.encoder() is None:  # the vectors were there; the model came only now
                    r.searcher = _hybrid_searcher(r)
                return
            r.embedding = {"done": 0, "total": todo, "ready": []}
            log.warning("computing %d article vectors in the background, national law in force first; a search "
                        "is lexical until the articles it covers have theirs", todo)

            def scope_done(scope: str, n: int) -> None:
                # Searches whose articles all have vectors now (national law first) go hybrid at once.
                r.searcher = _hybrid_searcher(r)
                r.embedding["ready"].append(scope)
                log.warning("article vectors of %s ready (%d): its searches are hybrid", scope, n)

            kb.embed(enc, commit_every=256,  # small chunks: the page shows progress often
                     progress=lambda done, total: r.embedding.update(done=done, total=total),
                     scope_done=scope_done)
        except Exception:  # the site goes on with what is done; a restart resumes the rest
            log.exception("computing article vectors stopped; a restart resumes where it stopped")
            return
        finally:
            r.embedding = None
            kb.close()
        log.warning("article vectors ready: search is hybrid")

    thread = threading.Thread(target=run, name="lawkb-embed", daemon=True)
    thread.start()
    return thread


# ---- connections: slow clients never take the site offline ---------------------------------------------

REQUEST_TIMEOUT_BODY = "请求超时：请求在规定时间内没有发送完整，连接已关闭。请重新提交。".encode()
REQUEST_TIMEOUT = (b"HTTP/1.1 408 Request Timeout\r\nContent-Type: text/plain; charset=utf-8\r\n"
                   b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(REQUEST_TIMEOUT_BODY)
                   + REQUEST_TIMEOUT_BODY)


# waitress answers some requests itself, before the app sees them; they get the site's error shape too.
_SERVER_ERRORS = {
    400: ("bad_request", "请求格式有误，无法处理。"),
    413: ("too_large", "提交的内容超过了大小限制。"),
    431: ("too_large", "请求的网址或请求头太长：请缩短查询内容后重试。"),
    501: ("not_implemented", "服务器不支持这种请求方式。"),
}


class ChineseErrorTask(ErrorTask):
    """waitress's own refusals (a header too large, a malformed request, a body past the limit) in the
    site's one error shape, in Chinese, instead of waitress's English plain text."""

    def execute(self) -> None:
        status = self.request.error.code
        code, message = _SERVER_ERRORS.get(status, ("error", "请求无法完成，请检查后重试。"))
        body = json.dumps({"error": {"status": status, "code": code, "message": message}},
                          ensure_ascii=False).encode()
        self.status = f"{status} {self.request.error.reason}"
        self.response_headers.extend([("Content-Type", "application/json; charset=utf-8"),
                                      ("Content-Length", str(len(body)))])
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


class DeadlineChannel(HTTPChannel):
    """A waitress connection that must send each request in time.

    waitress closes a connection only after channel_timeout seconds *without a byte*, so a client that
    drips one header line every few seconds keeps it (and a connection slot) forever. Here a request
    has header_timeout seconds from the connection's opening (first request) or its first byte (later
    ones), plus one second per min_rate bytes received, as Apache's mod_reqtimeout does: a slowloris
    is closed after ~header_timeout, a real upload of 5 MiB at any speed above min_rate finishes."""

    task_class = AdmittedTask
    error_task_class = ChineseErrorTask
    admission: str | None = None   # the dispatcher's note for the request it hands a thread

    def __init__(self, server, sock, addr, adj, map=None) -> None:
        super().__init__(server, sock, addr, adj, map=map)
        self.reading_since: float | None = time.monotonic()   # None: idle between requests
        self.bytes_in = 0

    def received(self, data: bytes) -> bool:
        if self.reading_since is None:
            self.reading_since = time.monotonic()
        self.bytes_in += len(data)
        done = super().received(data)
        if self.request is None:   # nothing half-read: the next request's clock starts at its first byte
            self.reading_since, self.bytes_in = None, 0
        return done

    def overdue(self, now: float, header_timeout: float, min_rate: float) -> bool:
        """Still sending a request it should have finished (never while the site answers one)."""
        if self.reading_since is None or self.requests or self.will_close:
            return False
        return now - self.reading_since > header_timeout + self.bytes_in / min_rate

    def close_slow(self) -> None:
        """Close at once, with a 408 when the client sent something (a bare connection gets nothing)."""
        if self.bytes_in and not self.total_outbufs_len:
            try:
                self.socket.send(REQUEST_TIMEOUT)   # ~200 bytes: fits the empty send buffer
            except OSError:
                pass
        self.handle_close()

    def handle_close(self) -> None:
        if self.request is not None:
            self.request.close()   # a half-received body may sit in a temporary file
            self.request = None
        super().handle_close()


class GuardedServer(TcpWSGIServer):
    """waitress's TCP server with request deadlines and, when full, room made by closing the slowest."""

    channel_class = DeadlineChannel
    header_timeout = 10.0
    min_rate = 1024.0
    _last_eviction_log = float("-inf")

    def maintenance(self, now: float) -> None:
        super().maintenance(now)   # idle kept-alive connections: channel_timeout
        if self.header_timeout <= 0:
            return
        mono = time.monotonic()
        # poll2 iterates over a copy of the socket map, so closing here, inside readable(), is safe.
        for channel in list(self.active_channels.values()):
            if channel.overdue(mono, self.header_timeout, self.min_rate):
                channel.close_slow()

    def readable(self) -> bool:
        if self.accepting and len(self._map) >= self.adj.connection_limit:
            self._make_room()
        return super().readable()

    def _make_room(self) -> None:
        """Close the connections that have been sending a request longest (then the longest idle), a
        twentieth of the limit at a time, rather than stop accepting: a new visitor's request then gets
        in and done long before it would itself be the oldest."""
        candidates = [c for c in self.active_channels.values() if not c.requests and not c.will_close]
        candidates.sort(key=lambda c: (0, c.reading_since) if c.reading_since is not None
                        else (1, c.last_activity))
        n = len(self._map) - self.adj.connection_limit + max(1, self.adj.connection_limit // 20)
        for channel in candidates[:n]:
            channel.close_slow()
        now = time.monotonic()
        if candidates and now - self._last_eviction_log > 60:
            self._last_eviction_log = now
            log.warning("lawkb: %d connections open (the limit): closed the %d slowest to let new ones in",
                        self.adj.connection_limit, min(n, len(candidates)))


def _open_files_for(connections: int) -> int:
    """Raise the soft open-file limit toward what the connections need (up to the hard limit); return
    how many connections it allows. Each may hold a socket and a temporary body file."""
    try:
        import resource
    except ImportError:   # not on this platform: trust the operator
        return connections
    reserve = 256   # the KB's database connections, model files, logs, the listening sockets
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 2 * connections + reserve
    if soft != resource.RLIM_INFINITY and soft < want:
        new = want if hard == resource.RLIM_INFINITY else min(want, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
            soft = new
        except (ValueError, OSError):
            pass
    if soft == resource.RLIM_INFINITY:
        return connections
    return max(16, min(connections, (soft - reserve) // 2))


def server_options(threads: int | None = None) -> dict:
    """waitress's options and ours, from the settings (see docs/web.md, "Serving")."""
    threads = threads or settings.get("web_threads")
    limit = settings.get("web_connection_limit")
    allowed = _open_files_for(limit)
    if allowed < limit:
        log.warning("lawkb: web_connection_limit %d lowered to %d by the open-file limit (ulimit -n)", limit, allowed)
    options = {
        "threads": threads,
        "connection_limit": allowed,
        "channel_timeout": settings.get("web_channel_timeout"),
        "cleanup_interval": 1,      # how often deadlines are checked: a pass over ~1000 channels is ~0.3 ms
        "asyncore_use_poll": True,  # select() fails on descriptors past 1023
        "header_timeout": settings.get("web_header_timeout"),
        "min_rate": max(1, settings.get("web_min_upload_rate")),
        "heavy_slots": heavy_slots(threads),
        "queue_timeout": settings.get("web_queue_timeout"),
    }
    proxy = settings.get("web_trusted_proxy")
    if proxy:
        options.update(trusted_proxy=proxy, trusted_proxy_count=1,
                       trusted_proxy_headers={"x-forwarded-for", "x-forwarded-proto"},
                       clear_untrusted_proxy_headers=True)
    return options


class Site:
    """The app served on one or more listening sockets (one per address host resolves to) by one thread
    pool. `run()` blocks; `close()` from another thread stops it."""

    def __init__(self, app: Flask, *, host: str, port: int, header_timeout: float, min_rate: float,
                 heavy_slots: int, queue_timeout: float, **waitress_options) -> None:
        self.adj = Adjustments(host=host, port=port, **waitress_options)
        self.dispatcher = AdmissionDispatcher(self.adj.threads, heavy_slots, queue_timeout)
        self.dispatcher.set_thread_count(self.adj.threads)
        self.map: dict = {}
        self.servers = []
        for sockinfo in self.adj.listen:
            server = GuardedServer(app, self.map, dispatcher=self.dispatcher, adj=self.adj, sockinfo=sockinfo)
            server.header_timeout, server.min_rate = header_timeout, min_rate
            self.servers.append(server)

    @property
    def port(self) -> int:
        return int(self.servers[0].effective_port)

    def run(self) -> None:
        try:
            wasyncore.loop(timeout=self.adj.asyncore_loop_timeout, map=self.map, use_poll=True)
        except (SystemExit, KeyboardInterrupt):
            pass
        finally:
            self.dispatcher.shutdown()

    def close(self) -> None:
        for server in self.servers:
            server.close()   # the loop ends when the map has nothing left to watch
        wasyncore.close_all(self.map)


def make_site(app: Flask, host: str, port: int, *, threads: int | None = None, **overrides) -> Site:
    """The site as `lawkb serve` runs it, options from the settings (overrides win)."""
    options = {**server_options(threads), **overrides}
    return Site(app, host=host, port=port, ident="lawkb",
                max_request_body_size=app.config["MAX_CONTENT_LENGTH"] + (64 << 10), **options)


def serve(locator: str | None = None, host: str | None = None, port: int | None = None, *,
          threads: int | None = None, embed: bool = True, download: bool = True) -> None:
    # Each request runs on its own server thread; BLAS threads on top of those oversubscribe the cores
    # (measured: half the throughput with 50 clients on 2 cores). Set before numpy is first imported.
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    from .app import create_app

    locator = settings.get("kb", locator)
    app = create_app({"KB_LOCATOR": locator})
    searcher = app.extensions["lawkb"].searcher
    searcher.prepare()  # load the index and model now rather than on the first visitor's request
    if not embed or embed_in_background(app, locator, download=download) is None:
        _say_why_lexical(app)
    host = host or settings.get("web_host")
    port = port or settings.get("web_port")
    logging.basicConfig()   # waitress's own warnings (and ours) reach stderr, as under waitress.serve
    site = make_site(app, host, port, threads=threads)
    print(f"lawkb: serving {locator} on http://{host}:{port}/ (Ctrl+C to stop)", flush=True)
    site.run()

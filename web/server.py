"""`lawkb serve`: the site under waitress (a production WSGI server), and, on a fresh KB, the model
(downloaded if need be) and article vectors got in the background while lexical search already answers."""

from __future__ import annotations

import logging
import os
import threading

from flask import Flask

from lawkb.core import settings

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


def serve(locator: str | None = None, host: str | None = None, port: int | None = None, *,
          threads: int | None = None, embed: bool = True, download: bool = True) -> None:
    # Each request runs on its own server thread; BLAS threads on top of those oversubscribe the cores
    # (measured: half the throughput with 50 clients on 2 cores). Set before numpy is first imported.
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    from waitress import serve as waitress_serve

    from .app import create_app

    locator = settings.get("kb", locator)
    app = create_app({"KB_LOCATOR": locator})
    searcher = app.extensions["lawkb"].searcher
    searcher.prepare()  # load the index and model now rather than on the first visitor's request
    if not embed or embed_in_background(app, locator, download=download) is None:
        _say_why_lexical(app)
    host = host or settings.get("web_host")
    port = port or settings.get("web_port")
    print(f"lawkb: serving {locator} on http://{host}:{port}/ (Ctrl+C to stop)", flush=True)
    waitress_serve(app, host=host, port=port, threads=threads or settings.get("web_threads"), ident="lawkb",
                   max_request_body_size=app.config["MAX_CONTENT_LENGTH"] + (64 << 10))

"""`lawkb serve`: the site under waitress (a production WSGI server), and, on a fresh KB, article
vectors computed in the background while lexical search already answers."""

from __future__ import annotations

import logging
import os
import threading

from flask import Flask

from lawkb.core import settings

log = logging.getLogger("lawkb.web")


def embed_in_background(app: Flask, locator: str) -> threading.Thread | None:
    """Compute missing vectors on a thread of its own (low priority, its own DB connection), then swap
    in a searcher that uses them. Returns the thread, or None when there is nothing to do."""
    r = app.extensions["lawkb"]
    if not r.kb.embeds_in_place:
        return None  # a store that embeds by rebuilding does it with `lawkb embed`, not under the site

    def run() -> None:
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)  # searches come first
        except (AttributeError, OSError):
            pass
        from lawkb.search import open_kb, open_searcher
        from lawkb.search.encode.resolve import resolve_model

        enc = resolve_model(allow_download=False)
        if enc is None:
            return
        kb = open_kb(locator)
        try:
            todo = kb.missing_vectors(enc.model_id)
            if not todo:
                return
            r.embedding = {"done": 0, "total": todo}
            log.warning("computing %d article vectors in the background; search is lexical until then", todo)
            kb.embed(enc, commit_every=256,  # small chunks: the page shows progress often
                     progress=lambda done, total: r.embedding.update(done=done, total=total))
        finally:
            kb.close()
        searcher = open_searcher(r.kb, use_model=True)
        searcher.prepare()  # load before the swap, so no request waits for it
        r.searcher = searcher
        r.embedding = None
        log.warning("article vectors ready: search is hybrid")

    thread = threading.Thread(target=run, name="lawkb-embed", daemon=True)
    thread.start()
    return thread


def serve(locator: str | None = None, host: str | None = None, port: int | None = None, *,
          threads: int | None = None, embed: bool = True) -> None:
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
    if embed:
        embed_in_background(app, locator)
    host = host or settings.get("web_host")
    port = port or settings.get("web_port")
    print(f"lawkb: serving {locator} on http://{host}:{port}/ (Ctrl+C to stop)", flush=True)
    waitress_serve(app, host=host, port=port, threads=threads or settings.get("web_threads"), ident="lawkb",
                   max_request_body_size=app.config["MAX_CONTENT_LENGTH"] + (64 << 10))

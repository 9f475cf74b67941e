"""Lexical indexing of the embedded KB: segment the units that have no terms yet (in parallel
processes), then build and save the search snapshot. Run by `lawkb ingest` at the end and by
`lawkb index`; measured separately from parsing (see docs/measurements.md)."""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

from lawkb.core.segment import segmenter

CHUNK = 2000


def _segment(texts: list[str]) -> list[str]:
    seg = segmenter()
    return [seg.index_string(t) for t in texts]


def update_terms(conn, *, workers: int | None = None, progress: Callable[[int, int], None] | None = None,
                 rebuild: bool = False) -> int:
    """Segment every searchable unit whose terms are missing (all of them with rebuild, e.g. after the
    dictionary changed). Returns how many were segmented."""
    sig = segmenter().signature
    row = conn.execute("SELECT value FROM meta WHERE key='segmenter'").fetchone()
    if rebuild or (row is not None and row[0] != sig):
        conn.execute("UPDATE units SET terms=NULL")
    todo = conn.execute("SELECT unit_id, text FROM units WHERE terms IS NULL AND article_id IS NOT NULL "
                        "ORDER BY unit_id").fetchall()
    chunks = [todo[i:i + CHUNK] for i in range(0, len(todo), CHUNK)]
    workers = workers if workers is not None else min(os.cpu_count() or 1, 4)
    results: list[list[str]]
    if workers <= 1 or len(chunks) <= 1:
        results = [_segment([t for _, t in c]) for c in chunks]
    else:
        # spawned, not forked: see ingest/pipeline.py (a fork can inherit a lock held by another thread)
        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            results = []
            for done, r in enumerate(pool.map(_segment, [[t for _, t in c] for c in chunks]), start=1):
                results.append(r)
                if progress:
                    progress(min(done * CHUNK, len(todo)), len(todo))
    conn.execute("BEGIN IMMEDIATE")
    try:
        for chunk, terms in zip(chunks, results, strict=True):
            conn.executemany("UPDATE units SET terms=? WHERE unit_id=?",
                             [(t, unit_id) for (unit_id, _), t in zip(chunk, terms, strict=True)])
        conn.execute("INSERT INTO meta VALUES ('segmenter', ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                     (sig,))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return len(todo)


def build_index(kb, *, workers: int | None = None, progress=None) -> dict:
    """Terms, then the saved snapshot. Returns timings."""
    from lawkb.search.store.embedded import snapshot as snapshots

    t0 = time.perf_counter()
    n = update_terms(kb.conn, workers=workers, progress=progress)
    t1 = time.perf_counter()
    snap = snapshots.build(kb.conn)
    snapshots.save(snap, kb.path / "index")
    t2 = time.perf_counter()
    return {"segmented": n, "segment_s": round(t1 - t0, 1), "snapshot_s": round(t2 - t1, 1), "units": snap.size}

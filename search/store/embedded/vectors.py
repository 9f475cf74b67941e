"""Article vectors of the embedded KB: what text is embedded, which vectors are missing, storing them.

A vector is keyed by the model's identity and a hash of the exact text embedded, so re-ingesting an
unchanged article reuses its vector, a changed article gets a new one, and a different model never
mixes with the old one's vectors.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import sqlite3
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from lawkb.core.model import LOCAL_LEVELS, STATUS_IN_FORCE

MAX_EMBED_CHARS = 1000  # the model reads 512 tokens at most; Chinese runs about one token a character


def embed_text(law_title: str, number_text: str | None, kind: str, text: str) -> str:
    """《中华人民共和国民法典》第一千零三十二条 自然人享有隐私权…: the law and label give the model context."""
    label = number_text if kind == "article" and number_text else ""
    return f"《{law_title}》{label} {text}"[:MAX_EMBED_CHARS]


def key_of(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:20]


def embed_inputs(conn: sqlite3.Connection) -> Iterator[tuple[int, str, str]]:
    """(unit_id, key, text) for every searchable unit."""
    for unit_id, title, number_text, kind, text in conn.execute(
            "SELECT u.unit_id, l.title, u.number_text, u.kind, u.text FROM units u "
            "JOIN laws l ON l.law_id = u.law_id WHERE u.article_id IS NOT NULL ORDER BY u.unit_id"):
        t = embed_text(title, number_text, kind, text)
        yield unit_id, key_of(t), t


def missing(conn: sqlite3.Connection, model_id: str) -> list[tuple[str, str]]:
    return [kv for _, part in missing_by_scope(conn, model_id) for kv in part]


# The order vectors are computed in: what most questions search first (national law in force: a search
# with no region reads only these rows, so it can go hybrid as soon as they are done), then older
# national versions and cases, then local documents in force, then the rest.
SCOPES = ("national law in force", "other national documents", "local law in force", "other local documents")


def missing_by_scope(conn: sqlite3.Connection, model_id: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """The (key, text) pairs still to embed for model_id, by scope in SCOPES order; a text shared by
    several scopes is listed in the first."""
    have = {k for (k,) in conn.execute("SELECT key FROM vectors WHERE model=?", (model_id,))}
    local_levels = ",".join(f"'{x}'" for x in LOCAL_LEVELS)
    rows = conn.execute(
        "SELECT l.title, u.number_text, u.kind, u.text, "
        f" (l.region_province IS NOT NULL OR coalesce(l.level, '') IN ({local_levels})) * 2 "
        f"  + (v.status != '{STATUS_IN_FORCE}' OR coalesce(l.level, '') = '案例') AS scope "
        "FROM units u JOIN laws l ON l.law_id = u.law_id JOIN versions v ON v.version_id = u.version_id "
        "WHERE u.article_id IS NOT NULL ORDER BY scope, u.unit_id")
    todo: list[dict[str, str]] = [{} for _ in SCOPES]
    seen: set[str] = set(have)
    for title, number_text, kind, text, scope in rows:
        t = embed_text(title, number_text, kind, text)
        k = key_of(t)
        if k not in seen:
            seen.add(k)
            todo[scope][k] = t
    return [(name, list(part.items())) for name, part in zip(SCOPES, todo, strict=True)]


def compute(conn: sqlite3.Connection, encoder, *, batch_size: int = 32, commit_every: int = 2048,
            progress: Callable[[int, int], None] | None = None, workers: int | None = None,
            scope_done: Callable[[str, int], None] | None = None) -> int:
    """Embed what is missing for encoder.model_id, scope by scope in SCOPES order (scope_done(name, n)
    after each one that had work); committed in chunks so an interrupted run keeps its work and the next
    run resumes where it stopped. Returns the number of vectors computed.

    With `workers` > 1, an encoder that can be re-created in another process (OnnxEncoder.worker_spec)
    runs in that many single-threaded processes. The default is this process with the encoder's own
    intra-op threads: on a quiet machine that was the faster of the two over the whole corpus (24 min 51 s
    against 28 min 12 s for 2 × 1 thread); separate processes hold up better when other jobs share the
    cores, since one late thread then does not hold up every matrix product (docs/measurements.md).
    """
    scopes = missing_by_scope(conn, encoder.model_id)
    total = sum(len(part) for _, part in scopes)
    spec = getattr(encoder, "worker_spec", None)  # a (factory, arguments) pair, picklable
    pool = None
    if spec is not None and workers is not None and workers > 1:
        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_init_worker, initargs=(spec(),))

    def encode(texts: list[str]) -> np.ndarray:
        if pool is None:
            return encoder.encode_passages(texts, batch_size=batch_size)
        parts = [texts[i:i + _WORKER_CHUNK] for i in range(0, len(texts), _WORKER_CHUNK)]
        return np.concatenate(list(pool.map(_encode_in_worker, parts, [batch_size] * len(parts))))

    done = 0
    try:
        for name, todo in scopes:
            if not todo:
                continue
            # Longest first within a scope: batches of similar length waste little on padding.
            todo.sort(key=lambda kv: len(kv[1]), reverse=True)
            for start in range(0, len(todo), commit_every):
                chunk = todo[start:start + commit_every]
                vecs = encode([t for _, t in chunk])
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany("INSERT OR REPLACE INTO vectors (model, key, vec) VALUES (?, ?, ?)",
                                 [(encoder.model_id, k, np.asarray(v, dtype=np.float32).tobytes())
                                  for (k, _), v in zip(chunk, vecs, strict=True)])
                conn.execute("COMMIT")
                done += len(chunk)
                if progress:
                    progress(done, total)
            if scope_done:
                scope_done(name, len(todo))
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    return done


_WORKER_CHUNK = 128
_worker_encoder = None


def _init_worker(spec: tuple) -> None:
    global _worker_encoder
    import threading

    parent = os.getppid()

    def orphaned() -> None:
        # A killed parent cannot shut the pool down; without this its workers would go on encoding.
        while os.getppid() == parent:
            threading.Event().wait(1.0)
        os._exit(1)

    threading.Thread(target=orphaned, daemon=True).start()
    factory, kwargs = spec
    _worker_encoder = factory(**kwargs)


def _encode_in_worker(texts: list[str], batch_size: int) -> np.ndarray:
    return _worker_encoder.encode_passages(texts, batch_size=batch_size)


def matrix(conn: sqlite3.Connection, unit_ids: np.ndarray, model_id: str) -> tuple[np.ndarray | None, int]:
    """Vectors aligned with unit_ids (zero rows where missing) and the number missing; None when the
    model has no vector at all."""
    keys = {unit_id: key for unit_id, key, _ in embed_inputs(conn)}
    stored = dict(conn.execute("SELECT key, vec FROM vectors WHERE model=?", (model_id,)))
    if not stored:
        return None, len(unit_ids)
    dim = len(next(iter(stored.values()))) // 4  # float32
    mat = np.zeros((len(unit_ids), dim), dtype=np.float32)
    missing_rows = 0
    for i, unit_id in enumerate(unit_ids.tolist()):
        blob = stored.get(keys.get(unit_id))
        if blob is None:
            missing_rows += 1
        else:
            mat[i] = np.frombuffer(blob, dtype=np.float32)
    return mat, missing_rows

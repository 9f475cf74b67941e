"""Scale-up benchmark: retrieval cost at the real KB's size and at a synthetic 1M articles.

    python benchmarks/scale_bench.py --kb KB [--rows 1000000] [--queries 200] [--ann]

The synthetic KB tiles the real one: every real article is repeated until the row count is reached, each
copy's vector moved by a little Gaussian noise (then re-normalised) and its postings shifted to new
document ids, so term statistics, posting-list lengths and the geometry of the vectors stay those of
real law. Queries are real STARD questions, analysed and encoded as search does.

For each size it prints p50/p95 (ms) of: BM25F scoring + top-200; exact dense top-200 over every row and
over the national-first share of rows (what a no-region query scans); RRF of the two lists; and the sum.
With --ann (needs `pip install faiss-cpu`, a benchmark-only dependency) it also builds an IVF index and
reports its build time, query p50/p95 and recall@100 against the exact top-100.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from lawkb.core import settings
from lawkb.search import open_kb, open_searcher
from lawkb.search.contract import Filters
from lawkb.search.evaluate import read_queries
from lawkb.search.profile import PLAIN
from lawkb.search.rank.analyze import analyze
from lawkb.search.rank.filters import resolve_filters
from lawkb.search.rank.fusion import rrf
from lawkb.search.store.embedded.lexical import LexicalIndex
from lawkb.search.store.embedded.retrieve import mask as filter_mask
from lawkb.search.store.embedded.retrieve import top


def pct(values: list[float]) -> str:
    v = sorted(values)
    return f"p50 {statistics.median(v):6.1f}  p95 {v[max(0, int(round(0.95 * len(v))) - 1)]:6.1f}"


def tile_lexical(index: LexicalIndex, copies: int) -> LexicalIndex:
    """The same postings repeated `copies` times over shifted document ids, still term-major."""
    df = np.diff(index.ptr)
    seg = np.repeat(np.arange(len(df)), df)
    within = np.arange(len(index.docs)) - index.ptr[seg]
    docs = np.empty(len(index.docs) * copies, dtype=np.int32)
    weights = np.empty_like(docs, dtype=np.float32)
    for t in range(copies):
        pos = index.ptr[seg] * copies + t * df[seg] + within
        docs[pos] = index.docs + t * index.n_docs
        weights[pos] = index.weights
    return LexicalIndex(index.terms, index.ptr * copies, docs, weights, index.idf, index.n_docs * copies)


def tile_dense(dense: np.ndarray, rows: int, noise: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.empty((rows, dense.shape[1]), dtype=np.float32)
    n = len(dense)
    out[:n] = dense
    for start in range(n, rows, n):
        part = dense[: min(n, rows - start)]
        moved = part + rng.normal(0, noise / np.sqrt(dense.shape[1]), part.shape).astype(np.float32)
        moved /= np.linalg.norm(moved, axis=1, keepdims=True) + 1e-12
        out[start:start + len(part)] = moved
    return out


def bench(label: str, lexical: LexicalIndex, dense: np.ndarray, mask: np.ndarray, queries, ann: bool,
          copies: int = 1) -> None:
    n = len(dense) // copies
    nat = np.flatnonzero(mask[:n])
    # The snapshot keeps national law in contiguous groups; each tile repeats that layout.
    spans = [(int(nat.min()) + t * n, int(nat.max()) + 1 + t * n) for t in range(copies)]
    t_lex, t_full, t_nat, t_fuse = [], [], [], []
    exact = []
    for terms, qv in queries:
        t0 = time.perf_counter()
        s, _ = lexical.score(terms)
        s[~mask] = 0
        lex_rows = top(s, PLAIN.depth, positive=True)
        t1 = time.perf_counter()
        full = dense @ qv
        top_full = top(full, PLAIN.depth, positive=False)
        t2 = time.perf_counter()
        rows = np.concatenate([np.arange(lo, hi)[mask[lo:hi]] for lo, hi in spans])
        part = np.concatenate([(dense[lo:hi] @ qv)[mask[lo:hi]] for lo, hi in spans])
        dense_rows = rows[top(part, PLAIN.depth, positive=False)].tolist()
        t3 = time.perf_counter()
        rrf([lex_rows, dense_rows], k=PLAIN.rrf_k, weights=[1.0, 1.5])
        t4 = time.perf_counter()
        t_lex.append((t1 - t0) * 1000)
        t_full.append((t2 - t1) * 1000)
        t_nat.append((t3 - t2) * 1000)
        t_fuse.append((t4 - t3) * 1000)
        exact.append(top_full[:100])
    total = [a + c + d for a, c, d in zip(t_lex, t_nat, t_fuse, strict=True)]
    print(f"[{label}] {len(dense):,} rows ({int(mask.sum()):,} national-first), {len(queries)} queries")
    print(f"  BM25F + top-{PLAIN.depth}            {pct(t_lex)}")
    print(f"  dense exact, all rows        {pct(t_full)}")
    print(f"  dense exact, national rows   {pct(t_nat)}")
    print(f"  RRF                          {pct(t_fuse)}")
    print(f"  retrieval total (no region)  {pct(total)}", flush=True)
    if ann:
        import faiss

        faiss.omp_set_num_threads(2)
        nlist = int(4 * np.sqrt(len(dense)))
        t0 = time.perf_counter()
        quant = faiss.IndexFlatIP(dense.shape[1])
        index = faiss.IndexIVFFlat(quant, dense.shape[1], nlist, faiss.METRIC_INNER_PRODUCT)
        sample = dense[np.random.default_rng(1).choice(len(dense), min(len(dense), 40 * nlist), replace=False)]
        index.train(sample)
        index.add(dense)
        build = time.perf_counter() - t0
        for nprobe in (8, 32):
            index.nprobe = nprobe
            times, recall = [], []
            for (_, qv), ex in zip(queries, exact, strict=True):
                t0 = time.perf_counter()
                _, ids = index.search(qv[None, :], 100)
                times.append((time.perf_counter() - t0) * 1000)
                recall.append(len(set(ids[0].tolist()) & set(ex)) / len(ex))
            print(f"  IVF-Flat nlist {nlist} nprobe {nprobe:<3d}  {pct(times)}  recall@100 vs exact "
                  f"{statistics.fmean(recall):.3f}  (build {build:.0f} s)", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kb", required=True)
    ap.add_argument("--queries", type=Path, default=settings.shared_dir() / "eval" / "stard-dev.jsonl")
    ap.add_argument("-n", type=int, default=200, help="queries to time")
    ap.add_argument("--rows", type=int, default=1_000_000, help="about this many rows (whole copies)")
    ap.add_argument("--noise", type=float, default=0.3)
    ap.add_argument("--ann", action="store_true")
    args = ap.parse_args()

    kb = open_kb(args.kb)
    searcher = open_searcher(kb)
    searcher.prepare()   # the snapshot, with the model's vectors attached when there is a model
    snap = searcher.retriever.snapshot()
    enc = searcher.encoder()
    if enc is None or snap.dense is None:
        raise SystemExit("the KB needs vectors (lawkb embed) and the model (LAWKB_MODEL)")
    mask = filter_mask(snap, resolve_filters(kb, Filters()))
    queries = []
    for judged in list(read_queries(args.queries))[: args.n]:
        a = analyze(judged.question)
        queries.append((a.terms, enc.encode_query(a.text)))
    bench("real KB", snap.lexical, snap.dense, mask, queries, args.ann)

    copies = max(2, round(args.rows / snap.size))
    bench(f"synthetic x{copies}", tile_lexical(snap.lexical, copies),
          tile_dense(snap.dense, snap.size * copies, args.noise), np.tile(mask, copies), queries, args.ann,
          copies)


if __name__ == "__main__":
    main()

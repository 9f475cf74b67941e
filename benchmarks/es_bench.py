"""Elasticsearch backend benchmarks (a script, not a test): bulk indexing with vectors precomputed,
query latency of the lexical, kNN and hybrid paths, and a rebuild with alias swap under continuous
query load.

    python benchmarks/es_bench.py --from /tmp/kbfull --es http://127.0.0.1:9200 [--queries FILE] [--n 200]

Loads the embedded KB (its segmented terms and vectors are reused, so the bulk rate is Elasticsearch's),
then times queries from the STARD questions (or a built-in list) and rebuilds while two threads search.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(p * len(xs)))], 1) if xs else 0.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--from", dest="src", required=True, help="embedded KB directory")
    ap.add_argument("--es", required=True, help="Elasticsearch URL (a fresh prefix is used)")
    ap.add_argument("--queries", help="STARD-format JSONL")
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--keep", action="store_true", help="keep the index (prints its locator)")
    args = ap.parse_args()

    from lawkb.search import open_kb, open_searcher
    from lawkb.search.contract import Query

    src = open_kb(args.src)
    kb = open_kb(f"{args.es.rstrip('/')}/bench{uuid.uuid4().hex[:6]}", create=True)
    t0 = time.perf_counter()
    info = kb.load_embedded(src, progress=False)
    load_s = time.perf_counter() - t0
    out: dict = {"locator": kb.locator, "articles": info["articles_written"], "load_s": round(load_s, 1),
                 "bulk_docs_per_s": round(info["articles_written"] / load_s, 1)}
    if args.queries:
        qs = [json.loads(line)["question"] for line in Path(args.queries).read_text(encoding="utf-8").splitlines()
              if line.strip()][:args.n]
    else:
        qs = ["楼上漏水物业不管怎么办", "公司拖欠工资不给怎么办", "邻居装修噪音太大怎么办", "离婚后孩子的抚养费怎么算"] * 25
    searcher = open_searcher(kb)
    enc = searcher.encoder()
    searcher.search(Query("预热", k=1))
    from lawkb.search.contract import Filters
    from lawkb.search.rank.analyze import analyze
    from lawkb.search.rank.filters import resolve_filters
    from lawkb.search.store.elastic.retrieve import FIELDS, es_filter

    flt = es_filter(resolve_filters(kb, Filters()))
    lat: dict[str, list[float]] = {"lexical": [], "knn": [], "hybrid": []}
    for q in qs:
        a = analyze(q)
        should = [{"combined_fields": {"query": t, "fields": FIELDS, "boost": w}} for t, w in a.terms.items()]
        t = time.perf_counter()
        kb.es.search(index=kb.alias, size=200, _source=["law_id"], track_total_hits=False,
                     query={"bool": {"filter": [flt], "should": should, "minimum_should_match": 1}})
        lat["lexical"].append((time.perf_counter() - t) * 1000)
        if enc is not None:
            qv = [float(x) for x in enc.encode_query(a.text)]
            t = time.perf_counter()
            kb.es.search(index=kb.alias, size=200, _source=["law_id"], track_total_hits=False,
                         knn={"field": "vector", "query_vector": qv, "k": 200, "num_candidates": 1000,
                              "filter": flt})
            lat["knn"].append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        searcher.search(Query(q, k=10))
        lat["hybrid"].append((time.perf_counter() - t) * 1000)
    out["latency_ms"] = {k: {"p50": pct(v, 0.5), "p95": pct(v, 0.95), "mean": round(statistics.fmean(v), 1)}
                         for k, v in lat.items() if v}
    out["latency_note"] = "hybrid includes query encoding and hit hydration; knn excludes encoding"
    failures, done, stop = [], [0], threading.Event()

    def load() -> None:
        i = 0
        while not stop.is_set():
            try:
                searcher.search(Query(qs[i % len(qs)], k=10))
                done[0] += 1
            except Exception as exc:  # noqa: BLE001 - counted
                failures.append(repr(exc))
            i += 1

    threads = [threading.Thread(target=load) for _ in range(2)]
    for th in threads:
        th.start()
    t = time.perf_counter()
    before = kb.current_index()
    kb.rebuild(progress=False)
    rebuild_s = time.perf_counter() - t
    stop.set()
    for th in threads:
        th.join()
    out["rebuild_under_load"] = {"seconds": round(rebuild_s, 1), "queries": done[0], "failed": len(failures),
                                 "alias_moved": kb.current_index() != before}
    if not args.keep:
        for g in kb.generations():
            kb.es.indices.delete(index=g["index"])
    print(json.dumps(out, ensure_ascii=False, indent=2))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()

"""Search latency on a built KB: warm queries (the STARD dev questions), k = 10, p50/p95/max.

    python benchmarks/search_bench.py --kb KB [--queries FILE] [--k 10] [--lexical] [--region 北京] [--no-feedback]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from lawkb.core import settings
from lawkb.search import open_kb, open_searcher
from lawkb.search.contract import Filters, Query


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kb", required=True)
    ap.add_argument("--queries", type=Path, default=settings.shared_dir() / "eval" / "stard-dev.jsonl")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--lexical", action="store_true")
    ap.add_argument("--region")
    ap.add_argument("--no-feedback", action="store_true", help="Switch pseudo-relevance feedback off.")
    args = ap.parse_args()
    questions = [json.loads(line)["question"] for line in args.queries.open(encoding="utf-8") if line.strip()]
    kb = open_kb(args.kb)
    s = open_searcher(kb, use_model=not args.lexical)
    if args.no_feedback:
        # the model's own profile (as the searcher would rank), feedback switched off
        s = open_searcher(kb, encoder=s.encoder(), use_model=not args.lexical,
                          profile=s.profile().with_(feedback=False))
    s.search(Query(questions[0], k=args.k))  # load snapshot, vectors and model
    times, mode = [], None
    for q in questions:
        t0 = time.perf_counter()
        mode = s.search(Query(q, k=args.k, filters=Filters(region=args.region))).mode
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    p95 = times[int(0.95 * len(times)) - 1]
    fb = "on" if s.profile().feedback else "off"
    print(f"{mode} (feedback {fb}), {len(times)} queries, k={args.k}, region={args.region}: p50 {statistics.median(times):.1f} ms, "
          f"p95 {p95:.1f} ms, max {times[-1]:.1f} ms")


if __name__ == "__main__":
    main()

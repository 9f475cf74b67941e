"""Ingest benchmark: the whole LawRefBook corpus into a fresh embedded KB, no embeddings.

    python benchmarks/ingest_bench.py [--corpus DIR] [--runs 3] [--workers N]

Prints, per run and as medians: files/s, articles/s, wall time, and peak memory (resident set of this
process plus its parser workers). Each run uses a new temporary KB so nothing is cached between runs.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from pathlib import Path

from lawkb.core import settings
from lawkb.ingest.pipeline import ingest
from lawkb.search import open_kb


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=settings.shared_dir() / "corpus" / "lawrefbook")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--workers", type=int, default=None)
    args = ap.parse_args()
    rows = []
    for run in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            kb = open_kb(tmp, create=True)
            t0 = time.perf_counter()
            report = ingest(kb, [args.corpus], workers=args.workers)
            wall = time.perf_counter() - t0
            kb.close()
        peak_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                   + resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
        rows.append((report.files / wall, report.articles / wall, wall, peak_mb))
        print(f"run {run + 1}: {report.files} files, {report.articles} articles, {len(report.failed)} failed, "
              f"{wall:.1f} s, {report.files / wall:.0f} files/s, {report.articles / wall:.0f} articles/s, "
              f"peak {peak_mb:.0f} MB", flush=True)
    med = [statistics.median(col) for col in zip(*rows, strict=True)]
    print(f"median of {args.runs}: {med[0]:.0f} files/s, {med[1]:.0f} articles/s, {med[2]:.1f} s; "
          f"peak memory {max(r[3] for r in rows):.0f} MB")


if __name__ == "__main__":
    main()

"""Cross-validated figures for pseudo-relevance feedback (search/rank/feedback.py) on held-out dense lists.

    .venv/bin/python benchmarks/feedback_cv.py --kb /tmp/kbfull --runs FT_OUT/runs.npz [--config r64]

`--runs` is what `finetune_encoder.py train` wrote: per configuration, each STARD dev question's dense
top list from the fold model that did not train on it. This script fuses those lists with the lexical
list as the engine does (RRF k and dense weight of the shipped tuning, law-popularity prior), then
with feedback over a grid of its five settings — the first page kept from the first ranking, as the
engine does (--whole-list lets feedback reorder it too) — and reports:

- the fused figures without feedback;
- with the shipped settings (feedback.py's constants);
- the mean over the whole grid (no choice among settings in it);
- nested 5-fold CV: settings chosen on four folds by R@10 + R@100 + MRR@10, scored on the fifth.

Also the plain model's lists (`base` in runs.npz) with and without feedback, and lexical search alone:
why feedback is on only with the fine-tuned model.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sqlite3
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

GRID = {"docs": (5, 10, 20), "terms": (10, 20, 30), "weight": (0.15, 0.3, 0.5), "min_docs": (1, 2, 3),
        "rank_offset": (0, 5)}


def main() -> None:
    shared = Path(os.environ.get("LAWKB_SHARED", ROOT.parent / "shared"))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kb", default="/tmp/kbfull")
    ap.add_argument("--runs", required=True)
    ap.add_argument("--config", default="r64", help="Which configuration's lists in runs.npz.")
    ap.add_argument("--queries", default=str(shared / "eval" / "stard-dev.jsonl"))
    ap.add_argument("--model-dir", default=str(shared / "models" / "bge-small-zh-v1.5"))
    ap.add_argument("--no-grid", action="store_true", help="Only the shipped settings (seconds, not minutes).")
    ap.add_argument("--whole-list", action="store_true",
                    help="Let feedback reorder the first page too (the engine keeps it: feedback.KEEP).")
    args = ap.parse_args()

    os.environ.setdefault("LAWKB_MODEL", args.model_dir)
    os.environ["LAWKB_ENCODER_TUNING"] = "none"   # lexical lists and judgements as prepare took them
    import train_adapter as ta

    from lawkb.search.encode.tuning import find_tuning
    from lawkb.search.evaluate import read_queries
    from lawkb.search.profile import PLAIN
    from lawkb.search.rank import feedback
    from lawkb.search.rank.analyze import analyze
    from lawkb.search.rank.fusion import rrf
    from lawkb.search.store.embedded.lexical import idf_known
    from lawkb.search.store.embedded.retrieve import top
    from lawkb.search.store.embedded.snapshot import load

    data = ta.collect(args.kb, Path(args.queries), None)
    nat, law_row, pop = data["nat"], data["law_row"], data["popularity"]
    conn = sqlite3.connect(f"file:{Path(args.kb) / 'kb.sqlite'}?mode=ro", uri=True)
    snap = load(Path(args.kb) / "index", conn)
    in_nat = np.zeros(snap.size, dtype=bool)
    in_nat[nat] = True
    analyses = [analyze(q.question) for q in read_queries(Path(args.queries))]
    idx = list(range(len(analyses)))
    tuning = find_tuning(Path(args.model_dir), "auto")
    k_tuned = int(tuning.meta["rrf_k"]) if tuning else 20
    dw_tuned = float(tuning.meta["dense_weight"]) if tuning else 2.5
    words_cache: dict[int, list[str]] = {}

    def words(row: int) -> list[str]:
        if row not in words_cache:
            (t,) = conn.execute("SELECT terms FROM units WHERE unit_id=?", (int(snap.unit_ids[row]),)).fetchone()
            words_cache[row] = (t or "").split()
        return words_cache[row]

    def fuse(lex: list[int], dense: list[int] | None, k: int, dw: float) -> np.ndarray:
        lists, weights = ([lex, dense], [1.0, dw]) if dense else ([lex], [1.0])
        fused = rrf(lists, k=k if dense else PLAIN.rrf_k, weights=weights)
        if not fused:
            return np.array([], dtype=np.int64)
        rows = np.array([r for r, _ in fused])
        s = np.array([x for _, x in fused]) + PLAIN.prior_weight * pop[law_row[rows]]
        return rows[np.lexsort((np.arange(len(rows)), -s))]

    keep = None if args.whole_list else feedback.KEEP

    def with_feedback(i: int, first: np.ndarray, dense, k, dw, **settings) -> np.ndarray:
        terms = analyses[i].terms
        if not terms or not len(first):
            return first
        fb = [words(int(r)) for r in first[:settings.get("docs", feedback.FEEDBACK_DOCS)]]
        expanded = feedback.expand(terms, fb, lambda t: idf_known(snap.lexical, t), **settings)
        scores, _ = snap.lexical.score(expanded)
        scores[~in_nat] = 0
        second = fuse(top(scores, PLAIN.depth, positive=True), dense, k, dw)
        if keep is None:
            return second

        def pairs(rows):
            return [(int(r), 1.0 / (n + 1)) for n, r in enumerate(rows)]

        return np.array([r for r, _ in feedback.merge(pairs(first), pairs(second), keep=keep)], dtype=np.int64)

    def per_query(ranked: list[np.ndarray]) -> np.ndarray:
        return ta.metrics(data, idx, [nat.searchsorted(r).tolist() for r in ranked])

    def show(name: str, m: np.ndarray) -> None:
        print(f"{name:58s} R@10 {m[0]:.4f}  R@100 {m[1]:.4f}  MRR@10 {m[2]:.4f}", flush=True)

    runs = np.load(args.runs)
    lex = [data["recs"][i]["lex"] for i in idx]

    def lists(name: str) -> list[list[int]]:
        tops = runs[name]
        return [nat[tops[i][tops[i] >= 0][:PLAIN.depth]].tolist() for i in idx]

    if "base" in runs.files:
        plain = lists("base")
        first = [fuse(lex[i], plain[i], PLAIN.rrf_k, 1.5) for i in idx]
        show("plain model, RRF k 60, dense weight 1.5", per_query(first).mean(0))
        show("  + feedback (shipped settings)",
             per_query([with_feedback(i, first[i], plain[i], PLAIN.rrf_k, 1.5) for i in idx]).mean(0))
    first = [fuse(lex[i], None, PLAIN.rrf_k, 1.0) for i in idx]
    show("lexical only", per_query(first).mean(0))
    show("  + feedback (shipped settings)",
         per_query([with_feedback(i, first[i], None, PLAIN.rrf_k, 1.0) for i in idx]).mean(0))

    dense = lists(args.config)
    first = [fuse(lex[i], dense[i], k_tuned, dw_tuned) for i in idx]
    show(f"{args.config} held-out, RRF k {k_tuned}, dense weight {dw_tuned}", per_query(first).mean(0))
    show("  + feedback (shipped settings)",
         per_query([with_feedback(i, first[i], dense[i], k_tuned, dw_tuned) for i in idx]).mean(0))
    if args.no_grid:
        return
    grid = [dict(zip(GRID, values, strict=True)) for values in itertools.product(*GRID.values())]
    per = [per_query([with_feedback(i, first[i], dense[i], k_tuned, dw_tuned, **g) for i in idx]) for g in grid]
    show(f"  + feedback, mean over the grid ({len(grid)} settings)", np.mean([p.mean(0) for p in per], 0))
    held = np.zeros(3)
    chosen = []
    for fold in ta.folds(len(idx), 5, ta.SEED):
        train = np.setdiff1d(np.arange(len(idx)), fold)
        best = max(range(len(grid)), key=lambda j: per[j][train].mean(0)[:3].sum())
        chosen.append(grid[best])
        held += per[best][fold].sum(0)[:3]
    show("  + feedback, nested 5-fold CV of the settings", held / len(idx))
    for c in chosen:
        print("    chosen:", c)
    score = [per[j].mean(0)[:3].sum() for j in range(len(grid))]
    ties = [grid[j] for j in range(len(grid)) if score[j] == max(score)]
    print(f"  best on all questions ({len(ties)} settings level):")
    for g in ties:
        print("    ", g)
    print("  feedback.py ships:", {"docs": feedback.FEEDBACK_DOCS, "terms": feedback.FEEDBACK_TERMS,
                                   "weight": feedback.FEEDBACK_WEIGHT, "min_docs": feedback.MIN_DOCS,
                                   "rank_offset": feedback.RANK_OFFSET})


if __name__ == "__main__":
    main()

"""Where the site should call a dense match weak, for the model in use: the best similarity nonsense
questions reach against every national article, beside the best similarity of real questions.

    .venv/bin/python benchmarks/weak_similarity.py --kb KB [--queries ../shared/eval/stard-dev.jsonl]

A tuning file records the floor it was shipped with (`weak_similarity`, see finetune_encoder.py ship): it
should sit above every nonsense question and below the best hit of nearly every real one (each model
scores on its own scale: the plain model's real questions start near 0.5, the tuned ones' near 0.6).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np

from lawkb.search import open_kb, open_searcher
from lawkb.search.contract import Filters
from lawkb.search.evaluate import read_queries
from lawkb.search.rank.analyze import analyze
from lawkb.search.rank.filters import resolve_filters
from lawkb.search.store.embedded.retrieve import mask

NONSENSE = ["zzqqxx", "你好", "吃了吗", "今天天气怎么样", "哈哈哈哈", "asdfgh", "1234567", "随便问问", "测试一下",
            "我想吃火锅", "明天会下雨吗", "周末去哪玩"]


def main() -> None:
    shared = Path(os.environ.get("LAWKB_SHARED", Path(__file__).resolve().parent.parent.parent / "shared"))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kb", default="kb")
    ap.add_argument("--queries", default=str(shared / "eval" / "stard-dev.jsonl"))
    args = ap.parse_args()
    kb = open_kb(args.kb)
    enc = open_searcher(kb).encoder()
    snap = kb.retriever().snapshot(enc.model_id)
    nat = np.flatnonzero(mask(snap, resolve_filters(kb, Filters())))
    dense = snap.dense[nat]

    def best(q: str) -> float:
        return float((dense @ enc.encode_query(analyze(q).text)).max())

    noise = {q: round(best(q), 3) for q in NONSENSE}
    real = np.array([best(j.question) for j in read_queries(Path(args.queries))])
    print(json.dumps({"model": enc.model_id, "tuning": getattr(enc, "tuning", None),
                      "nonsense_max": max(noise.values()), "nonsense": noise,
                      "real_best_percentiles": {p: round(float(np.percentile(real, p)), 3) for p in (1, 5, 50)}},
                     ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()

"""Residents' everyday questions against the articles a community lawyer would point to.

    .venv/bin/python benchmarks/resident_questions.py --kb KB [--split holdout|train|all] [--json]
    .venv/bin/python benchmarks/resident_questions.py --kb KB --twenty [--json]

By default: the project's residents' set, tests/data/resident_questions.tsv (475 questions, 1–3 deciding
provisions each, split into `train` and `holdout`; the holdout split is never tuned or trained on). Per
split: the share of questions with an expected provision first, in the top 3, in the top 10 (the issue's
"expected provision in the top 10"), MRR@10 of the first expected provision, recall at 10 and 100 over all
expected provisions, and latency. Judging is `lawkb eval`'s (law title, short title or alias + number).

--twenty: the original 20 questions below, one article each (figures in docs/measurements.md).

STARD's questions are mostly already in legal wording; these 20 are in residents' words, over the topics
community legal aid sees (leaks, noise, wages, support, falling objects, dogs, work injury, domestic
violence, loans, inheritance, contracts, property fees, online shopping, overtime, divorce, dismissal,
traffic accidents). Each names one article (its law's full title and 第X条): the rank it reaches in the top
100 is printed, with top-1 / top-3 / top-10 counts and MRR@10. The list was written once, before any
model or setting was compared on it; it is a check that a change tuned on STARD does not cost residents,
not a tuning set. Compare settings with environment variables, e.g. LAWKB_ENCODER_TUNING=none.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

from lawkb.core.model import law_key
from lawkb.core.refs import parse_ref
from lawkb.search import open_kb, open_searcher
from lawkb.search.contract import Query
from lawkb.search.evaluate import Judged, _relevant_keys, law_names_of

CIVIL = "中华人民共和国民法典"
LABOUR_CONTRACT = "中华人民共和国劳动合同法"
QUESTIONS = [
    ("楼上漏水物业不管怎么办", CIVIL, "第九百四十二条"),
    ("邻居装修噪音太大怎么办", "中华人民共和国噪声污染防治法", "第六十六条"),
    ("公司拖欠工资不给怎么办", LABOUR_CONTRACT, "第三十条"),
    ("离婚后孩子的抚养费怎么算", CIVIL, "第一千零八十五条"),
    ("楼上有人往下扔东西砸伤了人", CIVIL, "第一千二百五十四条"),
    ("邻居家的狗把我咬伤了谁负责", CIVIL, "第一千二百四十五条"),
    ("父母年老子女不赡养怎么办", CIVIL, "第一千零六十七条"),
    ("上班路上出车祸算工伤吗", "工伤保险条例", "第十四条"),
    ("被家暴了可以申请人身安全保护令吗", "中华人民共和国反家庭暴力法", "第二十三条"),
    ("朋友借钱到期不还怎么办", CIVIL, "第六百七十五条"),
    ("老人去世没有遗嘱遗产怎么分", CIVIL, "第一千一百二十七条"),
    ("公司一直不跟我签劳动合同", LABOUR_CONTRACT, "第八十二条"),
    ("试用期最长可以约定多久", LABOUR_CONTRACT, "第十九条"),
    ("不交物业费物业能停水停电吗", CIVIL, "第九百四十四条"),
    ("网上买的东西可以七天无理由退货吗", "中华人民共和国消费者权益保护法", "第二十五条"),
    ("加班费怎么算", "中华人民共和国劳动法", "第四十四条"),
    ("遛狗不拴绳咬伤人", CIVIL, "第一千二百四十六条"),
    ("离婚冷静期是多久", CIVIL, "第一千零七十七条"),
    ("公司辞退我经济补偿怎么算", LABOUR_CONTRACT, "第四十七条"),
    ("交通事故赔偿责任怎么划分", "中华人民共和国道路交通安全法", "第七十六条"),
]


SET = Path(__file__).resolve().parent.parent / "tests" / "data" / "resident_questions.tsv"


def read_set(split: str) -> list[Judged]:
    out = []
    for i, line in enumerate(SET.read_text(encoding="utf-8").splitlines()):
        if not line.strip() or line.startswith("#"):
            continue
        question, provisions, _topic, part = line.split("\t")[:4]
        if split in ("all", part):
            refs = set()
            for p in provisions.split("|"):
                ref = parse_ref(p.replace(":", ""))
                if ref and ref.law:
                    refs.add((law_key(ref.law), ref.number, ref.sub))
            out.append(Judged(i, question, set(), refs))
    return out


def score_set(searcher, kb, judged: list[Judged]) -> dict:
    names = law_names_of(kb)
    ranks, recall10, recall100, ms = [], [], [], []
    for q in judged:
        t0 = time.perf_counter()
        hits = [h.to_dict() for h in searcher.search(Query(q.question, k=100)).hits]
        ms.append((time.perf_counter() - t0) * 1000)
        found = {}
        for rank, h in enumerate(hits, start=1):
            key = _relevant_keys(h, q, names)
            if key and key not in found:
                found[key] = rank
        first = min(found.values(), default=101)
        ranks.append(first)
        recall10.append(sum(r <= 10 for r in found.values()) / len(q.refs))
        recall100.append(len(found) / len(q.refs))
    n = len(judged)
    ms.sort()
    return {"questions": n, "top1": round(sum(r <= 1 for r in ranks) / n, 3),
            "top3": round(sum(r <= 3 for r in ranks) / n, 3), "top10": round(sum(r <= 10 for r in ranks) / n, 3),
            "MRR@10": round(sum(1 / r for r in ranks if r <= 10) / n, 3),
            "R@10": round(sum(recall10) / n, 3), "R@100": round(sum(recall100) / n, 3),
            "p50_ms": round(ms[n // 2], 1), "p95_ms": round(ms[min(n - 1, math.ceil(0.95 * n) - 1)], 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kb", default="kb")
    ap.add_argument("--split", default="both", choices=("both", "train", "holdout", "all"))
    ap.add_argument("--twenty", action="store_true", help="the original 20 questions instead of the set")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    kb = open_kb(args.kb)
    searcher = open_searcher(kb)
    if not args.twenty:
        searcher.search(Query("预热", k=1))   # load the snapshot and the model before timing
        splits = ("train", "holdout") if args.split == "both" else (args.split,)
        report = {"model": getattr(searcher.encoder(), "model_id", None),
                  "tuning": getattr(searcher.encoder(), "tuning", None)}
        report |= {sp: score_set(searcher, kb, read_set(sp)) for sp in splits}
        print(json.dumps(report, ensure_ascii=False, indent=None if not args.json else 1))
        return
    rows = []
    for question, law, article in QUESTIONS:
        result = searcher.search(Query(question, k=100))
        cited = [(h.law_title, h.article_no) for h in result.hits]
        rank = cited.index((law, article)) + 1 if (law, article) in cited else None
        rows.append({"question": question, "expected": f"《{law}》{article}", "rank": rank,
                     "first": f"《{cited[0][0]}》{cited[0][1]}" if cited else None, "mode": result.mode})
    ranks = [r["rank"] or 101 for r in rows]
    summary = {"model": getattr(searcher.encoder(), "model_id", None), "questions": len(rows),
               "top1": sum(r <= 1 for r in ranks), "top3": sum(r <= 3 for r in ranks),
               "top10": sum(r <= 10 for r in ranks),
               "MRR@10": round(sum(1 / r for r in ranks if r <= 10) / len(ranks), 3)}
    if args.json:
        print(json.dumps({"summary": summary, "questions": rows}, ensure_ascii=False, indent=1))
        return
    for r in rows:
        print(f"{r['rank'] or '>100':>5}  {r['question']}  (expected {r['expected']}; first {r['first']})")
    print(json.dumps(summary, ensure_ascii=False))


if __name__ == "__main__":
    main()

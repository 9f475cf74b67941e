"""Embedding benchmark: real LawRefBook articles through the ONNX encoder, int8 and fp32.

    python benchmarks/embed_bench.py [--n 2000] [--batch-size 32] [--queries 50] [--model DIR] [--threads N]

Articles are read straight from the Markdown files (a line starting 第…条 after <!-- INFO END --> and the
paragraphs that follow it, up to the next article or heading), prefixed 《法名》 as the knowledge base
embeds them, and sampled with a fixed seed across the whole corpus. For each variant it prints articles/s
with batches sorted by token count and in input order, the share of padding each way, and the p50/p90
latency of encoding one query (encode only, no search) over questions from eval/stard-dev.jsonl. Finally the
cosine between the int8 and fp32 vectors of the same articles.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import time
from pathlib import Path

import numpy as np

from lawkb.core import settings
from lawkb.search.encode.files import DEFAULT_MODEL_NAME
from lawkb.search.encode.onnx import OnnxEncoder

_ARTICLE = re.compile(r"^第[零〇一二三四五六七八九十百千万两\d]+条(之[一二三四五六七八九十]+)?(?=[\s\u3000]|$)")
_INVISIBLE = str.maketrans("", "", "\u200b\ufeff")


def read_articles(path: Path) -> list[str]:
    """《title》第X条 text… for every article of one LawRefBook file."""
    lines = path.read_text(encoding="utf-8").translate(_INVISIBLE).split("\n")
    title = next((ln[2:].strip() for ln in lines if ln.startswith("# ")), path.stem)
    try:
        start = next(i for i, ln in enumerate(lines) if ln.strip() == "<!-- INFO END -->") + 1
    except StopIteration:
        return []
    out: list[list[str]] = []
    for raw in lines[start:]:
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#") or line.startswith("<!--"):
            if out and out[-1]:
                out.append([])  # a heading closes the article before it
            continue
        if _ARTICLE.match(line):
            out.append([line])
        elif out and out[-1]:
            out[-1].append(line)
    return [f"《{title}》" + "\n".join(parts) for parts in out if parts]


def sample_articles(corpus: Path, n: int, seed: int = 0) -> list[str]:
    every = []
    for path in sorted(corpus.rglob("*.md")):
        if path.name != "_index.md":
            every.extend(read_articles(path))
    random.Random(seed).shuffle(every)
    return every[:n]


def padding_share(lengths: list[int], batch_size: int, sort: bool) -> float:
    order = sorted(range(len(lengths)), key=lengths.__getitem__) if sort else list(range(len(lengths)))
    padded = sum(max(lengths[i] for i in order[s:s + batch_size]) * len(order[s:s + batch_size])
                 for s in range(0, len(order), batch_size))
    return 1 - sum(lengths) / padded


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    shared = settings.shared_dir()
    ap.add_argument("--corpus", type=Path, default=shared / "corpus" / "lawrefbook")
    ap.add_argument("--eval", type=Path, default=shared / "eval" / "stard-dev.jsonl")
    ap.add_argument("--model", type=Path, default=shared / "models" / DEFAULT_MODEL_NAME)
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--queries", type=int, default=50)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--variants", default="int8,fp32")
    args = ap.parse_args()

    t0 = time.perf_counter()
    texts = sample_articles(args.corpus, args.n)
    with args.eval.open(encoding="utf-8") as fh:
        questions = [json.loads(line)["question"] for line in fh if line.strip()][:args.queries]
    print(f"{len(texts)} articles sampled from {args.corpus} in {time.perf_counter() - t0:.1f} s; "
          f"{len(questions)} queries; batch {args.batch_size}; {args.threads or os.cpu_count()} threads")

    vectors = {}
    for variant in args.variants.split(","):
        enc = OnnxEncoder(args.model, variant, threads=args.threads)
        lengths = [len(e.ids) for e in enc.tokenizer.encode_batch(texts)]
        if variant == args.variants.split(",")[0]:
            print(f"tokens per article: mean {statistics.mean(lengths):.0f}, median {statistics.median(lengths):.0f}, "
                  f"max {max(lengths)}, truncated at {enc.max_length}: {sum(n >= enc.max_length for n in lengths)}")
        enc.encode_passages(texts[:args.batch_size], batch_size=args.batch_size)  # warm-up
        for sort in (True, False):
            enc.sort_by_length = sort
            start = time.perf_counter()
            vecs = enc.encode_passages(texts, batch_size=args.batch_size)
            wall = time.perf_counter() - start
            if sort:
                vectors[variant] = vecs
            print(f"{enc.model_id:48s} {'sorted  ' if sort else 'unsorted'} {len(texts) / wall:7.1f} articles/s "
                  f"({wall:.1f} s; padding {padding_share(lengths, args.batch_size, sort):.0%} of tokens)",
                  flush=True)
        for q in questions[:3]:
            enc.encode_query(q)
        times = []
        for q in questions:
            start = time.perf_counter()
            enc.encode_query(q)
            times.append((time.perf_counter() - start) * 1000)
        times.sort()
        print(f"{enc.model_id:48s} query encode p50 {statistics.median(times):.1f} ms, "
              f"p90 {times[int(0.9 * (len(times) - 1))]:.1f} ms", flush=True)
    if {"int8", "fp32"} <= vectors.keys():
        cos = (vectors["int8"] * vectors["fp32"]).sum(axis=1)
        print(f"int8 vs fp32 cosine over {len(cos)} articles: mean {cos.mean():.4f}, min {cos.min():.4f}, "
              f"p1 {np.percentile(cos, 1):.4f}")


if __name__ == "__main__":
    main()

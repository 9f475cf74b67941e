"""Fine-tune the query side of bge-small-zh-v1.5 on a CPU: the CPU path of finetune_encoder.py.

    .venv/bin/python benchmarks/finetune_queries.py prepare --kb PLAIN_KB [--out .fq] [--sources clean|all]
    .venv/bin/python benchmarks/finetune_queries.py run --bundle .fq --train res,ext[,stard] [--cv]
    .venv/bin/python benchmarks/finetune_queries.py fit --bundle .fq --train res,ext,stard --out LORA.npz
    .venv/bin/python benchmarks/finetune_encoder.py ship --lora LORA.npz --side query --out TUNING.npz

Why a different recipe on a CPU. finetune_encoder.py trains both sides: every step runs 32 questions and
about a thousand articles of up to 512 tokens through the model, forward and backward (on this 2-core
machine about 12 s a step for 128 articles, so hours an epoch), and every fold re-embeds all national
articles. Here the articles keep the plain model's vectors, which any KB embedded with the plain model
already holds, and LoRA factors (the same 24 linear maps, the same PyTorch model) are fitted on the
question side only. A step is then 64 short questions (about 1.3 s), and the negatives cost nothing: each
question's softmax runs over all national articles at once, not over 31 sampled ones. Nothing is
re-embedded, so 5-fold cross-validation on STARD dev takes minutes.

Training data (`prepare --sources`):
  res    tests/data/resident_questions.tsv, split `train` only (the `holdout` split is never trained on);
  ext    ../shared/eval/train-external.jsonl: `clean` keeps the rows whose licence allows a shipped model
         (DISC-LawLLM, Apache-2.0; LawBench 3-8, Apache-2.0 over public consultations); `all` adds
         Lawyer-LLaMA (academic use only, silver labels) and LawBench 3-2 (LawGPT_zh, no licence file);
  stard  ../shared/eval/stard-dev.jsonl (MIT), only with --cv (each fold trains on the other 320) or in
         the final fit.
`run` reports STARD dev (out of sample: without stard, or by 5-fold CV with --cv) and the residents'
held-out split, R@10 / R@100 / MRR@10, dense alone and fused with the lexical list as the engine fuses
(RRF k 20, dense weight 2.5, the law-popularity prior); the engine's own figures come from `lawkb eval`.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pickle
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
import finetune_encoder as fe  # noqa: E402  (the model and the weights reader)

CLEAN_SOURCES = ("DISC-LawLLM", "LawBench 3-8")
CONFIGS = {
    # name: LoRA rank, learning rate, epochs over (question, judged article) pairs, batch
    "q16": dict(rank=16, lr=3e-4, epochs=3, batch=64),
    "q32": dict(rank=32, lr=2e-4, epochs=4, batch=64),
    "q16-hot": dict(rank=16, lr=1e-3, epochs=5, batch=64),
}
TAU, SEED, TOP, RRF_K, DENSE_WEIGHT = 0.02, 0, 300, 20, 2.5


def _source(row: dict) -> str:
    s = str(row.get("source", ""))
    if "DISC" in s:
        return "DISC-LawLLM"
    if "3-8" in s:
        return "LawBench 3-8"
    if "3-2" in s:
        return "LawBench 3-2"
    return "Lawyer-LLaMA"


def _residents(split: str) -> list[dict]:
    rows = []
    for i, line in enumerate((ROOT / "tests" / "data" / "resident_questions.tsv").read_text("utf-8").splitlines()):
        if not line.strip() or line.startswith("#"):
            continue
        q, provisions, _topic, part = line.split("\t")[:4]
        if part == split:
            rows.append({"id": f"res-{i}", "question": q,
                         "relevant": {p.replace(":", ""): "" for p in provisions.split("|")}})
    return rows


def prepare(args) -> None:
    import train_adapter as ta
    from tokenizers import Tokenizer

    from lawkb.search.encode.encoder import BGE_ZH_QUERY_PREFIX
    from lawkb.search.rank.analyze import analyze

    shared = Path(args.shared)
    model_dir = Path(args.model_dir)
    os.environ.setdefault("LAWKB_MODEL", str(model_dir))
    os.environ["LAWKB_ENCODER_TUNING"] = "none"    # the articles' vectors are the plain model's
    os.environ["LAWKB_QUERY_ADAPTER"] = "none"
    groups: dict[str, list[dict]] = {"stard": [json.loads(x) for x in (shared / "eval" / "stard-dev.jsonl")
                                              .read_text("utf-8").splitlines() if x.strip()],
                                     "res": _residents("train"), "holdout": _residents("holdout")}
    ext = [json.loads(x) for x in (shared / "eval" / "train-external.jsonl").read_text("utf-8").splitlines() if x.strip()]
    groups["ext"] = [r for r in ext if args.sources == "all" or _source(r) in CLEAN_SOURCES]
    rows, group_of = [], []
    for g, items in groups.items():
        for r in items:
            rows.append({"id": r["id"], "question": r["question"], "relevant": r["relevant"]})
            group_of.append(g)
    t0 = time.time()
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", encoding="utf-8", delete=False) as fh:
        fh.write("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n")
    try:
        data = ta.collect(args.kb, Path(fh.name), None, national_only=True)
    finally:
        os.unlink(fh.name)
    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tok.enable_truncation(max_length=fe.TRAIN_LEN)
    questions = [BGE_ZH_QUERY_PREFIX + analyze(r["question"]).text for r in rows]
    weights = {k: v for k, v in fe.onnx_weights(model_dir / "model.onnx").items() if not k.startswith("onnx_name:")}
    names = {k.removeprefix("onnx_name:"): str(v) for k, v in fe.onnx_weights(model_dir / "model.onnx").items()
             if k.startswith("onnx_name:")}
    bundle = {"groups": group_of, "positives": [sorted(int(i) for i in r["rel"]) for r in data["recs"]],
              "rel": [r["rel"] for r in data["recs"]], "n_rel": [r["n_rel"] for r in data["recs"]],
              "lex": [r["lex"] for r in data["recs"]], "tokens": [e.ids for e in tok.encode_batch(questions)],
              "nat": data["nat"], "law_row": data["law_row"], "popularity": data["popularity"],
              "model_id": data["model_id"], "onnx_names": names, "sources": args.sources}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / "passages.npy", data["dense"].astype(np.float32))
    np.savez(out / "weights.npz", **{k: v.astype(np.float32) for k, v in weights.items()})
    (out / "bundle.pkl").write_bytes(pickle.dumps(bundle))
    counts = {g: sum(1 for x in group_of if x == g) for g in groups}
    unjudged = {g: sum(1 for x, p in zip(group_of, bundle["positives"], strict=True) if x == g and not p)
                for g in groups}
    print(f"{len(data['nat'])} national articles; questions {counts}; without a judged national article "
          f"{unjudged}; bundle in {out} ({time.time() - t0:.0f} s)", file=sys.stderr)


# ---- training and scoring (PyTorch + numpy) ------------------------------------------------------------

def _batch(torch, tokens: list[list[int]], idx: list[int]):
    n = max(len(tokens[i]) for i in idx)
    ids = np.zeros((len(idx), n), dtype=np.int64)
    mask = np.zeros_like(ids)
    for j, i in enumerate(idx):
        ids[j, :len(tokens[i])] = tokens[i]
        mask[j, :len(tokens[i])] = 1
    return torch.from_numpy(ids), torch.from_numpy(mask)


def fit(torch, weights, bundle: dict, passages, train_q: list[int], cfg: dict, log=print):
    """LoRA factors on the question side: each (question, judged article) pair is a softmax over every
    national article, the question's other judged articles masked out."""
    torch.manual_seed(SEED)
    model = fe.build_model(torch, weights, cfg["rank"], torch.device("cpu"))
    opt = torch.optim.AdamW(list(model.lora.parameters()), lr=cfg["lr"], weight_decay=0.01)
    pairs = [(q, p) for q in train_q for p in bundle["positives"][q][:8]]
    steps = cfg["epochs"] * math.ceil(len(pairs) / cfg["batch"])
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / max(1, steps // 10))
                                              * max(0.0, (steps - s) / steps))
    rng = np.random.default_rng(SEED)
    step, t0 = 0, time.time()
    model.train()
    for _ in range(cfg["epochs"]):
        order = rng.permutation(len(pairs))
        for b in range(0, len(order), cfg["batch"]):
            chunk = [pairs[i] for i in order[b:b + cfg["batch"]]]
            qs = [q for q, _ in chunk]
            ids, mask = _batch(torch, bundle["tokens"], qs)
            logits = model(ids, mask) @ passages.T / TAU
            block = torch.zeros_like(logits, dtype=torch.bool)
            for r, (q, p) in enumerate(chunk):
                others = [x for x in bundle["positives"][q] if x != p]
                if others:
                    block[r, others] = True
            loss = torch.nn.functional.cross_entropy(logits.masked_fill(block, -1e4),
                                                     torch.tensor([p for _, p in chunk]))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            if step % 20 == 0 or step == steps:
                log(f"  step {step}/{steps} loss {loss.item():.3f} ({time.time() - t0:.0f} s)")
    model.eval()
    return model


def dense_top(torch, model, bundle: dict, passages, idx: list[int]) -> list[list[int]]:
    out = []
    with torch.no_grad():
        for b in range(0, len(idx), 128):
            chunk = idx[b:b + 128]
            ids, mask = _batch(torch, bundle["tokens"], chunk)
            out += torch.topk(model(ids, mask) @ passages.T, TOP, dim=1).indices.tolist()
    return out


def scores(bundle: dict, idx: list[int], dense: list[list[int]]) -> dict[str, np.ndarray]:
    """R@10 / R@100 / MRR@10 per question, dense alone and fused as the engine fuses."""
    import train_adapter as ta

    from lawkb.search.profile import PLAIN
    from lawkb.search.rank.fusion import rrf

    nat = bundle["nat"]
    data = {"recs": [{"rel": bundle["rel"][i], "n_rel": bundle["n_rel"][i]} for i in range(len(bundle["rel"]))]}
    fused = []
    for i, d in zip(idx, dense, strict=True):
        f = rrf([bundle["lex"][i], nat[d[:PLAIN.depth]].tolist()], k=RRF_K, weights=[1.0, DENSE_WEIGHT])
        rows = np.array([r for r, _ in f])
        s = np.array([x for _, x in f]) + PLAIN.prior_weight * bundle["popularity"][bundle["law_row"][rows]]
        fused.append(nat.searchsorted(rows[np.lexsort((np.arange(len(rows)), -s))]).tolist())
    return {"dense": ta.metrics(data, idx, dense), "hybrid": ta.metrics(data, idx, fused)}


def _load(bundle_dir: Path):
    import torch
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    bundle = pickle.loads((bundle_dir / "bundle.pkl").read_bytes())
    passages = torch.from_numpy(np.load(bundle_dir / "passages.npy"))
    weights = dict(np.load(bundle_dir / "weights.npz"))
    return torch, bundle, passages, weights


def _members(bundle: dict, names: str) -> list[int]:
    wanted = set(names.split(","))
    return [i for i, g in enumerate(bundle["groups"]) if g in wanted and bundle["positives"][i]]


def _line(label: str, m: np.ndarray) -> str:
    v = m.mean(0)
    return f"{label:34s} R@10 {v[0]:.3f}  R@100 {v[1]:.3f}  MRR@10 {v[2]:.3f}  (n={len(m)})"


def run(args) -> None:
    torch, bundle, passages, weights = _load(Path(args.bundle))
    cfg = CONFIGS[args.config]
    stard = [i for i, g in enumerate(bundle["groups"]) if g == "stard"]
    holdout = [i for i, g in enumerate(bundle["groups"]) if g == "holdout"]
    base = _members(bundle, args.train.replace("stard", "_"))
    report: dict[str, list] = {}
    t0 = time.time()
    plain = fe.build_model(torch, weights, 0, torch.device("cpu")).eval()
    for name, idx in (("stard", stard), ("holdout", holdout)):
        for kind, m in scores(bundle, idx, dense_top(torch, plain, bundle, passages, idx)).items():
            print(_line(f"plain {kind}, {name}", m), flush=True)
    if args.cv:
        import train_adapter as ta
        parts = ta.folds(len(stard), args.folds, ta.SEED)
        per = {"stard": {"dense": [], "hybrid": []}, "holdout": {"dense": [], "hybrid": []}}
        for f, test in enumerate(parts):
            trn = base + [stard[j] for g, part in enumerate(parts) if g != f for j in part if bundle["positives"][stard[j]]]
            model = fit(torch, weights, bundle, passages, trn, cfg)
            test_idx = [stard[j] for j in test]
            for kind, m in scores(bundle, test_idx, dense_top(torch, model, bundle, passages, test_idx)).items():
                per["stard"][kind].append(m)
            for kind, m in scores(bundle, holdout, dense_top(torch, model, bundle, passages, holdout)).items():
                per["holdout"][kind].append(m)
            print(f"fold {f} done ({time.time() - t0:.0f} s)", flush=True)
        for name in per:
            for kind, ms in per[name].items():
                m = np.concatenate(ms) if name == "stard" else np.mean(np.stack(ms), axis=0)
                report[f"{name} {kind}"] = m.mean(0).round(4).tolist()
                print(_line(f"{args.config} {kind}, {name}" + (f" ({args.folds}-fold CV)" if name == "stard" else
                                                               f" (mean of {args.folds} fold models)"), m), flush=True)
    else:
        model = fit(torch, weights, bundle, passages, base, cfg)
        for name, idx in (("stard", stard), ("holdout", holdout)):
            for kind, m in scores(bundle, idx, dense_top(torch, model, bundle, passages, idx)).items():
                report[f"{name} {kind}"] = m.mean(0).round(4).tolist()
                print(_line(f"{args.config} {kind}, {name} (not trained on)", m), flush=True)
    summary = {"config": args.config, **cfg, "train": args.train, "cv": args.folds if args.cv else False, "sources": bundle["sources"],
               "seconds": round(time.time() - t0), "figures": report}
    print(json.dumps(summary, ensure_ascii=False))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(summary, ensure_ascii=False, indent=1), encoding="utf-8")


def fit_final(args) -> None:
    torch, bundle, passages, weights = _load(Path(args.bundle))
    cfg = CONFIGS[args.config]
    train_q = _members(bundle, args.train)
    t0 = time.time()
    model = fit(torch, weights, bundle, passages, train_q, cfg)
    lora = {k: v.detach().float().numpy() for k, v in model.lora.items()}
    counts = {g: sum(1 for i in train_q if bundle["groups"][i] == g) for g in args.train.split(",")}
    np.savez(args.out, **lora, meta=np.array(json.dumps(
        {"config": args.config, **cfg, "tau": TAU, "seed": SEED, "scale": model.scale, "side": "query",
         "trained_on_groups": counts, "sources": bundle["sources"], "onnx_names": bundle["onnx_names"],
         "model_id": bundle["model_id"]}, ensure_ascii=False)))
    print(f"wrote {args.out}: {len(train_q)} questions {counts} ({time.time() - t0:.0f} s)", file=sys.stderr)


def main() -> None:
    shared = Path(os.environ.get("LAWKB_SHARED", ROOT.parent / "shared"))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("--kb", required=True, help="a KB holding the plain model's vectors")
    p.add_argument("--out", default=".fq")
    p.add_argument("--sources", choices=("clean", "all"), default="clean")
    p.add_argument("--shared", default=str(shared))
    p.add_argument("--model-dir", default=str(shared / "models" / "bge-small-zh-v1.5"))
    for name in ("run", "fit"):
        p = sub.add_parser(name)
        p.add_argument("--bundle", default=".fq")
        p.add_argument("--config", default="q16", choices=sorted(CONFIGS))
        p.add_argument("--train", default="res,ext", help="groups to train on: res, ext, stard")
    sub.choices["run"].add_argument("--cv", action="store_true", help="add STARD dev by K-fold CV")
    sub.choices["run"].add_argument("--folds", type=int, default=5, help="K (5; 3 costs 40 %% less on a CPU)")
    sub.choices["run"].add_argument("--json-out")
    sub.choices["fit"].add_argument("--out", required=True)
    args = ap.parse_args()
    {"prepare": prepare, "run": run, "fit": fit_final}[args.cmd](args)


if __name__ == "__main__":
    main()

"""The task audit measured: verdict accuracy and deciding-provision accuracy on the labelled lists set
(tests/data/tasks_lists.tsv, tune and holdout parts apart), and the time to check a 200-task XLSX as staff
upload it.

    python benchmarks/task_audit.py --kb ./kb [--lexical] [--tasks 200]

The XLSX is built from the labelled tasks (repeated to the size asked), read by the site's reader and
checked in one call, as `POST /staff/tasks` does; the time is wall clock on this machine, one run after
a warm-up of the searcher.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from pathlib import Path

from lawkb.core.model import law_key
from lawkb.search import open_kb, open_searcher
from lawkb.tools.taskcheck import CLASSES, check_tasks, read_task_list

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "tasks_lists.tsv"


def labelled() -> list[dict]:
    rows = []
    for line in DATA.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            task, region, cls, deciding, _body, split, _note = (line.split("\t") + [""] * 7)[:7]
            rows.append({"task": task, "region": region or None, "class": cls, "split": split,
                         "deciding": [d for d in deciding.split("|") if d]})
    return rows


def cites(spec: str, cite: dict) -> bool:
    law, article = spec.split(":")
    title = law_key(cite["law_title"]).replace("中华人民共和国", "")
    return title.endswith(law_key(law).replace("中华人民共和国", "")) and article == cite["article_no"]


def xlsx_of(tasks: list[str]) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["事项名称", "下达单位"])
    for i, t in enumerate(tasks):
        ws.append([t, f"部门{i % 7}"])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kb", default="kb")
    ap.add_argument("--lexical", action="store_true", help="do not use the embedding model")
    ap.add_argument("--tasks", type=int, default=200, help="size of the timed XLSX")
    args = ap.parse_args()
    kb = open_kb(args.kb)
    searcher = open_searcher(kb, use_model=not args.lexical)
    searcher.prepare()
    rows = labelled()
    print(f"KB {args.kb} ({kb.stats()['laws']} laws), mode {'lexical' if args.lexical else 'hybrid if a model is found'}")
    print(f"{'split':8} {'n':>4} {'class':>7} {'+provision':>11}  " + "  ".join(c[:4] for c in CLASSES))
    for split in ("tune", "holdout", None):
        part = [r for r in rows if split is None or r["split"] == split]
        right = basis = 0
        per = {c: [0, 0] for c in CLASSES}
        for row in part:
            got = check_tasks(kb, [row["task"]], region=row["region"], searcher=searcher)["tasks"][0]
            per[row["class"]][1] += 1
            if got["class"] == row["class"]:
                right += 1
                per[row["class"]][0] += 1
                basis += not row["deciding"] or any(cites(d, c) for d in row["deciding"] for c in got["citations"])
        print(f"{split or 'all':8} {len(part):>4} {right / len(part):7.3f} {basis / len(part):11.3f}  "
              + "  ".join(f"{a}/{b}" for a, b in per.values()))
    if args.tasks <= 0:   # --tasks 0: the accuracy figures only
        return 0
    tasks = [r["task"] for r in rows] * (args.tasks // len(rows) + 1)
    data = xlsx_of(tasks[:args.tasks])
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        listed = read_task_list(data, "tasks.xlsx")
        check_tasks(kb, listed.tasks, searcher=searcher)
        times.append(time.perf_counter() - t0)
    print(f"{args.tasks}-task XLSX: median {statistics.median(times):.1f} s over {len(times)} runs "
          f"({', '.join(f'{t:.1f}' for t in times)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

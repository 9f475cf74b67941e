"""The task audit on the labelled lists set (tests/data/tasks_lists.tsv): tasks worded as provinces'
三项清单 and county 交办 documents word them, labelled blind from the law texts, with a part kept out of
all tuning (split = holdout). The KB holds the corpus files those labels cite (tasks_lists_laws.txt),
searched lexically, as CI can afford; the full-KB hybrid figures are in docs/tools.md
(benchmarks/task_audit.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lawkb.core.model import law_key
from lawkb.search import open_searcher
from lawkb.tools.taskcheck import CLASSES, check_tasks

DATA = Path(__file__).parent / "data"


def labelled() -> list[dict]:
    rows = []
    for line in (DATA / "tasks_lists.tsv").read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        task, region, cls, deciding, body, split, _note = (line.split("\t") + [""] * 7)[:7]
        rows.append({"task": task, "region": region or None, "class": cls, "split": split, "body": body,
                     "deciding": [d for d in deciding.split("|") if d]})
    return rows


def cites(spec: str, cite: dict) -> bool:
    law, article = spec.split(":")
    title = law_key(cite["law_title"]).replace("中华人民共和国", "")
    return title.endswith(law_key(law).replace("中华人民共和国", "")) and article == cite["article_no"]


@pytest.fixture(scope="module")
def lists_kb(lawrefbook: Path, tmp_path_factory):
    from lawkb.ingest.pipeline import ingest
    from lawkb.search import open_kb
    from lawkb.search.store.embedded.indexer import build_index

    files = [lawrefbook / line for line in (DATA / "tasks_lists_laws.txt").read_text(encoding="utf-8").split("\n")
             if line.strip()]
    kb = open_kb(str(tmp_path_factory.mktemp("listskb") / "kb"), create=True)
    report = ingest(kb, files)
    assert not report.failed, report.failed
    build_index(kb)
    yield kb
    kb.close()


@pytest.fixture(scope="module")
def audit(lists_kb):
    searcher = open_searcher(lists_kb, use_model=False)
    return [(row, check_tasks(lists_kb, [row["task"]], region=row["region"], searcher=searcher)["tasks"][0])
            for row in labelled()]


def test_the_set_is_large_balanced_and_split():
    rows = labelled()
    assert len(rows) >= 150
    assert {r["class"] for r in rows} == set(CLASSES)
    assert all(r["split"] in ("tune", "holdout") for r in rows)
    assert sum(r["split"] == "holdout" for r in rows) >= 0.3 * len(rows)
    assert all(r["body"] for r in rows if r["class"] == "不应由居委会承担")


@pytest.mark.parametrize("split,class_floor,basis_floor", [("tune", 0.9, 0.8), ("holdout", 0.82, 0.7)])
def test_class_and_deciding_provision(audit, split, class_floor, basis_floor):
    """Floors at the figures measured on this lexical KB (docs/tools.md), so that a change that loses
    ground fails; the issue's targets (0.90 class, 0.85 with the provision) are not met yet."""
    rows = [(row, r) for row, r in audit if row["split"] == split]
    right = [(row, r) for row, r in rows if r["class"] == row["class"]]
    basis = [(row, r) for row, r in right
             if not row["deciding"] or any(cites(d, c) for d in row["deciding"] for c in r["citations"])]
    misses = [(row["task"], row["class"], r["class"]) for row, r in rows if r["class"] != row["class"]]
    print(f"{split}: class {len(right) / len(rows):.3f}, with provision {len(basis) / len(rows):.3f}; {misses}")
    assert len(right) / len(rows) >= class_floor and len(basis) / len(rows) >= basis_floor, misses
    per_class = {c: sum(1 for _, r in right if r["class"] == c) for c in CLASSES}
    assert min(per_class.values()) >= 1, per_class   # no verdict is bought by never giving another


def test_not_ours_names_the_responsible_body_from_the_text(audit):
    named = [(row, r) for row, r in audit if row["class"] == r["class"] == "不应由居委会承担"]
    assert named
    for _row, r in named:
        assert r["body"] and r["body"] in r["citations"][0]["sentence"], r
    assert sum(bool(r["body"]) for _, r in named) == len(named)


def test_every_verdict_carries_the_deciding_sentence_verbatim(audit):
    for row, r in audit:
        deciding = [c for c in r["citations"] if c["role"] == "deciding"]
        assert (r["class"] == "未找到依据") == (not deciding), row["task"]
        for c in deciding:
            assert c["sentence"] in c["text"].replace("\n", "") or c["sentence"].split("：")[-1] in c["text"]
        assert r["strength"] in ("明确", "部分对应", "未找到") and r["reasoning"]


def test_a_power_of_administration_is_never_the_committees(lists_kb):
    searcher = open_searcher(lists_kb, use_model=False)
    result = check_tasks(lists_kb, ["对违反居民公约的居民处以罚款", "在当地政府指导下协助有关部门查处传销行为"],
                         searcher=searcher)
    fine, assist = result["tasks"]
    assert fine["class"] == "不应由居委会承担" and "行政机关" in fine["body"]
    assert any("行政处罚" in c["law_title"] for c in fine["citations"])
    assert assist["class"] == "依法协助"   # assisting the department that holds the power is lawful


def test_questions_and_compound_tasks(lists_kb):
    searcher = open_searcher(lists_kb, use_model=False)
    asked, compound = check_tasks(lists_kb, ["居委会能否出具新生儿出生证明？",
                                             "调解邻里纠纷，查处辖区违法建设"], searcher=searcher)["tasks"]
    assert asked["task"] == "出具新生儿出生证明" and asked["class"] == "不应由居委会承担" and asked["body"]
    assert compound["class"] == "不应由居委会承担" and len(compound["parts"]) == 2
    assert [p["class"] for p in compound["parts"]] == ["依法履行职责", "不应由居委会承担"]
    assert "依法履行职责" in compound["reasoning"]   # the part that is the committee's is not lost

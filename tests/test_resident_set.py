"""The project's residents' question set (tests/data/resident_questions.tsv): everyday questions written
for lawkb, each with 1-3 deciding provisions, split into a training part and a held-out part. Every
provision must be an article of the current text of a law the shipped snapshot holds."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from lawkb.search.lookup import resolve_law

DATA = Path(__file__).parent / "data" / "resident_questions.tsv"
FOLDERS = ("宪法", "民法典", "刑法", "诉讼与非诉讼程序法", "民法商法", "社会法", "宪法相关法", "经济法", "行政法",
           "司法解释", "行政法规", "部门规章")


def rows() -> list[tuple[str, list[str], str, str]]:
    out = []
    for line in DATA.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            q, prov, topic, split = line.split("\t")
            out.append((q, prov.split("|"), topic, split))
    return out


def test_the_set_is_large_varied_and_split():
    data = rows()
    assert len(data) >= 400
    assert len({q for q, *_ in data}) == len(data)          # no question twice
    splits = Counter(s for *_, s in data)
    assert set(splits) == {"train", "holdout"} and splits["holdout"] >= 0.35 * len(data)
    topics = Counter(t for _, _, t, _ in data)
    assert len(topics) >= 18 and min(topics.values()) >= 10
    assert all(1 <= len(p) <= 3 for _, p, _, _ in data)


@pytest.fixture(scope="module")
def snapshot_kb(lawrefbook, tmp_path_factory):
    from lawkb.ingest.pipeline import ingest
    from lawkb.search import open_kb

    kb = open_kb(str(tmp_path_factory.mktemp("residents") / "kb"), create=True)
    ingest(kb, [lawrefbook / f for f in FOLDERS])
    yield kb
    kb.close()


def test_every_provision_is_an_article_of_the_current_text(snapshot_kb):
    missing = []
    for q, provisions, _, _ in rows():
        for p in provisions:
            name, number = p.split(":")
            law = resolve_law(snapshot_kb, name)
            if law is None:
                missing.append((q, p, "law"))
                continue
            arts = {a["article_no"] for a in snapshot_kb.articles(law["current_version"])}
            if number not in arts:
                missing.append((q, p, "article"))
    assert not missing, missing[:10]


def test_every_legal_term_of_the_lexicon_is_in_the_shipped_corpus(lawrefbook):
    """A lay word is mapped only to words the law really uses: each legal term of corpus/lexicon.tsv
    occurs in the shipped LawRefBook snapshot."""
    from lawkb.core.segment import load_lexicon

    text = "\n".join(p.read_text(encoding="utf-8", errors="ignore") for p in lawrefbook.rglob("*.md"))
    lexicon = load_lexicon()
    assert len(lexicon) >= 400
    missing = [(lay, term) for lay, terms in lexicon.items() for term in terms if term not in text]
    assert not missing, missing[:10]

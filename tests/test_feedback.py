"""Pseudo-relevance feedback: the pure expansion function on real articles, and the engine using it."""

from __future__ import annotations

import pytest
from helpers import snapshot_of

from lawkb.search import open_searcher
from lawkb.search.contract import Query
from lawkb.search.profile import PLAIN
from lawkb.search.rank import feedback
from lawkb.search.rank.analyze import analyze
from lawkb.search.store.embedded.lexical import idf_known

QUESTION = "房东不退押金怎么办"


@pytest.fixture(scope="module")
def searcher(search_kb):
    kb, encoder = search_kb
    return open_searcher(kb, encoder=encoder)


@pytest.fixture(scope="module")
def top_articles(searcher):
    """The segmented text of the first 20 hits for QUESTION, best first, and the index's idf."""
    snap = snapshot_of(searcher)
    hits = searcher.search(Query(QUESTION, k=20)).hits
    rows = {aid: i for i, aid in enumerate(snap.article_ids)}
    units = [int(snap.unit_ids[rows[h.article_id]]) for h in hits]
    words = searcher.kb.unit_terms(units)
    return [words[u] for u in units], (lambda t: idf_known(snap.lexical, t))


def test_expansion_adds_shared_rare_words_at_lower_weight(top_articles):
    docs, idf = top_articles
    terms = analyze(QUESTION).terms
    out = feedback.expand(terms, docs, idf)
    added = {t: w for t, w in out.items() if t not in terms}
    assert 0 < len(added) <= feedback.FEEDBACK_TERMS
    assert {t: out[t] for t in terms} == terms          # the question's own terms are untouched
    assert max(added.values()) == pytest.approx(feedback.FEEDBACK_WEIGHT)
    assert all(0 < w <= feedback.FEEDBACK_WEIGHT for w in added.values())
    for t in added:
        assert len(t) >= 2 and idf(t) is not None
        assert sum(t in d for d in docs[:feedback.FEEDBACK_DOCS]) >= feedback.MIN_DOCS
    assert feedback.expand(terms, docs, idf) == out      # deterministic


def test_a_word_from_one_article_only_is_not_added(top_articles):
    docs, idf = top_articles
    terms = analyze(QUESTION).terms
    lone = "独一无二的词语"
    out = feedback.expand(terms, [docs[0] + [lone], *docs[1:]], idf=lambda t: 9.0 if t == lone else idf(t))
    assert lone not in out
    twice = feedback.expand(terms, [docs[0] + [lone], docs[1] + [lone], *docs[2:]],
                            idf=lambda t: 9.0 if t == lone else idf(t))
    assert lone in twice


def test_nothing_to_expand_leaves_the_query_as_it_was(top_articles):
    docs, idf = top_articles
    terms = analyze(QUESTION).terms
    assert feedback.expand(terms, [], idf) == terms
    assert feedback.expand({}, docs, idf) == {}
    assert feedback.expand(terms, docs, idf, terms=0) == terms
    assert feedback.expand(terms, docs, lambda t: None) == terms   # words the index does not know


def test_feedback_is_on_unless_the_setting_or_the_searcher_says_otherwise(search_kb, monkeypatch):
    kb, encoder = search_kb
    s = open_searcher(kb, encoder=encoder)
    monkeypatch.delenv("LAWKB_SEARCH_FEEDBACK", raising=False)
    assert s.profile().feedback
    monkeypatch.setenv("LAWKB_SEARCH_FEEDBACK", "off")
    assert not s.profile().feedback
    forced = open_searcher(kb, encoder=encoder, profile=s.profile().with_(feedback=True))
    assert forced.profile().feedback   # a profile given to the searcher wins over the setting


def test_lexical_mode_takes_feedback_below_the_first_page(search_kb):
    kb, _ = search_kb
    on = open_searcher(kb, use_model=False, profile=PLAIN.with_(feedback=True))
    off = open_searcher(kb, use_model=False, profile=PLAIN.with_(feedback=False))
    a, b = on.search(Query(QUESTION, k=60)), off.search(Query(QUESTION, k=60))
    assert a.mode == b.mode == "lexical"
    assert [h.article_id for h in a.hits[:10]] == [h.article_id for h in b.hits[:10]]
    assert [h.article_id for h in a.hits] != [h.article_id for h in b.hits]


def test_merge_keeps_the_first_page_and_takes_the_new_order_below_it():
    first = [("a", 0.9), ("b", 0.8), ("c", 0.7), ("d", 0.6), ("e", 0.5)]
    second = [("c", 2.0), ("x", 1.9), ("e", 1.5), ("a", 1.0)]
    out = feedback.merge(first, second, keep=2)
    assert [i for i, _ in out] == ["a", "b", "c", "x", "e", "d"]   # d: only the first ranking had it
    scores = [s for _, s in out]
    assert scores[:2] == [0.9, 0.8]
    assert all(x >= y for x, y in zip(scores, scores[1:], strict=False))
    assert feedback.merge(first, [], keep=2) == first
    assert [i for i, _ in feedback.merge(first, second, keep=0)] == ["c", "x", "e", "a", "b", "d"]


def test_lexical_ranks_come_from_the_list_that_placed_each_hit():
    merged = [("a", 1.0), ("b", 0.9), ("c", 0.5), ("x", 0.4)]
    ranks = feedback.lexical_ranks(["b", "a", "c"], ["c", "x", "a"], merged, keep=2)
    assert ranks == {"a": 2, "b": 1, "c": 1, "x": 2}

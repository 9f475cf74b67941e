"""Pseudo-relevance feedback: the pure expansion function on real articles, and the engine using it."""

from __future__ import annotations

import pytest

from lawkb.search import feedback
from lawkb.search.contract import Query
from lawkb.search.engine import EmbeddedSearcher
from lawkb.search.lexical import idf_known
from lawkb.search.query import analyze

QUESTION = "房东不退押金怎么办"


@pytest.fixture(scope="module")
def searcher(search_kb):
    kb, encoder = search_kb
    return EmbeddedSearcher(kb, encoder=encoder)


@pytest.fixture(scope="module")
def top_articles(searcher):
    """The segmented text of the first 20 hits for QUESTION, best first, and the index's idf."""
    snap = searcher.snapshot()
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


def test_feedback_follows_the_model_unless_the_setting_says_otherwise(search_kb, plain_encoder, monkeypatch):
    kb, tuned = search_kb
    on_tuned = EmbeddedSearcher(kb, encoder=tuned)
    plain = EmbeddedSearcher(kb, encoder=plain_encoder)
    assert on_tuned.feedback_on(tuned)
    assert not plain.feedback_on(plain.encoder())
    monkeypatch.setenv("LAWKB_SEARCH_FEEDBACK", "off")
    assert not on_tuned.feedback_on(tuned)
    monkeypatch.setenv("LAWKB_SEARCH_FEEDBACK", "on")
    assert plain.feedback_on(plain.encoder())
    plain.feedback = False   # the searcher's own attribute wins over the setting
    assert not plain.feedback_on(plain.encoder())

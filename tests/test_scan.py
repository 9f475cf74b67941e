"""The dense scan's first pass over a projection (coarse.py), the per-filter row masks, and the KB's
per-thread connections: faster paths that must give the same answers as the plain ones."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from helpers import snapshot_of

from lawkb.search import open_searcher
from lawkb.search.contract import Filters, Query
from lawkb.search.rank.analyze import analyze
from lawkb.search.rank.filters import resolve_filters
from lawkb.search.rank.searcher import Searcher
from lawkb.search.store.embedded import coarse
from lawkb.search.store.embedded.retrieve import mask

QUESTIONS = ["楼上漏水物业不管怎么办", "邻居装修噪音太大怎么办", "公司拖欠工资不给怎么办", "离婚后孩子的抚养费怎么算",
             "楼上有人往下扔东西砸伤了人", "父母年老子女不赡养怎么办", "物业公司乱收费", "租房押金不退"]


@pytest.fixture(scope="module")
def exact(search_kb):
    kb, encoder = search_kb
    return open_searcher(kb, encoder=encoder)


@pytest.fixture(scope="module")
def projected(search_kb, tmp_path_factory):
    """A searcher that takes the projected first pass even on the small KB."""
    kb, encoder = search_kb
    return Searcher(kb, encoder=encoder, retriever=kb.retriever(coarse_min_rows=0))


def test_projection_is_fitted_and_deterministic(projected):
    snap = snapshot_of(projected)
    assert snap.coarse is not None and snap.coarse.shape == (snap.size, coarse.DIMS)
    again = coarse.fit(snap.dense)
    assert np.array_equal(again, snap.coarse_basis)
    # the basis is orthonormal: projected dot products approximate the full ones
    assert np.allclose(again.T @ again, np.eye(coarse.DIMS), atol=1e-4)


def test_projected_first_pass_finds_what_the_exact_scan_finds(exact, projected):
    for q in QUESTIONS:
        a, b = exact.search(Query(q, k=20)), projected.search(Query(q, k=20))
        assert [h.article_id for h in a.hits] == [h.article_id for h in b.hits], q


def test_few_candidates_still_rank_by_exact_scores(search_kb, exact):
    """With a first pass that keeps fewer rows than asked for, the rows it keeps are ranked by their
    full-vector scores: overlap with the exact list stays high and the order is the exact order."""
    kb, enc = search_kb
    # just depth + margin rows from the projection
    few = Searcher(kb, encoder=enc, retriever=kb.retriever(coarse_min_rows=0, coarse_candidates=0))
    f = resolve_filters(kb, Filters())
    for q in QUESTIONS:
        qv = exact.encoder().encode_query(analyze(q).text)
        full = exact.retriever.for_query(f, enc.model_id).dense(qv, 100)
        fast = few.retriever.for_query(f, enc.model_id).dense(qv, 100)
        assert len(set(full) & set(fast)) >= 80, q
        common = [r for r in fast if r in set(full)]
        assert common == [r for r in full if r in set(fast)], q


def test_same_answer_alone_or_under_concurrent_load(projected):
    alone = {q: [h.article_id for h in projected.search(Query(q, k=30)).hits] for q in QUESTIONS}
    seen: dict[str, list] = {q: [] for q in QUESTIONS}

    def worker(i: int) -> None:
        for q in QUESTIONS[i % 3:] + QUESTIONS[:i % 3]:
            seen[q].append([h.article_id for h in projected.search(Query(q, k=30)).hits])

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for q in QUESTIONS:
        assert len(seen[q]) == 6 and all(ids == alone[q] for ids in seen[q]), q


def test_masks_are_cached_per_filters_and_read_only(exact):
    snap = snapshot_of(exact)
    hangzhou = resolve_filters(exact.kb, Filters(region="杭州"))
    m1 = mask(snap, hangzhou)
    assert mask(snap, resolve_filters(exact.kb, Filters(region="杭州市"))) is m1   # the same place
    assert mask(snap, resolve_filters(exact.kb, Filters())) is not m1
    with pytest.raises(ValueError):
        m1[0] = not m1[0]


def test_each_thread_reads_through_its_own_connection(search_kb):
    kb, _ = search_kb
    ids = [r[0] for r in kb.conn.execute(
        "SELECT article_id FROM units WHERE article_id IS NOT NULL ORDER BY unit_id LIMIT 200")]
    expected = {i: kb.article_by_id(i)["text"] for i in ids}
    conns, errors = set(), []

    def reader() -> None:
        conns.add(id(kb.conn))
        try:
            got = kb.articles_by_ids(ids[::-1])
            assert {i: a["text"] for i, a in got.items()} == expected
            for i in ids[:50]:
                assert kb.article_by_id(i)["text"] == expected[i]
        except AssertionError as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(conns | {id(kb.conn)}) == 5
    assert kb.articles_by_ids([]) == {} and kb.articles_by_ids(["no such id"]) == {}


def test_connections_of_ended_threads_are_closed(search_kb):
    """A thread-per-request server must not leave a connection open per request."""
    kb, _ = search_kb

    def reader() -> None:
        kb.article_by_id("no such id")

    for _ in range(20):
        t = threading.Thread(target=reader)
        t.start()
        t.join()
    kb.article_by_id("no such id")            # this thread: opens nothing new, prunes nothing live
    t = threading.Thread(target=reader)
    t.start()
    t.join()                                  # its connect pruned the 20 ended threads' connections
    assert sum(1 for th, _ in kb._conns if not th.is_alive()) <= 1   # only the last reader's
    assert len(kb._conns) <= len(threading.enumerate()) + 1            # at most one per live thread

"""One contract, two backends: the behaviour every knowledge base and searcher must show, run against
the embedded store and against a real Elasticsearch node, built from the same small real corpus.

The corpus is embedded once per session (the `search_kb` fixture); the Elasticsearch KB ingests the same
files through its own pipeline and takes each article's vector from the embedded KB by key, so only
the changed articles of the re-ingest test are embedded again.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import numpy as np
import pytest
from helpers import snapshot_of

from lawkb.core.errors import NotFound
from lawkb.ingest.pipeline import ingest
from lawkb.search import open_kb, open_searcher
from lawkb.search.contract import Filters, Query
from lawkb.search.lookup import find_law, lookup_article
from lawkb.search.store.protocol import ResolvedFilters

REPO = Path(__file__).resolve().parent.parent

BACKENDS = ["embedded", "es"]


def es_kb(url: str, search_kb=None, *, create: bool = True):
    """A fresh Elasticsearch KB under its own index prefix, with vectors taken from search_kb."""
    kb = open_kb(f"{url}/t{uuid.uuid4().hex[:10]}", create=create)
    if search_kb is not None:
        embedded, encoder = search_kb
        kb.vector_lookup = lambda keys: embedded.vectors_by_key(encoder.model_id, keys)
        kb.model_id = encoder.model_id
        kb.encoder = encoder
    return kb


@pytest.fixture(scope="session")
def es_search_kb(es_url, search_kb, small_corpus):
    kb = es_kb(es_url, search_kb)
    report = ingest(kb, [small_corpus, REPO / "corpus" / "community"])
    assert not report.failed
    yield kb
    kb.cleanup()
    kb.es.indices.delete(index=kb.current_index())
    kb.close()


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request, search_kb):
    """(kb, searcher) for each backend."""
    _, encoder = search_kb
    kb = search_kb[0] if request.param == "embedded" else request.getfixturevalue("es_search_kb")
    return kb, open_searcher(kb, encoder=encoder)


def top(searcher, text, k=10, **filters):
    return searcher.search(Query(text, k=k, filters=Filters(**filters)))


def test_same_articles_in_both_backends(search_kb, es_search_kb):
    a, b = search_kb[0].stats(), es_search_kb.stats()
    for key in ("documents", "laws", "versions", "articles", "units", "by_level", "by_status", "by_region",
                "duplicate_documents", "laws_with_gaps"):
        assert a[key] == b[key], key


def test_hybrid_and_explained(backend):
    _, s = backend
    result = top(s, "邻居的狗咬人")
    assert result.mode == "hybrid" and result.hits
    h = result.hits[0]
    assert h.why.retrievers and h.why.semantic_similarity is not None and h.status == "现行有效"


@pytest.mark.parametrize("text", ["民法典第1032条", "《中华人民共和国民法典》第一千零三十二条", "我想问民法典第1032条是什么意思"])
def test_citation_goes_first(backend, text):
    _, s = backend
    h = top(s, text).hits[0]
    assert (h.law_title, h.article_no) == ("中华人民共和国民法典", "第一千零三十二条") and h.why.citation


def test_show_and_lookup(backend):
    kb, _ = backend
    art = lookup_article(kb, "民法典 第1032条")
    assert art["text"].startswith("自然人享有隐私权") and art["path"][0] == "人格权编"
    assert art["source"].endswith("人格权编.md") and art["line_start"] and art["status"] == "现行有效"
    assert lookup_article(kb, "刑法第二百六十条之一")["article_no"] == "第二百六十条之一"
    with pytest.raises(NotFound):
        lookup_article(kb, "民法典 第1300条")
    with pytest.raises(NotFound):
        lookup_article(kb, "不存在的法 第1条")


def test_as_of(backend):
    kb, s = backend
    now = top(s, "起诉的条件", law="民事诉讼法")
    then = top(s, "起诉的条件", law="民事诉讼法", as_of="2022-06-01")
    assert now.hits and {h.version_date for h in now.hits} == {"2023-09-01"}
    assert then.hits and {h.version_date for h in then.hits} == {"2021-12-24"}
    assert all(h.status == "已修改" for h in then.hits)
    old = lookup_article(kb, "民事诉讼法 第一条", as_of="2022-06-01")
    assert old["version_date"] == "2021-12-24"


def test_status_filters(backend):
    _, s = backend
    result = top(s, "环境噪声污染防治", k=50)
    assert all(h.status == "现行有效" for h in result.hits)
    assert "中华人民共和国环境噪声污染防治法" not in {h.law_title for h in result.hits}
    repealed = top(s, "环境噪声污染防治", k=50, status=("已废止",))
    assert {h.law_title for h in repealed.hits} == {"中华人民共和国环境噪声污染防治法"}
    before = top(s, "环境噪声污染防治", k=50, as_of="2020-01-01")
    assert "中华人民共和国环境噪声污染防治法" in {h.law_title for h in before.hits}


def test_region_and_level_filters(backend):
    _, s = backend
    assert all(h.region is None for h in top(s, "物业管理条例 业主大会", k=30).hits)
    assert any(h.region == "北京" for h in top(s, "物业管理 业主大会", k=30, region="北京").hits)
    assert any(h.law_title.startswith("杭州市") for h in top(s, "燃气管理", k=30, region="杭州").hits)
    assert not any(h.law_title.startswith("杭州市") for h in top(s, "燃气管理", k=30, region="宁波").hits)
    assert not any(h.region == "北京" for h in top(s, "燃气管理", k=30, region="浙江").hits)
    result = top(s, "物业服务", k=20, level=("行政法规",))
    assert result.hits and {h.level for h in result.hits} == {"行政法规"}
    cases = top(s, "劳动合同 解除", k=20, level=("案例",))
    assert cases.hits and {h.level for h in cases.hits} == {"案例"}


def test_paging_and_one_hit_per_article(backend):
    _, s = backend
    first = top(s, "劳动合同解除", k=5)
    second = s.search(Query("劳动合同解除", k=5, offset=5))
    both = s.search(Query("劳动合同解除", k=10))
    assert [h.article_id for h in first.hits + second.hits] == [h.article_id for h in both.hits]
    ids = [h.article_id for h in top(s, "物业服务合同", k=50).hits]
    assert len(ids) == len(set(ids))


def test_highlight_cannot_inject_html(backend):
    _, s = backend
    result = top(s, "<script>alert(1)</script> 物业 <img src=x onerror=alert(1)>")
    assert result.hits
    for h in result.hits:
        assert "<script" not in h.snippet_html and "<img" not in h.snippet_html
        assert h.snippet_html.replace("<mark>", "").replace("</mark>", "").count("<") == 0


def test_laws_listing_and_names(backend):
    kb, _ = backend
    beijing = kb.laws(region="北京")
    assert beijing and all(law["region_province"] == "北京" for law in beijing)
    assert {law["level"] for law in kb.laws(level="行政法规")} == {"行政法规"}
    assert all(law["status"] == "已废止" for law in kb.laws(status="已废止"))
    assert any("物业" in law["title"] for law in kb.laws(q="物业"))
    civil = find_law(kb, "民法典")
    assert civil["title"] == "中华人民共和国民法典"
    version = kb.law(civil["law_id"])["versions"][-1]
    arts = [a for a in kb.articles(version["version_id"]) if a["kind"] == "article"]
    assert [a["number"] for a in arts] == list(range(1, 1261))


def test_backends_agree_on_top_hits(search_kb, es_search_kb):
    """Same data, same fusion: the two backends' first hits mostly coincide (BM25 and HNSW differ
    slightly from BM25F and exact dot products, so not exactly)."""
    _, encoder = search_kb
    searchers = []
    for kb in (search_kb[0], es_search_kb):
        searchers.append(open_searcher(kb, encoder=encoder))
    overlap = []
    for q in ["楼上漏水物业不管怎么办", "公司拖欠工资不给怎么办", "邻居家的狗把我咬伤了谁负责", "离婚后孩子的抚养费怎么算"]:
        a, b = ({h.article_id for h in s.search(Query(q, k=10)).hits} for s in searchers)
        overlap.append(len(a & b) / 10)
    assert sum(overlap) / len(overlap) >= 0.6, overlap


@pytest.fixture(params=BACKENDS)
def fresh_kb(request, tmp_path):
    if request.param == "embedded":
        kb = open_kb(str(tmp_path / "kb"), create=True)
        yield kb
        kb.close()
        return
    kb = es_kb(request.getfixturevalue("es_url"))
    kb.encoder_provider = None   # this test is about documents and articles, not vectors
    yield kb
    for g in kb.generations():
        kb.es.indices.delete(index=g["index"])
    kb.close()


def test_incremental_reingest_and_remove(small_corpus, tmp_path, fresh_kb):
    kb = fresh_kb
    corpus = tmp_path / "corpus"
    shutil.copytree(small_corpus / "DLC", corpus / "DLC")
    shutil.copytree(small_corpus / "宪法", corpus / "宪法")
    first = ingest(kb, [corpus])
    assert first.added == 3 and not first.failed
    again = ingest(kb, [corpus])
    assert again.unchanged == 3 and again.added == again.replaced == 0
    # change one file: only it is replaced, and its articles change
    target = next(corpus.rglob("北京市物业管理条例*.md"))
    target.write_text(target.read_text(encoding="utf-8").replace("第一条 ", "第一条 【改】", 1), encoding="utf-8")
    changed = ingest(kb, [corpus])
    assert changed.replaced == 1 and changed.unchanged == 2
    assert lookup_article(kb, "北京市物业管理条例 第一条")["text"].startswith("【改】")
    # a file deleted from an ingested directory is pruned
    target.unlink()
    pruned = ingest(kb, [corpus])
    assert pruned.removed == 1
    with pytest.raises(NotFound):
        find_law(kb, "北京市物业管理条例")
    assert kb.stats()["articles"] == pruned.total_articles < first.total_articles
    # duplicate content under another name is skipped, with the reason
    shutil.copy2(next(corpus.rglob("杭州市*.md")), corpus / "copy.md")
    dup = ingest(kb, [corpus])
    assert any("duplicate of" in reason for _, reason in dup.skipped)
    before = kb.stats()["documents"]
    with kb.batch() as batch:
        for source in kb.sources_matching("中华人民共和国宪法"):
            batch.remove(source)
    assert kb.stats()["documents"] == before - 1


def test_failed_batch_changes_nothing(small_corpus, tmp_path, fresh_kb):
    kb = fresh_kb
    corpus = tmp_path / "corpus"
    shutil.copytree(small_corpus / "宪法", corpus / "宪法")
    ingest(kb, [corpus])
    before = kb.stats()
    with pytest.raises(RuntimeError), kb.batch() as batch:
        for source in kb.sources_matching("中华人民共和国宪法"):
            batch.remove(source)
        raise RuntimeError("interrupted")
    assert kb.stats() == before
    # what the interrupted batch removed is still there
    assert lookup_article(kb, "宪法第一条")["law_title"] == "中华人民共和国宪法"


def test_feedback_changes_the_lexical_list_only(backend):
    """Pseudo-relevance feedback (feedback.py) re-ranks the lexical list below the first page; the dense
    list stands, and the hits still explain themselves with the question's own words."""
    from lawkb.search.rank.analyze import analyze

    kb, searcher = backend
    question = "房东不退押金怎么办"
    on = open_searcher(kb, encoder=searcher.encoder(), profile=searcher.profile().with_(feedback=True))
    off = open_searcher(kb, encoder=searcher.encoder(), profile=searcher.profile().with_(feedback=False))
    a = on.search(Query(question, k=100))
    again = on.search(Query(question, k=100))
    b = off.search(Query(question, k=100))
    assert a.mode == b.mode == "hybrid"
    assert [h.article_id for h in again.hits] == [h.article_id for h in a.hits]
    # the first page is the first ranking's; feedback orders what comes after it
    assert [h.article_id for h in a.hits[:10]] == [h.article_id for h in b.hits[:10]]
    assert [h.article_id for h in a.hits] != [h.article_id for h in b.hits]
    assert all(x.score >= y.score for x, y in zip(a.hits, a.hits[1:], strict=False))
    dense_a = {h.article_id: h.why.retrievers.get("dense") for h in a.hits}
    dense_b = {h.article_id: h.why.retrievers.get("dense") for h in b.hits}
    assert all(dense_a[x] == dense_b[x] for x in dense_a.keys() & dense_b.keys())
    lex_a = {h.article_id: h.why.retrievers.get("lexical") for h in a.hits}
    lex_b = {h.article_id: h.why.retrievers.get("lexical") for h in b.hits}
    assert lex_a != lex_b
    asked = set(analyze(question).terms)
    assert all(set(h.why.matched_terms) <= asked for h in a.hits)


def test_feedback_reads_the_same_words_in_both_backends(search_kb, es_search_kb):
    from lawkb.search.store.embedded.lexical import idf_known

    kb = search_kb[0]
    es = open_searcher(es_search_kb)
    emb = open_searcher(kb)
    snap = snapshot_of(emb)
    rows = {aid: i for i, aid in enumerate(snap.article_ids)}
    ids = [h.article_id for h in emb.search(Query("房东不退押金怎么办", k=20)).hits]
    words, idf = es.retriever.for_query(ResolvedFilters(), None).feedback_words(ids)
    units = [int(snap.unit_ids[rows[i]]) for i in ids]
    mine = kb.unit_terms(units)
    assert [set(w) for w in words] == [set(mine[u]) for u in units]
    # idf from each index's own statistics: Elasticsearch's over the article text field, the embedded
    # index's over text, title and headings together. Values differ; the order of rarity must agree.
    some = sorted({t for w in words for t in w})
    es_idf = np.array([idf(t) for t in some])
    my_idf = np.array([idf_known(snap.lexical, t) for t in some])
    assert (es_idf > 0).all() and (my_idf > 0).all()
    rank = lambda x: np.argsort(np.argsort(x))  # noqa: E731
    assert np.corrcoef(rank(es_idf), rank(my_idf))[0, 1] > 0.8

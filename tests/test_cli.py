"""The `lawkb` command end to end, through click's runner, on a real small corpus."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from lawkb.cli import main


@pytest.fixture(scope="module")
def kb_dir(small_corpus, tmp_path_factory):
    path = tmp_path_factory.mktemp("clikb")
    result = CliRunner().invoke(main, ["ingest", str(small_corpus), "--kb", str(path), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["added"] >= 20 and report["failed"] == []
    return path


def run(*args, kb=None):
    argv = list(args) + (["--kb", str(kb)] if kb else [])
    result = CliRunner().invoke(main, argv)
    return result


def test_show_json_keys(kb_dir):
    result = run("show", "民法典", "第1032条", "--json", kb=kb_dir)
    assert result.exit_code == 0, result.output
    art = json.loads(result.output)
    assert art["law_title"] == "中华人民共和国民法典" and art["article_no"] == "第一千零三十二条"
    assert art["text"].startswith("自然人享有隐私权") and art["status"] == "现行有效"


def test_show_text(kb_dir):
    result = run("show", "刑法第二百六十二条之一", kb=kb_dir)
    assert result.exit_code == 0, result.output
    assert "《中华人民共和国刑法》第二百六十二条之一" in result.output
    assert "来源:" in result.output and "刑法.md line" in result.output


def test_show_reads_kb_from_environment(kb_dir, monkeypatch):
    monkeypatch.setenv("LAWKB_KB", str(kb_dir))
    result = CliRunner().invoke(main, ["show", "民法典", "1032"])
    assert result.exit_code == 0 and "第一千零三十二条" in result.output


def test_show_errors_are_messages_not_tracebacks(kb_dir, tmp_path):
    result = run("show", "民法典", "第9999条", kb=kb_dir)
    assert result.exit_code == 1 and "没有第9999条" in result.output and "Traceback" not in result.output
    result = run("stats", kb=tmp_path / "nothing-here")
    assert result.exit_code == 1 and "no knowledge base" in result.output


def test_laws_and_stats_json(kb_dir):
    laws = json.loads(run("laws", "--region", "北京", "--json", kb=kb_dir).output)
    assert laws and all(law["region_province"] == "北京" and "law_title" in law for law in laws)
    stats = json.loads(run("stats", "--json", kb=kb_dir).output)
    assert stats["articles"] > 3000 and stats["backend"] == "embedded"


def test_remove_by_title(kb_dir, tmp_path):
    import shutil

    copy = tmp_path / "kb"
    shutil.copytree(kb_dir, copy)
    result = run("remove", "长江保护法", "--json", kb=copy)
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.output)["removed"]) == 1
    assert run("show", "长江保护法", "第一条", kb=copy).exit_code == 1


def test_settings_lists_every_setting():
    result = CliRunner().invoke(main, ["settings", "--json"])
    names = {s["name"] for s in json.loads(result.output)}
    assert {"kb", "model", "max_file_mb", "shared", "today"} <= names

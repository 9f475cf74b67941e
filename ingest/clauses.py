"""Clauses of a convention or rules numbered 一、 / （一） / 1. / １． / （1） instead of 第X条.

Community self-governance texts (村规民约, 居民公约, 管理规约, 业主大会议事规则) are often drafted as a
numbered list rather than in articles. Each top-level numbered paragraph is a clause: it becomes an article
unit, with the document's own label as printed ("1.", "一、", "（一）", "１．") as its number_text and the
label's value as its number. The label is never rewritten into 第X条, which the text does not say.

Which numbering is the clause level is read from the document: the first kind of number used, unless every
one of those is a short caption ("一、社会治安") and another kind of number follows them; then those are
headings and the other kind numbers the clauses (often restarting at 1 under each heading). A number out
of sequence (a list inside a clause using the same style) stays text of the clause it is in.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from lawkb.core.numerals import cn_to_int

from .blocks import Block

_CN = "〇零一二三四五六七八九十百"
# Matched on the NFKC form of a block's start, so （一） is (一) and １． is 1.
_SCHEMES: list[tuple[str, re.Pattern[str]]] = [
    ("一、", re.compile(rf"^([{_CN}]+)[\s]*、")),
    ("（一）", re.compile(rf"^\(\s*([{_CN}]+)\s*\)")),
    ("1.", re.compile(r"^(\d{1,3})\s*[.、](?![\d.])")),
    ("（1）", re.compile(r"^\(\s*(\d{1,3})\s*\)")),
]
_SENTENCE = re.compile(r"[。；;：:！？!?，,]")
_WS = re.compile(r"[\s\u3000]+")


@dataclass(frozen=True)
class Clause:
    number: int
    label: str  # as printed, without spaces: 1.  一、  （一）  １．
    rest: str   # the text after the label, exactly as printed


@dataclass(frozen=True)
class Heading:
    name: str  # "一、社会治安"


def _mark(block: Block) -> tuple[str, int, str, str] | None:
    """(scheme, number, label, rest) when the block starts with a list number."""
    if block.style in ("table", "title", "heading", "history"):
        return None
    raw = block.text.lstrip()
    head = unicodedata.normalize("NFKC", raw[:16])
    for scheme, pattern in _SCHEMES:
        m = pattern.match(head)
        if not m:
            continue
        number = cn_to_int(m.group(1))  # 一 or 1 alike
        if not number:
            return None
        # Where the label ends in the raw text (full-width forms are one character each, like NFKC's).
        cut = next(k for k in range(1, len(raw) + 1) if len(unicodedata.normalize("NFKC", raw[:k])) >= m.end())
        return scheme, number, _WS.sub("", raw[:cut]), raw[cut:].lstrip(" \u3000\t")
    return None


def _is_caption(rest: str) -> bool:
    """A heading's words ("社会治安"), not a clause's sentence."""
    text = _WS.sub("", rest)
    return 0 < len(text) <= 20 and not _SENTENCE.search(text)


def plan_clauses(blocks: list[Block]) -> dict[int, Clause | Heading]:
    """For the body of a document without 第X条: which blocks start a clause and which are numbered
    headings, by index. Empty when the body is not a numbered list of at least two clauses."""
    marks = {i: m for i, b in enumerate(blocks) if (m := _mark(b)) is not None}
    if not marks:
        return {}
    order = list(marks.items())
    first_scheme = order[0][1][0]
    top = [i for i, m in order if m[0] == first_scheme]
    inner = next((m[0] for i, m in order if i > top[0] and m[0] != first_scheme), None)
    headings: set[int] = set()
    clause_scheme = first_scheme
    if inner is not None and all(_is_caption(marks[i][3]) for i in top):
        headings, clause_scheme = set(top), inner
    plan: dict[int, Clause | Heading] = {}
    last = 0
    restart = False  # a heading came since the last clause: numbering may start again at 1
    for i, (scheme, number, label, rest) in order:
        if i in headings:
            plan[i] = Heading(label + _WS.sub("", rest))
            restart = True
        elif scheme == clause_scheme and (number == last + 1 or (number == 1 and restart)):
            plan[i] = Clause(number, label, rest)
            last, restart = number, False
    if sum(isinstance(v, Clause) for v in plan.values()) < 2:
        return {}
    return plan

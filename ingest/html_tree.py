"""Facts about a parsed HTML tree that the reader asks of many elements (the CJK count of an element's
text, whether it sits under a link, which tables hold data), each computed for all elements in one
pass. Asked element by element they cost the size of a subtree or the depth of the tree each time,
which on a page of 50,000 nested elements is quadratic: hours instead of a second.

Maps are keyed by id() of the element; the tree must stay alive (and unchanged, where said) while one
is used.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from bs4 import CData, NavigableString, Tag

# CJK ideographs, as html_reader counts them.
CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
# Block-ish elements whose count in a table cell tells a layout table from a data table.
PARAGRAPHS = ["p", "div", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre"]

# The strings Tag.get_text() joins for an ordinary element (not those of <script>, <rt> and the like).
_TEXT_TYPES = (NavigableString, CData)


def gone(tag: Tag) -> bool:
    """tag.decomposed without its cost: on a live tag bs4 looks the attribute up as a child element
    named `_decomposed`, searching the whole subtree."""
    return bool(vars(tag).get("_decomposed", False))


def tags(root: Tag) -> list[Tag]:
    """root and every element under it, in document order (parents before children)."""
    return [root, *(node for node in root.descendants if isinstance(node, Tag))]


def below(root: Tag, test: Callable[[Tag], bool]) -> dict[int, bool]:
    """For every element under root (by id): whether one of its ancestors passes test."""
    flags = {id(root): False}
    for tag in tags(root)[1:]:
        parent = tag.parent
        flags[id(tag)] = flags[id(parent)] or bool(test(parent))
    return flags


def cjk_below(root: Tag) -> dict[int, int]:
    """CJK characters in each element's get_text(), for all elements under root in one pass."""
    counts: dict[int, int] = {}
    tags = []
    for node in root.descendants:
        if isinstance(node, Tag):
            tags.append(node)
        elif type(node) in _TEXT_TYPES and (n := len(CJK.findall(node))):
            counts[id(node.parent)] = counts.get(id(node.parent), 0) + n
    for tag in reversed(tags):  # children before parents
        if n := counts.get(id(tag), 0):
            counts[id(tag.parent)] = counts.get(id(tag.parent), 0) + n
    return counts


def cjk_in(tag: Tag, counts: dict[int, int]) -> int:
    if tag.interesting_string_types != set(_TEXT_TYPES):  # <rt>, <rp>: get_text() reads other strings
        return len(CJK.findall(tag.get_text()))
    return counts.get(id(tag), 0)


_SPACES = re.compile(r"[\s\u3000\xa0]")


def short_texts(root: Tag, limit: int) -> dict[int, str | None]:
    """Each element's get_text() without whitespace when that is at most limit characters, else None;
    all elements under root in one pass (a label cell holds a few characters, so longer text is moot)."""
    out: dict[int, str | None] = {}
    for tag in reversed(tags(root)):  # children before parents
        parts: list[str] = []
        size = 0
        for child in tag.contents:
            if isinstance(child, Tag):
                text = out[id(child)]
            elif type(child) in _TEXT_TYPES:
                text = _SPACES.sub("", child)
            else:
                continue
            if text is None or (size := size + len(text)) > limit:
                parts = None
                break
            parts.append(text)
        out[id(tag)] = "".join(parts) if parts is not None else None
    return out


def data_tables(root: Tag) -> dict[int, bool]:
    """For every table under root (by id): a table of data (one Block per row), not a layout table
    wrapping body text (walked as flow). Word-pasted data tables have a <p> or two per cell; layout
    tables nest tables or hold whole bodies. All tables in one pass, children before parents."""
    has_table: dict[int, bool] = {}
    paragraphs: dict[int, int] = {}
    bad_cell: dict[int, bool] = {}  # a cell below that nests a table or holds more than 3 paragraphs
    out: dict[int, bool] = {}
    for tag in reversed(tags(root)):
        table, paras, bad = False, 0, False
        for child in tag.contents:
            if isinstance(child, Tag):
                key = id(child)
                table = table or child.name == "table" or has_table[key]
                paras += (child.name in PARAGRAPHS) + paragraphs[key]
                bad = bad or bad_cell[key] or (
                    child.name in ("td", "th") and (has_table[key] or paragraphs[key] > 3))
        has_table[id(tag)], paragraphs[id(tag)], bad_cell[id(tag)] = table, paras, bad
        if tag.name == "table":
            out[id(tag)] = not bad
    return out

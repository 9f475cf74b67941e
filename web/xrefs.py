"""Cross-references inside legal text: '依照本法第六十九条', '第三十七条之一', '《中华人民共和国民法典》
第一千零三十二条', '第十条、第十一条', '第二十条至第二十二条'.

A 第N条 belongs to the law named just before it by 《…》 when only list words (、和及或至) and 款/项
labels stand between; otherwise it refers to the text's own law (本法, 本条例 … or no name at all).
Linking escapes every piece of the text on its own, so the result is safe to put in a page.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from markupsafe import Markup, escape

from lawkb.core.refs import ITEM, NUMERAL, PARAGRAPH, article_pattern, parse_article

# Only 第N条 links: a bare 1032条 in a statute is not a cross-reference.
_ARTICLE = article_pattern(bare=False)
_TOKEN = re.compile(rf"《(?P<title>[^《》\n]{{1,80}})》|(?P<art>{_ARTICLE})")
# What may stand between a named law and the 第N条 that still belong to it.
_CONTINUES = re.compile(rf"^(?:[\s、，,和及与或至到以]|以及|{PARAGRAPH}|{ITEM}|[（(]{NUMERAL}[）)])*$")


@dataclass(frozen=True)
class Ref:
    start: int
    end: int
    law: str | None      # the title as written in 《》, or None for the text's own law
    number: int | None   # None: the law itself is named without an article
    sub: int = 0


def find_refs(text: str) -> list[Ref]:
    refs: list[Ref] = []
    law: str | None = None
    last_end = 0
    for m in _TOKEN.finditer(text):
        if m.group("title"):
            law = m.group("title").strip()
            refs.append(Ref(m.start(), m.end(), law, None))
            last_end = m.end()
            continue
        if law is not None and not _CONTINUES.match(text[last_end:m.start()]):
            law = None
        parsed = parse_article(m.group("art"), bare=False)
        if parsed is None:
            continue
        refs.append(Ref(m.start(), m.end(), law, *parsed))
        last_end = m.end()
    return refs


def link(text: str, resolve: Callable[[Ref], str | None]) -> Markup:
    """Escaped text with <a> around each reference resolve() gives a URL for."""
    out: list[str] = []
    pos = 0
    for ref in find_refs(text):
        url = resolve(ref)
        if not url:
            continue
        out.append(str(escape(text[pos:ref.start])))
        out.append(f'<a class="xref" href="{escape(url)}">{escape(text[ref.start:ref.end])}</a>')
        pos = ref.end
    out.append(str(escape(text[pos:])))
    return Markup("".join(out))

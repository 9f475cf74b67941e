"""Highlighted snippets that are safe to put in a page: matches are found in the raw text and every
piece, matched or not, is escaped on its own, so nothing from a document or a query can become markup
(and no term can match inside an entity such as &amp;lt;)."""

from __future__ import annotations

import html
import re


def compile_terms(terms: list[str]) -> re.Pattern | None:
    """One pattern for a query's terms (longest first), to reuse across its hits."""
    terms = sorted({t for t in terms if t and t.strip()}, key=len, reverse=True)
    return re.compile("|".join(re.escape(t) for t in terms)) if terms else None


def highlight(text: str, terms: list[str], *, max_chars: int = 240, pattern: re.Pattern | None = None) -> str:
    """Escaped text (cut around the first match when long) with <mark>…</mark> around terms.
    With pattern (from compile_terms), it marks the pattern's matches instead of compiling one."""
    terms = sorted({t for t in terms if t and t.strip()}, key=len, reverse=True)
    window = text
    if len(text) > max_chars:
        first = min((i for i in (text.find(t) for t in terms) if i >= 0), default=0)
        start = max(0, min(first - max_chars // 4, len(text) - max_chars))
        window = ("…" if start else "") + text[start:start + max_chars] + ("…" if start + max_chars < len(text) else "")
    if not terms:
        return html.escape(window, quote=True)
    pattern = pattern or compile_terms(terms)
    out, pos = [], 0
    for m in pattern.finditer(window):
        out.append(html.escape(window[pos:m.start()], quote=True))
        out.append(f"<mark>{html.escape(m.group(0), quote=True)}</mark>")
        pos = m.end()
    out.append(html.escape(window[pos:], quote=True))
    return "".join(out)

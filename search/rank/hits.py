"""One hit of the search contract built from an article record, the same way on every backend."""

from __future__ import annotations

import re

from lawkb.search.contract import Hit, Why
from lawkb.search.rank.snippets import highlight


def hit_from_article(article_id: str, art: dict, *, terms, score: float, similarity: float | None,
                     retrievers: dict[str, int], citation: bool, marker: re.Pattern | None) -> Hit:
    """art: an article dict as KnowledgeBase.article_by_id gives it; terms: the query's terms, of which
    those in the article's text or law title are reported (and highlighted) as matched."""
    matched = [t for t in terms if t in art["text"] or t in art["law_title"]]
    return Hit(
        article_id=article_id, law_id=art["law_id"], law_title=art["law_title"],
        article_no=art["article_no"], text=art["text"], score=round(float(score), 6),
        level=art["level"], status=art["status"], region=art["region"], path=art["path"],
        version_date=art["version_date"], effective=art["effective"],
        snippet_html=highlight(art["text"], matched, pattern=marker),
        why=Why(matched_terms=matched, retrievers=retrievers, citation=citation,
                semantic_similarity=None if similarity is None else round(similarity, 4)),
        source=art["source"],
    )

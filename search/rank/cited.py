"""What a query names, looked up in the knowledge base through the backend-independent protocol: the
articles it cites (pinned first by every backend) and the law a `law` filter names."""

from __future__ import annotations

from lawkb.core.errors import KBError, NotFound, QueryError
from lawkb.core.refs import ArticleRef
from lawkb.search.lookup import Repealed, article_for_ref, find_law
from lawkb.search.rank.analyze import Analysis
from lawkb.search.store.protocol import KnowledgeBase


def cited_articles(kb: KnowledgeBase, a: Analysis, as_of: str | None = None,
                   notes: list[str] | None = None) -> list[dict]:
    """The articles the query cites, in order, each once (versions in force on as_of when given). A cited
    law the KB knows only as repealed is never answered with another law's article: its repeal goes into
    notes instead."""
    out: list[dict] = []
    for ref in a.citations:
        art = None
        # The name may carry words before it (我想问民法典第1032条): drop them one at a time.
        for i in range(max(1, len(ref.law) - 1)):
            try:
                art = article_for_ref(kb, ArticleRef(ref.law[i:], ref.number, ref.sub), as_of=as_of)
                break
            except Repealed as exc:
                if notes is not None and str(exc) not in notes:
                    notes.append(str(exc))
                break
            except (NotFound, KBError):
                continue
        if art is not None and art["article_id"] not in {x["article_id"] for x in out}:
            out.append(art)
    return out


def law_ids(kb: KnowledgeBase, name: str) -> set[str]:
    """The law a `law` filter names, or a QueryError saying there is none."""
    try:
        law = find_law(kb, name)
    except NotFound:
        raise QueryError(f"知识库中没有名为“{name}”的法律") from None
    return {law["law_id"]}

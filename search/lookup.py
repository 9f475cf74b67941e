"""Find a law by the name a person types, and an article by a typed reference."""

from __future__ import annotations

from lawkb.core.errors import KBError, NotFound
from lawkb.core.model import LEVELS, STATUS_IN_FORCE
from lawkb.core.refs import ArticleRef, parse_ref
from lawkb.core.versions import iso_day
from lawkb.search.store.protocol import KnowledgeBase


def _rank(law: dict) -> tuple:
    level = LEVELS.index(law["level"]) if law.get("level") in LEVELS else len(LEVELS)
    return (law["status"] != STATUS_IN_FORCE, law.get("region_province") is not None, level, len(law["title"]),
            law["title"])


def find_law(kb: KnowledgeBase, name: str) -> dict:
    """The law a name means: exact title, short title or alias first, then a unique title containing it;
    among equals, in-force national law of the highest level."""
    name = name.strip()
    if not name:
        raise KBError("no law named")
    exact = kb.find_laws(name)
    if exact:
        return min(exact, key=_rank)
    partial = kb.laws(q=name)
    if not partial:
        raise NotFound(f"no law named {name!r} in the knowledge base")
    return min(partial, key=_rank)


def lookup_article(kb: KnowledgeBase, text: str, *, as_of: str | None = None) -> dict:
    ref = parse_ref(text)
    if ref is None:
        raise KBError(f"not an article reference: {text!r} (try 民法典 第1032条, 刑法第二百六十四条之一)")
    return article_for_ref(kb, ref, as_of=as_of)


def article_for_ref(kb: KnowledgeBase, ref: ArticleRef, *, as_of: str | None = None) -> dict:
    if not ref.law:
        raise KBError("name the law as well as the article, e.g. 民法典 第1032条")
    if as_of is not None:
        try:
            as_of = iso_day(as_of)
        except ValueError as exc:
            raise KBError(f"as_of: {exc}") from None
    law = find_law(kb, ref.law)
    art = kb.article(law["law_id"], ref.number, ref.sub, as_of=as_of)
    if art is None:
        when = f" on {as_of}" if as_of else ""
        raise NotFound(f"{law['title']} has no article {ref.number}{'之' + str(ref.sub) if ref.sub else ''}"
                       f" in the version in force{when}")
    return art


def citation(article: dict) -> str:
    """The standard form: 《中华人民共和国民法典》第一千零三十二条."""
    return f"《{article['law_title']}》{article['article_no'] or ''}"

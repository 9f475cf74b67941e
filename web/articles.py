"""What the article page shows beyond the text: neighbours, the other versions of the article and what
changed between them, links for the references in its text, and the articles that cite it."""

from __future__ import annotations

import difflib

from flask import url_for
from markupsafe import Markup, escape

from lawkb.core.errors import KBError
from lawkb.core.lineage import CHANGED, RENUMBERED_CHANGED
from lawkb.core.model import LEVELS, law_key
from lawkb.search.contract import Filters, Query
from lawkb.search.history import Lineage
from lawkb.search.lookup import citation, find_law
from lawkb.tools.amendments import later_amendment_note
from lawkb.tools.repeals import repeal_info

from .resources import Resources
from .xrefs import Ref, find_refs, link


def diff_html(old: str, new: str) -> Markup:
    """The new text with deletions and insertions marked, every piece escaped."""
    out = []
    sm = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for op, a0, a1, b0, b1 in sm.get_opcodes():
        if op == "equal":
            out.append(str(escape(new[b0:b1])))
            continue
        if a1 > a0:
            out.append(f"<del>{escape(old[a0:a1])}</del>")
        if b1 > b0:
            out.append(f"<ins>{escape(new[b0:b1])}</ins>")
    return Markup("".join(out))


def versions_of(r: Resources, art: dict, law: dict) -> list[dict]:
    """Every version of the law with this article's counterpart in it, followed by its words (a renumbered
    article is found under its new number; an unrelated article under the same number is not), and how
    it came from the version before."""
    return Lineage(r.kb, law).history(art)


class Linker:
    """Turns references in one article's text into URLs: same-law ones within the same version,
    others to the named law's version in force."""

    def __init__(self, r: Resources, art: dict, index: dict) -> None:
        self.r, self.art, self.index = r, art, index

    def __call__(self, ref: Ref) -> str | None:
        if ref.law is None:
            target = self.index["by_number"].get((ref.number, ref.sub))
            return url_for("laws.article", article_id=target) if target else None
        law = self.r.cached_law(ref.law, lambda: find_law(self.r.kb, ref.law))
        if law is None:
            return None
        if ref.number is None:
            return url_for("laws.law", law_id=law["law_id"])
        if law["law_id"] == self.art["law_id"]:
            target = self.index["by_number"].get((ref.number, ref.sub))
            return url_for("laws.article", article_id=target) if target else None
        try:
            target = self.r.kb.article(law["law_id"], ref.number, ref.sub)
        except KBError:
            return None
        return url_for("laws.article", article_id=target["article_id"]) if target else None


def article_view(r: Resources, art: dict) -> dict:
    law = r.kb.law(art["law_id"]) or {"law_id": art["law_id"], "title": art["law_title"], "versions": []}
    index = r.version_index(art["version_id"])
    pos = index["pos"].get(art["article_id"])
    order = index["order"]
    prev_a = order[pos - 1] if pos else None
    next_a = order[pos + 1] if pos is not None and pos + 1 < len(order) else None
    linker = Linker(r, art, index)
    paragraphs = [{"text": link(p["text"], linker), "items": [link(i, linker) for i in p.get("items", [])]}
                  for p in art["paragraphs"]] or [{"text": link(art["text"], linker), "items": []}]
    cited = [order[index["pos"][a]] for a in index["cited_by"].get((art.get("number"), art.get("sub")), [])
             if a in index["pos"]]
    versions = versions_of(r, art, law)
    mine = next((v for v in versions if v["current"]), None)
    change = None
    if mine and mine["prev_text"] is not None and mine["change"] in (CHANGED, RENUMBERED_CHANGED):
        change = diff_html(mine["prev_text"], art["text"])
    version = next((v for v in law.get("versions", []) if v["version_id"] == art["version_id"]), None)
    in_force = None
    if art["version_id"] != law.get("current_version"):
        in_force = next((v["article"] for v in versions
                         if v["version"]["version_id"] == law.get("current_version") and v["article"]), None)
    return {"art": art, "law": law, "version": version, "citation": citation(art), "paragraphs": paragraphs,
            "prev": prev_a, "next": next_a, "cited_by": cited, "versions": versions, "change": change,
            "in_force": in_force, "repeal": repeal_info(r.kb, law, art),
            "amendment_note": later_amendment_note(r.kb, art, version)}


def cited_elsewhere(r: Resources, art: dict, law: dict, *, depth: int = 400) -> list:
    """Articles of other laws (and cases) whose text cites this article by the law's name.

    Search finds candidates (the citation as the question, every level, no region); each is kept only
    if a reference in its text names this law and this number, so what is listed really cites it.
    Depth bounds the cost, so a much-cited article may have more citers than are listed. It is both
    retrievers' lists together (200 each): a citing text is found by its words, and with the dense list
    weighted up, a lexical-only candidate can rank below the 200th place of the fused list."""
    if art.get("number") is None:
        return []
    names = {law_key(law["title"]), law_key(law.get("short_title") or law["title"]),
             *(law_key(a) for a in law.get("aliases", []))}
    query = Query(f"《{law['title']}》{art['article_no']}", k=depth, filters=Filters(level=tuple(LEVELS)))
    out = []
    for hit in r.searcher.search(query).hits:
        if hit.law_id == art["law_id"]:
            continue
        if any(ref.law and ref.number == art["number"] and ref.sub == art["sub"] and law_key(ref.law) in names
               for ref in find_refs(hit.text)):
            out.append(hit)
    return out



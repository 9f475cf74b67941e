"""An article through every version of its law, followed by content (lawkb.core.lineage), not by number:
what it was numbered in each version, whether it changed, and where it was added or deleted."""

from __future__ import annotations

from lawkb.core.lineage import ADDED, DELETED, Link, match
from lawkb.core.model import KIND_ARTICLE
from lawkb.search.store.protocol import KnowledgeBase

FIRST = "最早收录的版本"
ABSENT = "该版本无此条"


class Lineage:
    """Version-to-version links of one law's articles, computed once per pair of versions."""

    def __init__(self, kb: KnowledgeBase, law: dict) -> None:
        self.kb = kb
        self.versions = law.get("versions", [])
        self._articles: dict[str, list[dict]] = {}
        self._links: dict[int, list[Link]] = {}

    def articles(self, version_id: str) -> list[dict]:
        if version_id not in self._articles:
            self._articles[version_id] = [a for a in self.kb.articles(version_id)
                                          if a.get("kind") == KIND_ARTICLE and a.get("number") is not None]
        return self._articles[version_id]

    def links(self, i: int) -> list[Link]:
        """Links from version i to version i + 1."""
        if i not in self._links:
            self._links[i] = match(self.articles(self.versions[i]["version_id"]),
                                   self.articles(self.versions[i + 1]["version_id"]))
        return self._links[i]

    def history(self, art: dict) -> list[dict]:
        """One row per version: the version, the article continuing `art` in it (or None), and how it
        came from the previous version's (未修改, 有修改, 条号变动, 新增 …; 最早收录的版本; 该版本无此条),
        with the previous text for a diff."""
        ids = [v["version_id"] for v in self.versions]
        if art.get("version_id") not in ids or art.get("number") is None:
            return [{"version": v, "article": art if v["version_id"] == art.get("version_id") else None,
                     "change": FIRST if v["version_id"] == art.get("version_id") else ABSENT,
                     "current": v["version_id"] == art.get("version_id"), "prev_text": None} for v in self.versions]
        k = ids.index(art["version_id"])
        found: dict[int, dict] = {k: art}
        kinds: dict[int, str] = {}
        cur = art
        for i in range(k - 1, -1, -1):          # backwards: what the article was
            link = next((x for x in self.links(i) if x.new is not None and x.new["article_id"] == cur["article_id"]),
                        None)
            kinds[i + 1] = link.kind if link else ADDED
            if link is None or link.old is None:
                break
            cur = found[i] = link.old
        cur = art
        for i in range(k, len(ids) - 1):         # forwards: what became of it
            link = next((x for x in self.links(i) if x.old is not None and x.old["article_id"] == cur["article_id"]),
                        None)
            if link is None or link.new is None:
                kinds[i + 1] = DELETED
                break
            kinds[i + 1] = link.kind
            cur = found[i + 1] = link.new
        rows, prev_text = [], None
        first = min(found)
        for i, v in enumerate(self.versions):
            other = found.get(i)
            if other is None:
                change = DELETED if kinds.get(i) == DELETED else ABSENT
            elif i == first:
                change = ADDED if i > 0 and kinds.get(i) == ADDED else FIRST
            else:
                change = kinds[i]
            rows.append({"version": v, "article": other, "change": change,
                         "current": v["version_id"] == art["version_id"], "prev_text": prev_text})
            if other is not None:
                prev_text = other["text"]
        return rows

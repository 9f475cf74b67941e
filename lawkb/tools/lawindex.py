"""Law names, versions and articles as the legal tools need them, read through the KnowledgeBase
protocol only and cached for the length of one check."""

from __future__ import annotations

from lawkb.core.model import KIND_ARTICLE
from lawkb.core.textsim import bigrams, containment, dice
from lawkb.search.lookup import ABBREVIATIONS, repeal_of, resolve_law
from lawkb.search.store.protocol import KnowledgeBase

# The names and their rules are the search layer's, so a lookup and a citation check never disagree on
# which law a name means.
__all__ = ["ABBREVIATIONS", "LawIndex"]

CONTAINED = 0.8          # weight of containment against plain overlap in finding where a provision went
SAME_NUMBER_MIN = 0.3
SAME_NUMBER_BONUS = 0.1


class LawIndex:
    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self._names: dict[str, dict | None] = {}
        self._laws: dict[str, dict] = {}
        self._articles: dict[str, dict[tuple[int, int], dict]] = {}
        self._grams: dict[str, list[tuple[dict, frozenset[str]]]] = {}

    # ---- laws ----------------------------------------------------------------------------------

    def find(self, name: str) -> dict | None:
        """The law a written name means, with its versions; None when the KB has no such law."""
        name = name.strip().strip("《》 \u3000")
        if name not in self._names:
            self._names[name] = self._find(name)
        return self._names[name]

    def is_law(self, name: str) -> bool:
        return self.find(name) is not None

    def _find(self, name: str) -> dict | None:
        found = resolve_law(self.kb, name)
        return self.law(found["law_id"]) if found is not None else None

    def law(self, law_id: str) -> dict | None:
        if law_id not in self._laws:
            self._laws[law_id] = self.kb.law(law_id)
        return self._laws[law_id]

    def repealed_by_clause(self, name: str) -> dict | None:
        """The corpus's own repeal clause naming this law, for laws whose text the KB does not hold."""
        return repeal_of(self.kb, name)

    # ---- versions and articles -----------------------------------------------------------------

    @staticmethod
    def version_on(law: dict, as_of: str) -> dict | None:
        """The version in force on a date: the last one that had taken effect by then."""
        chosen = None
        for v in law["versions"]:
            start = v.get("effective") or v.get("version_date")
            if start is None or start <= as_of:
                chosen = v
        return chosen

    @staticmethod
    def current(law: dict) -> dict:
        return next((v for v in law["versions"] if v["version_id"] == law["current_version"]), law["versions"][-1])

    def articles(self, version_id: str) -> dict[tuple[int, int], dict]:
        if version_id not in self._articles:
            table: dict[tuple[int, int], dict] = {}
            for a in self.kb.articles(version_id):
                if a["kind"] == KIND_ARTICLE and a["number"] is not None:
                    table.setdefault((a["number"], a["sub"]), a)
            self._articles[version_id] = table
        return self._articles[version_id]

    def article(self, version_id: str, number: int, sub: int = 0) -> dict | None:
        return self.articles(version_id).get((number, sub))

    def grams(self, version_id: str) -> list[tuple[dict, frozenset[str]]]:
        if version_id not in self._grams:
            self._grams[version_id] = [(a, bigrams(a["text"])) for a in self.articles(version_id).values()]
        return self._grams[version_id]

    def closest(self, version_id: str, text: str, number: tuple[int, int] | None = None
                ) -> tuple[dict | None, float]:
        """The article of a version most like a text, and how alike (0–1). A provision that was extended
        keeps most of its words inside the new text, so containment counts as well as overlap; the same
        number is preferred when it is nearly as close (a rewritten 第一条 is still the 第一条)."""
        g = bigrams(text)
        best, score = None, 0.0
        for a, ag in self.grams(version_id):
            s = max(dice(g, ag), CONTAINED * containment(g, ag))
            if number is not None and (a["number"], a["sub"]) == number and s >= SAME_NUMBER_MIN:
                s += SAME_NUMBER_BONUS
            if s > score:
                best, score = a, s
        return best, min(score, 1.0)

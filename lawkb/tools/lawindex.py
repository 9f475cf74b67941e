"""Law names, versions and articles as the legal tools need them, read through the KnowledgeBase
protocol only and cached for the length of one check."""

from __future__ import annotations

import re

from lawkb.core.model import KIND_ARTICLE, LEVELS, STATUS_IN_FORCE, law_key
from lawkb.search.store.protocol import KnowledgeBase

from .textsim import bigrams

# Short forms in everyday legal writing that are neither titles nor aliases in the sources.
ABBREVIATIONS = {
    "民诉法": "民事诉讼法", "刑诉法": "刑事诉讼法", "行诉法": "行政诉讼法", "个保法": "个人信息保护法",
    "治安处罚法": "治安管理处罚法", "消法": "消费者权益保护法", "消保法": "消费者权益保护法",
    "居委会组织法": "城市居民委员会组织法",
    "村委会组织法": "村民委员会组织法", "网安法": "网络安全法", "数安法": "数据安全法",
}
_VERSION_NOTE = re.compile(r"[（(][^（）()]*(?:年|修正|修订|试行)[^（）()]*[）)]$")
_NATIONAL = {"宪法", "法律", "行政法规", "监察法规", "司法解释", "部门规章"}


def _rank(law: dict) -> tuple:
    level = LEVELS.index(law["level"]) if law.get("level") in LEVELS else len(LEVELS)
    return (law["status"] != STATUS_IN_FORCE, law.get("region_province") is not None, level, len(law["title"]),
            law["title"])


class LawIndex:
    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self._names: dict[str, dict | None] = {}
        self._laws: dict[str, dict] = {}
        self._articles: dict[str, dict[tuple[int, int], dict]] = {}
        self._grams: dict[str, list[tuple[dict, frozenset[str]]]] = {}
        self._repeals: dict[str, dict] | None = None

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
        candidates = [name]
        stripped = _VERSION_NOTE.sub("", name)
        if stripped != name:
            candidates.append(stripped)
        key = law_key(stripped)
        if key in ABBREVIATIONS:
            candidates.append(ABBREVIATIONS[key])
        for cand in candidates:
            found = self.kb.find_laws(cand)
            if found:
                return self.law(min(found, key=_rank)["law_id"])
        if len(key) < 4:
            return None
        # A name missing a leading word (居民委员会组织法 for 城市居民委员会组织法): only when exactly one
        # national law ends with it and the name is most of its title, so 合同法 never becomes 劳动合同法.
        partial = [x for x in self.kb.laws(q=key) if x.get("level") in _NATIONAL
                   and law_key(x["title"]).endswith(key) and len(key) >= 0.7 * len(law_key(x["title"]))]
        if len({x["law_id"] for x in partial}) == 1:
            return self.law(partial[0]["law_id"])
        return None

    def law(self, law_id: str) -> dict | None:
        if law_id not in self._laws:
            self._laws[law_id] = self.kb.law(law_id)
        return self._laws[law_id]

    def repealed_by_clause(self, name: str) -> dict | None:
        """The corpus's own repeal clause naming this law, for laws whose text the KB does not hold."""
        if self._repeals is None:
            self._repeals = {}
            for clause in sorted(self.kb.repeal_clauses(), key=lambda c: c["effective"] or ""):
                self._repeals.setdefault(law_key(clause["name"]), clause)
        key = law_key(_VERSION_NOTE.sub("", name.strip("《》 ")))
        return self._repeals.get(key) or self._repeals.get(law_key(ABBREVIATIONS.get(key, key)))

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

"""What one app instance holds: the knowledge base, its searcher, and small caches derived from them.

Kept in `app.extensions["lawkb"]` so two apps (tests, or two KBs) never share state.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from flask import current_app
from markupsafe import Markup, escape

from lawkb.core.errors import KBError
from lawkb.search.store.protocol import KnowledgeBase

from .xrefs import find_refs


class Resources:
    def __init__(self, kb: KnowledgeBase, searcher: Any, *, query_log: str = "") -> None:
        self.kb = kb
        self.searcher = searcher
        self.embedding: dict | None = None   # {"done", "total"} while vectors are computed in the background
        self._query_log = query_log
        self._log_lock = threading.Lock()
        self._regions: list[tuple[str, list[str]]] | None = None
        self._versions: OrderedDict[str, dict] = OrderedDict()
        self._lock = threading.Lock()
        self._law_names: dict[str, dict | None] = {}
        self._stats: dict | None = None
        self._region_html: str | None = None

    # ---- regions for the selector ------------------------------------------------------------------

    def regions(self) -> list[tuple[str, list[str]]]:
        """(province, [cities]) that have documents in the KB, provinces in order."""
        if self._regions is None:
            found: dict[str, set[str]] = {}
            for law in self.kb.laws():
                p = law.get("region_province")
                if p:
                    cities = found.setdefault(p, set())
                    if law.get("region_city"):
                        cities.add(law["region_city"])
            self._regions = [(p, sorted(found[p])) for p in sorted(found)]
        return self._regions

    def stats(self) -> dict:
        """The KB's counts, read once (they change only through the admin actions)."""
        if self._stats is None:
            self._stats = self.kb.stats()
        return self._stats

    def clear_caches(self) -> None:
        """After the KB changed under the site."""
        with self._lock:
            self._stats = None
            self._versions.clear()
            self._law_names.clear()
            self._regions = None
            self._region_html = None

    def region_options(self, selected: str | None) -> Markup:
        """The <option>s of the region selector, rendered once (hundreds of cities): only the selected
        mark differs between requests."""
        if self._region_html is None:
            parts = []
            for province, cities in self.regions():
                parts.append(f'<option value="{escape(province)}">{escape(province)}</option>')
                parts += [f'<option value="{escape(c)}">{escape(province)} · {escape(c)}</option>' for c in cities]
            self._region_html = "\n".join(parts)
        html = self._region_html
        if selected:
            key = f'<option value="{escape(selected)}">'
            html = html.replace(key, key[:-1] + " selected>", 1)
        return Markup(html)

    # ---- one version's articles, with the references between them ---------------------------------

    def version_index(self, version_id: str) -> dict:
        """Article order and who-cites-whom inside one version (cached; a version never changes)."""
        with self._lock:
            if version_id in self._versions:
                self._versions.move_to_end(version_id)
                return self._versions[version_id]
        arts = self.kb.articles(version_id)
        order = [{"article_id": a["article_id"], "article_no": a["article_no"], "kind": a["kind"],
                  "number": a["number"], "sub": a["sub"], "path": a["path"]} for a in arts]
        cited_by: dict[tuple[int, int], list[str]] = {}
        for a in arts:
            for ref in find_refs(a["text"]):
                if ref.law is None and (a["number"], a["sub"]) != (ref.number, ref.sub):
                    ids = cited_by.setdefault((ref.number, ref.sub), [])
                    if a["article_id"] not in ids:
                        ids.append(a["article_id"])
        by_number = {}
        for o in order:
            if o["kind"] == "article" and o["number"] is not None:
                by_number.setdefault((o["number"], o["sub"]), o["article_id"])
        entry = {"order": order, "pos": {o["article_id"]: i for i, o in enumerate(order)}, "cited_by": cited_by,
                 "by_number": by_number}
        with self._lock:
            self._versions[version_id] = entry
            while len(self._versions) > 64:
                self._versions.popitem(last=False)
        return entry

    def cached_law(self, name: str, find: Callable[[], dict]) -> dict | None:
        """The law a title in a text names (None when the KB has no such law), remembered."""
        if name not in self._law_names:
            try:
                law = find()
            except KBError:
                law = None
            if len(self._law_names) > 4096:
                self._law_names.clear()
            self._law_names[name] = law
        return self._law_names[name]

    # ---- operator-enabled query log: the words asked, never who asked ------------------------------

    def log_query(self, q: str, **fields: Any) -> None:
        if not self._query_log:
            return
        line = json.dumps({"t": time.strftime("%Y-%m-%dT%H:%M:%S"), "q": q, **fields}, ensure_ascii=False)
        with self._log_lock, open(self._query_log, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")


def res() -> Resources:
    return current_app.extensions["lawkb"]

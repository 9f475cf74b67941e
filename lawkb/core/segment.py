"""Chinese text for lexical retrieval: jieba segmentation with the project's legal dictionary, stopwords,
and the lay-to-legal lexicon that expands residents' words into the words statutes use.

Index and query are segmented by the same Segmenter; its `signature` (a hash of the dictionary, the
stopwords and the segmentation mode) is stored with an index so a change forces a rebuild.
"""

from __future__ import annotations

import hashlib
import re
import threading
from functools import lru_cache
from importlib import resources
from pathlib import Path

_KEEP = re.compile(r"[\w\u3400-\u9fff]")
_DATA = "lawkb"


def _data_text(name: str) -> str:
    try:
        return resources.files(_DATA).joinpath("data", name).read_text(encoding="utf-8")
    except (FileNotFoundError, ModuleNotFoundError):
        return ""


class Segmenter:
    """jieba in search mode (a long word also yields its parts: 劳动合同 -> 劳动 合同 劳动合同)."""

    def __init__(self) -> None:
        import jieba

        self._tk = jieba.Tokenizer()
        self._tk.tmp_dir = None
        self._lock = threading.Lock()
        self._ready = False
        self.dictionary = _data_text("legal_terms.txt")
        self.stopwords = {w.strip() for w in _data_text("stopwords.txt").splitlines()
                          if w.strip() and not w.startswith("#")}
        digest = hashlib.sha1((self.dictionary + "\0" + "\n".join(sorted(self.stopwords)) + "\0search-v1")
                              .encode("utf-8")).hexdigest()[:12]
        self.signature = f"jieba-{digest}"

    def _init(self) -> None:
        with self._lock:
            if self._ready:
                return
            import logging

            import jieba

            jieba.setLogLevel(logging.WARNING)
            self._tk.initialize()
            for line in self.dictionary.splitlines():
                parts = line.split()
                if parts and not line.startswith("#"):
                    freq = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
                    self._tk.add_word(parts[0], freq)
            self._ready = True

    def terms(self, text: str) -> list[str]:
        """Index terms of a text, in order, stopwords and punctuation removed."""
        if not self._ready:
            self._init()
        return [w for w in self._tk.cut_for_search(text) if _KEEP.search(w) and w not in self.stopwords]

    def index_string(self, text: str) -> str:
        return " ".join(self.terms(text))


@lru_cache(maxsize=1)
def segmenter() -> Segmenter:
    return Segmenter()


def load_lexicon(path: Path | None = None) -> dict[str, list[str]]:
    """lay word -> legal terms, from corpus/lexicon.tsv (packaged as lawkb.corpus)."""
    if path is not None:
        text = path.read_text(encoding="utf-8")
    else:
        try:
            text = resources.files("lawkb.corpus").joinpath("lexicon.tsv").read_text(encoding="utf-8")
        except FileNotFoundError:
            text = ""
    out: dict[str, list[str]] = {}
    for i, line in enumerate(text.splitlines()):
        if i == 0 and line.startswith("lay"):
            continue
        cols = line.split("\t")
        if len(cols) >= 2 and cols[0].strip():
            out.setdefault(cols[0].strip(), []).extend(t for t in cols[1].split() if t)
    return out

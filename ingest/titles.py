"""Titles: whether a line reads as the title of a law, regulation or convention, a title cleaned for
display, and a title guessed from a file name. Used by the structurer and by readers whose metadata
holds a file name (Word's PDF /Title "Microsoft Word - 中华人民共和国民法典.doc")."""

from __future__ import annotations

import re

from .history import looks_like_history

_TITLE_SUFFIX = re.compile(
    r"(法|法典|条例|條例|规定|規定|办法|辦法|细则|細則|决定|決定|解释|解釋|规则|規則|章程|公约|公約|规约|規約|民约|民約|纲要|"
    r"意见|通知|批复|答复|复函|解答|安排|命令|宪法|修正案|标准|準則|准则|决议|決議|公告|议事规则)"
    r"(（[^）]{0,20}）|\([^)]{0,20}\))?$"
)
_TITLE_JUNK_PAREN = re.compile(r"(（[^）]*(?:\d{4}|修订|修正|最新|版)[^）]*）|\([^)]*(?:\d{4}|修订|修正|最新|版)[^)]*\))$")
_WS = re.compile(r"[\s\u3000]+")


def is_title_like(text: str) -> bool:
    """A line that can be a title: short, no sentence, not a label or history line, and ending in a
    word that names a kind of legal text (…法, …法典, …条例, …规约, …村规民约, …议事规则 …)."""
    t = _WS.sub("", text)
    if not (2 <= len(t) <= 90) or "。" in t or "；" in t:
        return False
    if re.match(r"^(第|[（(]|\d|目录|附件)", t) or looks_like_history(t):
        return False
    return bool(_TITLE_SUFFIX.search(t))


def clean_title(text: str) -> str:
    """A title for display: no spaces, no 《》, no '标题：' field name, no trailing version note （2018年修正）."""
    t = _WS.sub("", text).strip("《》")
    t = re.sub(r"^(?:法規名稱|法规名称|标题|標題|名称|名稱)[:：]", "", t)
    t = _TITLE_JUNK_PAREN.sub("", t)
    return t


def title_from_filename(name: str) -> str:
    """The title a file name gives: '民法典.doc' -> 民法典; 'flk_中华人民共和国监察法_20241225.docx' -> 中华人民共和国监察法."""
    stem = re.sub(r"\.[A-Za-z0-9]{1,5}$", "", name)
    stem = re.sub(r"[(（]\d{4}-\d{2}-\d{2}[)）]$", "", stem)
    stem = re.sub(r"[_-]?\d{8}$", "", stem)
    parts = [p for p in re.split(r"_", stem) if p]
    # Files are often named '<origin>_<title>_<extra>': prefer the part that reads like a title.
    for part in parts:
        if is_title_like(part):
            return clean_title(part)
    return clean_title(max(parts, key=len)) if parts else stem

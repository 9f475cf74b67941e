"""Find a law by the name a person types, and an article by a typed reference."""

from __future__ import annotations

import re
from weakref import WeakKeyDictionary

from lawkb.core.errors import KBError, NotFound
from lawkb.core.model import LEVELS, STATUS_IN_FORCE, law_key
from lawkb.core.refs import ArticleRef, parse_ref
from lawkb.core.versions import iso_day
from lawkb.search.store.protocol import KnowledgeBase

# Short forms in everyday legal writing that are neither titles nor aliases in the sources.
ABBREVIATIONS = {
    "民诉法": "民事诉讼法", "刑诉法": "刑事诉讼法", "行诉法": "行政诉讼法", "个保法": "个人信息保护法",
    "治安处罚法": "治安管理处罚法", "消法": "消费者权益保护法", "消保法": "消费者权益保护法",
    "居委会组织法": "城市居民委员会组织法", "居民委员会组织法": "城市居民委员会组织法",
    "村委会组织法": "村民委员会组织法", "网安法": "网络安全法", "数安法": "数据安全法",
}
VERSION_NOTE = re.compile(r"[（(][^（）()]*(?:年|修正|修订|试行)[^（）()]*[）)]$")
_REPEALS: WeakKeyDictionary = WeakKeyDictionary()


def chinese_day(iso: str | None) -> str | None:
    """2021-01-01 as 2021年1月1日; None for anything that is not a full date."""
    if not iso or len(iso) != 10:
        return None
    return f"{int(iso[:4])}年{int(iso[5:7])}月{int(iso[8:10])}日"


class Repealed(NotFound):
    """A law the KB holds no text of, but whose repeal a text in the KB records: the message says when
    and by which provision, in Chinese; `.clause` has the details."""

    def __init__(self, name: str, clause: dict) -> None:
        self.clause = clause
        day = chinese_day(clause.get("effective"))
        when = f"已于{day}废止" if day else "已被废止"
        where = f"《{clause['law_title']}》{clause.get('article_no') or ''}"
        super().__init__(f"《{name}》{when}（{where}），知识库中没有它的现行文本；请查阅替代它的法律")


def law_rank(law: dict) -> tuple:
    """Among laws answering to one name: in force first, national before local, higher level, shorter."""
    level = LEVELS.index(law["level"]) if law.get("level") in LEVELS else len(LEVELS)
    return (law["status"] != STATUS_IN_FORCE, law.get("region_province") is not None, level, len(law["title"]),
            law["title"])


def resolve_law(kb: KnowledgeBase, name: str) -> dict | None:
    """The law a written name means, or None. Only the law it names: its title, short title or alias, the
    name with a version note dropped (合同法（1999年）) or a common abbreviation (民诉法, 居民委员会组织法).
    Never a longer or shorter title that merely contains it: 合同法 is not 劳动合同法, 婚姻法 is not an
    interpretation of it."""
    name = name.strip().strip("《》 \u3000")
    if not name:
        return None
    stripped = VERSION_NOTE.sub("", name)
    key = law_key(stripped)
    candidates = dict.fromkeys([name, stripped] + ([ABBREVIATIONS[key]] if key in ABBREVIATIONS else []))
    for cand in candidates:
        found = kb.find_laws(cand)
        if found:
            return min(found, key=law_rank)
    return None


def repeal_of(kb: KnowledgeBase, name: str) -> dict | None:
    """The repeal clause in the KB's texts that names this law (民法典 第一千二百六十条 for 合同法), or None."""
    try:
        table = _REPEALS[kb]
    except (KeyError, TypeError):
        table = {}
        for clause in sorted(kb.repeal_clauses(), key=lambda c: c["effective"] or ""):
            table.setdefault(law_key(clause["name"]), clause)
        try:
            _REPEALS[kb] = table
        except TypeError:   # a store that cannot be weakly referenced: no cache
            pass
    key = law_key(VERSION_NOTE.sub("", name.strip().strip("《》 ")))
    return table.get(key) or table.get(law_key(ABBREVIATIONS.get(key, key)))


def find_law(kb: KnowledgeBase, name: str) -> dict:
    """The law a name means (resolve_law); Repealed when the KB knows it only from a repeal clause;
    NotFound otherwise."""
    name = name.strip()
    if not name:
        raise KBError("请写出法律名称")
    law = resolve_law(kb, name)
    if law is not None:
        return law
    clause = repeal_of(kb, name)
    if clause is not None:
        raise Repealed(name.strip("《》 "), clause)
    raise NotFound(f"知识库中没有名为“{name}”的法律")


def lookup_article(kb: KnowledgeBase, text: str, *, as_of: str | None = None) -> dict:
    ref = parse_ref(text)
    if ref is None:
        raise KBError(f"“{text}”不是条文引用：请写成“民法典 第1032条”或“刑法第二百六十四条之一”这样的形式")
    return article_for_ref(kb, ref, as_of=as_of)


def article_for_ref(kb: KnowledgeBase, ref: ArticleRef, *, as_of: str | None = None) -> dict:
    if not ref.law:
        raise KBError("请同时写出法律名称和条号，例如“民法典 第1032条”")
    if as_of is not None:
        try:
            as_of = iso_day(as_of)
        except ValueError as exc:
            raise KBError(f"日期 as_of 有误：{exc}") from None
    law = find_law(kb, ref.law)
    art = kb.article(law["law_id"], ref.number, ref.sub, as_of=as_of)
    if art is None:
        when = f"{as_of} 施行的文本" if as_of else "现行文本"
        raise NotFound(f"《{law['title']}》{when}中没有第{ref.number}条{'之' + str(ref.sub) if ref.sub else ''}")
    return art


def citation(article: dict) -> str:
    """The standard form: 《中华人民共和国民法典》第一千零三十二条."""
    return f"《{article['law_title']}》{article['article_no'] or ''}"

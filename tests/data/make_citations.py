"""Write tests/data/citations_generated.tsv: citations whose expected verdicts follow from plain facts of
the law texts in the tools KB, decided here without the checker's text-likeness heuristics:

- current: the article (and the 款 / 项 cited) exists in the version in force;
- nonexistent: no version of the law has that article, or the article has fewer 款 / 项;
- repealed: the law's status is 已废止 (from the source or a repeal clause), the article exists in it;
- amended: cited as of a date before the latest revision, and the current text under that number is not
  the same text (whitespace and punctuation aside);
- current with a date: the same text under the same number then and now.

Run: .venv/bin/python tests/data/make_citations.py KB_DIR  (the KB built by the tools_kb fixture's recipe).
"""

from __future__ import annotations

import sys
from pathlib import Path

from lawkb.core.model import normalize_text
from lawkb.core.numerals import int_to_cn
from lawkb.search import open_kb
from lawkb.tools.lawindex import LawIndex

OUT = Path(__file__).with_name("citations_generated.tsv")

# Laws with one version in the KB (current) and laws revised since an older version it holds (amended).
SINGLE = ["民法典", "劳动合同法", "消费者权益保护法", "个人信息保护法", "行政处罚法", "人民调解法", "物业管理条例",
          "居住证暂行条例", "道路交通安全法", "行政强制法", "未成年人保护法", "老年人权益保障法"]
REVISED = [("治安管理处罚法", "2020-06-01"), ("城市居民委员会组织法", "2020-06-01"), ("公司法", "2021-01-01"),
           ("立法法", "2020-01-01"), ("监察法", "2020-01-01")]
REPEALED = ["噪声污染防治法", "环境噪声污染防治法", "大气污染防治法", "水污染防治法", "环境保护法", "清洁生产促进法"]


def form(i: int, title: str, short: str, number: int, sub: int = 0, para: int | None = None,
         item: int | None = None) -> tuple[str, str]:
    """(text, span) in one of the forms people write."""
    art_cn = f"第{int_to_cn(number)}条" + (f"之{int_to_cn(sub)}" if sub else "")
    art_ar = f"第{number}条" + (f"之{int_to_cn(sub)}" if sub else "")
    part_cn = (f"第{int_to_cn(para)}款" if para else "") + (f"第（{int_to_cn(item)}）项" if item else "")
    part_ar = (f"第{para}款" if para else "") + (f"第（{item}）项" if item else "")
    k = i % 5
    if k == 0:
        span = f"《{title}》{art_cn}{part_cn}"
        return f"{span}对此有明确规定。", span
    if k == 1:
        span = f"《{short}》{art_ar}{part_ar}"
        return f"依照{span}的规定处理。", span
    if k == 2:
        span = f"{short}{art_cn}{part_cn}"
        return f"根据{span}，当事人可以主张权利。", span
    if k == 3:
        span = f"《{short}》{art_cn}{part_ar}"
        return f"本案应适用{span}。", span
    span = f"{short}{art_ar}{part_cn}"
    return f"参见{span}。", span


def rows(kb) -> list[list[str]]:
    ix = LawIndex(kb)
    out: list[list[str]] = []
    i = 0

    def add(text, span, as_of, verdict, note):
        nonlocal i
        out.append([text, span, as_of or "", verdict, "", "", note])
        i += 1

    for name in SINGLE:
        law = ix.find(name)
        assert law is not None and len(law["versions"]) == 1, name
        arts = sorted(ix.articles(ix.current(law)["version_id"]).values(), key=lambda a: (a["number"], a["sub"]))
        short = law["short_title"]
        top = max(a["number"] for a in arts)
        picks = arts[:: max(1, len(arts) // 6)][:6]
        for a in picks:
            text, span = form(i, law["title"], short, a["number"], a["sub"])
            add(text, span, None, "current", f"{a['article_no']} exists")
        multi = [a for a in arts if len(a["paragraphs"]) >= 2][:1]
        for a in multi:
            text, span = form(i, law["title"], short, a["number"], a["sub"], para=len(a["paragraphs"]))
            add(text, span, None, "current", f"{a['article_no']} has {len(a['paragraphs'])} 款")
            text, span = form(i, law["title"], short, a["number"], a["sub"], para=len(a["paragraphs"]) + 1)
            add(text, span, None, "nonexistent", f"{a['article_no']} has only {len(a['paragraphs'])} 款")
        listed = [a for a in arts if len(a["paragraphs"]) == 1 and a["paragraphs"][0]["items"]][:1]
        for a in listed:
            n = len(a["paragraphs"][0]["items"])
            text, span = form(i, law["title"], short, a["number"], a["sub"], item=n)
            add(text, span, None, "current", f"{a['article_no']} has {n} 项")
            text, span = form(i, law["title"], short, a["number"], a["sub"], item=n + 2)
            add(text, span, None, "nonexistent", f"{a['article_no']} has only {n} 项")
        for extra in (1, 37):
            text, span = form(i, law["title"], short, top + extra)
            add(text, span, None, "nonexistent", f"the law ends at article {top}")

    for name, as_of in REVISED:
        law = ix.find(name)
        cur = ix.current(law)
        old = ix.version_on(law, as_of)
        assert old is not None and old["version_id"] != cur["version_id"], name
        old_arts = sorted(ix.articles(old["version_id"]).values(), key=lambda a: (a["number"], a["sub"]))
        changed, same = [], []
        for a in old_arts:
            now = ix.article(cur["version_id"], a["number"], a["sub"])
            if now is not None and normalize_text(now["text"]) == normalize_text(a["text"]):
                same.append(a)
            else:
                changed.append(a)
        for a in changed[:: max(1, len(changed) // 8)][:8]:
            text, span = form(i, law["title"], law["short_title"], a["number"], a["sub"])
            add(text, span, as_of, "amended", f"{old['version_date']} text differs from the current one")
        for a in same[:: max(1, len(same) // 3)][:3]:
            text, span = form(i, law["title"], law["short_title"], a["number"], a["sub"])
            add(text, span, as_of, "current", f"same text in {old['version_date']} and now")
        top = max(a["number"] for a in old_arts)
        cur_top = max(a["number"] for a in ix.articles(cur["version_id"]).values())
        text, span = form(i, law["title"], law["short_title"], max(top, cur_top) + 5)
        add(text, span, as_of, "nonexistent", "beyond the last article of every version")

    for name in REPEALED:
        law = ix.find(name)
        assert law is not None and law["status"] == "已废止", name
        arts = sorted(ix.articles(ix.current(law)["version_id"]).values(), key=lambda a: (a["number"], a["sub"]))
        for a in arts[:: max(1, len(arts) // 4)][:4]:
            text, span = form(i, law["title"], law["short_title"], a["number"], a["sub"])
            add(text, span, None, "repealed", f"{law['title']} is 已废止")
        text, span = form(i, law["title"], law["short_title"], max(a["number"] for a in arts) + 3)
        add(text, span, None, "nonexistent", "repealed, and never had that article")
    return out


def main() -> None:
    kb = open_kb(sys.argv[1])
    lines = ["# Generated by make_citations.py from the tools KB: text, span, as_of, verdict, current_number, "
             "replacement, why"]
    lines += ["\t".join(r) for r in rows(kb)]
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{len(lines) - 1} citations written to {OUT}")


if __name__ == "__main__":
    main()

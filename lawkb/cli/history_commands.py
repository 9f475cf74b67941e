"""`lawkb history`: one article through every version of its law, followed by its words."""

from __future__ import annotations

import difflib

import click

from .options import JSON_OPTION, KB_OPTION, echo_json, open_kb_or_fail


def _diff(old: str, new: str) -> str:
    """A character diff in brackets: [-删去的-]{+新增的+}."""
    out = []
    for op, a1, a2, b1, b2 in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if op == "equal":
            out.append(new[b1:b2])
        else:
            if a2 > a1:
                out.append(f"[-{old[a1:a2]}-]")
            if b2 > b1:
                out.append(f"{{+{new[b1:b2]}+}}")
    return "".join(out)


@click.command()
@click.argument("ref", nargs=-1, required=True)
@KB_OPTION
@JSON_OPTION
def history(ref, kb_locator, as_json) -> None:
    """Every version of one article: lawkb history 治安管理处罚法 第五十一条 (numbers, dates, changes)."""
    from lawkb.search.history import Lineage
    from lawkb.search.lookup import lookup_article

    kb = open_kb_or_fail(kb_locator)
    art = lookup_article(kb, " ".join(ref))
    law = kb.law(art["law_id"])
    rows = Lineage(kb, law).history(art)
    if as_json:
        echo_json({"law_id": law["law_id"], "law_title": law["title"], "versions": [
            {"version_id": r["version"]["version_id"], "version_date": r["version"]["version_date"],
             "effective": r["version"].get("effective"), "status": r["version"]["status"],
             "article_id": (r["article"] or {}).get("article_id"), "article_no": (r["article"] or {}).get("article_no"),
             "change": r["change"], "text": (r["article"] or {}).get("text")} for r in rows]})
        return
    click.echo(f"《{law['title']}》{art['article_no']} 在各版本中：")
    for r in rows:
        v, a = r["version"], r["article"]
        when = f"{v['version_date'] or '未注明'}（施行 {v.get('effective') or '未注明'}，{v['status']}）"
        mark = " ←" if r["current"] else ""
        click.echo(f"\n{when}  {a['article_no'] if a else '—'}  {r['change']}{mark}")
        if a is not None and r["prev_text"] is not None and r["prev_text"] != a["text"]:
            click.echo("  " + _diff(r["prev_text"], a["text"]))

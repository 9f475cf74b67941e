"""`lawkb history`: one article through every version of its law, followed by its words; `lawkb changes`:
what changed since a date, for the whole knowledge base or a watch list of citations."""

from __future__ import annotations

from pathlib import Path

import click

from lawkb.core.lineage import ADDED, CHANGED, RENUMBERED, RENUMBERED_CHANGED, UNCHANGED
from lawkb.tools.changes import bracket_diff as _diff

from .options import JSON_OPTION, KB_OPTION, echo_json, open_kb_or_fail


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


def _indented(text: str) -> str:
    return "  " + text.replace("\n", "\n  ")


def _echo_entry(e: dict, brief: bool) -> None:
    """One line per entry (change, article, version, watched citations); below it, unless brief, the
    text: the diff of a changed article, an added or deleted article's text, a repeal's provision."""
    from lawkb.tools.changes import article_label, version_label

    # The label already says what a lineage change is (第五十一条（原第四十三条）); other notes add facts.
    note = "" if e["change"] in (CHANGED, RENUMBERED, RENUMBERED_CHANGED, ADDED) else e["note"]
    head = [e["change"], f"《{e['law_title']}》{article_label(e)}", version_label(e), note]
    if e["watched"]:
        head.append("关注：" + "；".join(e["watched"]))
    click.echo("  ".join(x for x in head if x))
    if brief:
        return
    old, new = (e["old"] or {}).get("text"), (e["new"] or {}).get("text")
    if e["diff"]:
        click.echo(_indented(e["diff"]))
    elif old is not None and new is None:
        click.echo(_indented(f"[-{old}-]"))
    elif new is not None and old is None and e["change"] != UNCHANGED:
        click.echo(_indented(f"{{+{new}+}}"))
    if e["repeal"]:
        r = e["repeal"]
        click.echo(_indented(f"废止依据：《{r['law_title']}》{r['article_no'] or ''}：{r['text']}"))


@click.command()
@click.option("--since", help="Changes on or after this date, YYYY-MM-DD (default: 12 months before today).")
@click.option("--watch", "watch_file", type=click.Path(dir_okay=False),
              help="A TXT, MD or DOCX file of citations (an advice letter, a 权责清单, one per line): only the "
                   "articles it cites, followed through renumbering; unchanged ones are listed as 未修改.")
@click.option("--out", "out_file", type=click.Path(dir_okay=False),
              help="Also write the report to this file: .csv or .docx.")
@click.option("--brief", is_flag=True, help="One line per entry, without the texts.")
@KB_OPTION
@JSON_OPTION
def changes(since, watch_file, out_file, brief, kb_locator, as_json) -> None:
    """What changed since a date: lawkb changes --since 2025-01-01 [--watch advice.docx] [--out report.docx]."""
    from lawkb.tools.changes import report, summary_line, to_csv, to_docx
    from lawkb.tools.uploads import read_document

    out = Path(out_file) if out_file else None
    if out is not None and out.suffix.lower() not in (".csv", ".docx"):
        raise click.ClickException("--out must name a .csv or .docx file")
    watch_text = None
    if watch_file:
        path = Path(watch_file)
        if not path.is_file():
            raise click.ClickException(f"no such file: {watch_file}")
        watch_text = read_document(path.read_bytes(), path.name)   # refusals are KBErrors: one line
    try:
        rep = report(open_kb_or_fail(kb_locator), since=since, watch_text=watch_text)
    except ValueError as exc:   # a date that is not YYYY-MM-DD
        raise click.ClickException(str(exc)) from None
    if out is not None:
        out.write_bytes(to_csv(rep) if out.suffix.lower() == ".csv" else to_docx(rep))
    if as_json:
        echo_json(rep)
        return
    click.echo(summary_line(rep))
    if rep["watch"] is not None:
        cites = rep["watch"]["citations"]
        missing = [c for c in cites if not c["found"]]
        click.echo(f"关注清单：{len(cites)} 条引用" + ("（超出上限，只读了前面的部分）" if rep["watch"]["truncated"] else "")
                   + (f"，{len(missing)} 条无法核对：" + "；".join(f"{c['span']}（{c['note']}）" for c in missing)
                      if missing else ""))
    for e in rep["entries"]:
        _echo_entry(e, brief)
    if out is not None:
        click.echo(f"已写入 {out}")

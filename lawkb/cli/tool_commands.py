"""The legal tools' commands: cite-check, task-check, convention-check (registered on `lawkb`)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .options import JSON_OPTION, KB_OPTION, echo_json, open_kb_or_fail

DISCLAIMER = "本结果由程序自动生成，仅供参考，不构成法律意见。"


def _read_input(source: str | None) -> str:
    if source in (None, "-"):
        data = sys.stdin.buffer.read()
    else:
        path = Path(source)
        if not path.is_file():
            raise click.ClickException(f"no such file: {source}")
        data = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise click.ClickException("cannot decode the input: save it as UTF-8 text")


def _indent(text: str, width: int = 400) -> str:
    text = text if len(text) <= width else text[:width] + "……"
    return "    " + text.replace("\n", "\n    ")


_VERDICT_LABEL = {"current": "现行有效", "amended": "已修改", "repealed": "已废止", "nonexistent": "不存在",
                  "unknown_law": "无法核对"}


@click.command("cite-check")
@click.argument("source", required=False)
@KB_OPTION
@click.option("--as-of", help="The date the text was written (YYYY-MM-DD): citations are read against the "
                              "versions in force then.")
@JSON_OPTION
def cite_check(source, kb_locator, as_of, as_json) -> None:
    """Check every legal citation in a text (FILE, or - / nothing for standard input)."""
    from lawkb.tools.citecheck import check_citations

    text = _read_input(source)
    try:
        result = check_citations(open_kb_or_fail(kb_locator), text, as_of=as_of)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        echo_json(result)
        return
    cites = result["citations"]
    if not cites:
        click.echo("没有找到法律引用。")
        return
    counts: dict[str, int] = {}
    for r in cites:
        counts[r["verdict"]] = counts.get(r["verdict"], 0) + 1
        label = _VERDICT_LABEL[r["verdict"]]
        click.echo(f"[{label}] {r['span']}")
        cited = f"《{r['law_title']}》{r['article_no'] or ''}"
        if r["current_number"] and r["current_number"] != r["article_no"]:
            cited += f" → 现行{r['current_number']}"
        if r["replacement"]:
            cited += f" → 《{r['replacement']}》{r['replacement_article_no'] or ''}"
        click.echo(f"  {cited}")
        click.echo(f"  说明：{r['note']}")
        if r["text"]:
            click.echo(_indent(r["text"]))
        click.echo("")
    click.echo("  ".join(f"{_VERDICT_LABEL[k]} {v}" for k, v in counts.items()))
    click.echo(DISCLAIMER)


@click.command("task-check")
@click.argument("task", nargs=-1)
@KB_OPTION
@click.option("--file", "file_path", type=click.Path(exists=True, dir_okay=False),
              help="CSV or XLSX, one task per row (optional column: department).")
@click.option("--region", help="Province or city whose local regulations count (北京, 杭州).")
@click.option("--lexical", "lexical_only", is_flag=True, help="Do not use the embedding model.")
@click.option("--xlsx", "xlsx_out", type=click.Path(dir_okay=False), help="Also write the report as XLSX.")
@JSON_OPTION
def task_check(task, kb_locator, file_path, region, lexical_only, xlsx_out, as_json) -> None:
    """Does the law give the residents' committee this task? One TASK, or --file with many."""
    from lawkb.search import open_searcher
    from lawkb.tools.taskcheck import check_tasks, read_task_list, report_xlsx

    if bool(task) == bool(file_path):
        raise click.UsageError("give one TASK or --file FILE")
    columns = None
    if file_path:
        listed = read_task_list(Path(file_path).read_bytes(), Path(file_path).name)
        tasks: list = listed.tasks
        columns = listed.describe()
    else:
        tasks = [" ".join(task)]
    kb = open_kb_or_fail(kb_locator)
    result = check_tasks(kb, tasks, region=region, searcher=open_searcher(kb, use_model=not lexical_only))
    if xlsx_out:
        Path(xlsx_out).write_bytes(report_xlsx(result))
    if as_json:
        echo_json({**result, "columns": columns} if columns else result)
        return
    if columns:
        click.echo(columns + "\n")
    for t in result["tasks"]:
        dept = f"（{t['department']}）" if t.get("department") else ""
        body = f"  责任主体：{t['body']}" if t.get("body") else ""
        click.echo(f"【{t['class']}】{t['task']}{dept}  依据强度：{t['strength']}{body}")
        click.echo(f"  理由：{t['reasoning']}")
        for c in t["citations"]:
            click.echo(f"  《{c['law_title']}》{c['article_no'] or ''}：{c['sentence']}")
        click.echo("")
    click.echo("  ".join(f"{k} {v}" for k, v in result["summary"].items()))
    click.echo("依据强度：" + "；".join(f"{k}——{v}" for k, v in result["strength_words"].items()))
    if xlsx_out:
        click.echo(f"report written to {xlsx_out}")
    click.echo(DISCLAIMER)


@click.command("convention-check")
@click.argument("source", required=False)
@KB_OPTION
@JSON_OPTION
def convention_check(source, kb_locator, as_json) -> None:
    """Flag clauses of a draft 居民公约 / 管理规约 that exceed what self-governance may do."""
    from lawkb.tools.convention import check_convention

    result = check_convention(open_kb_or_fail(kb_locator), _read_input(source))
    if as_json:
        echo_json(result)
        return
    flagged = [c for c in result["clauses"] if c["flagged"]]
    for c in flagged:
        click.echo(f"[需修改] {c['text']}")
        for reason in c["reasons"]:
            click.echo(f"  问题：{reason}")
        for cit in c["citations"]:
            click.echo(f"  依据：《{cit['law_title']}》{cit['article_no']}")
            click.echo(_indent(cit["text"], 200))
        click.echo("")
    click.echo(f"{len(result['clauses'])} 条款，{len(flagged)} 条需要修改。")
    click.echo(DISCLAIMER)




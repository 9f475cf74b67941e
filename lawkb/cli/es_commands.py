"""The Elasticsearch commands: a development node, the versioned indices behind the alias, rebuilds."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .options import JSON_OPTION, KB_OPTION, echo_json, open_kb_or_fail


@click.command("es-node")
@click.option("--port", default=9200, show_default=True, help="HTTP port (0 picks a free one).")
@click.option("--data", type=click.Path(file_okay=False), help="Keep indices here across restarts.")
@click.option("--heap", default="-Xms256m -Xmx1g", show_default=True, help="JVM heap options.")
def es_node(port, data, heap) -> None:
    """Run a local single-node Elasticsearch for development and tests (Java 17 and Maven; no Docker)."""
    from lawkb.esnode import NodeError, run_foreground

    try:
        sys.exit(run_foreground(port, Path(data) if data else None, heap))
    except NodeError as exc:
        raise click.ClickException(str(exc)) from None


@click.command("es-indices")
@KB_OPTION
@click.option("--cleanup", is_flag=True, help="Delete the generations the alias does not point to.")
@click.option("--keep", default=0, show_default=True, help="With --cleanup: keep this many of the newest old ones.")
@JSON_OPTION
def es_indices(kb_locator, cleanup, keep, as_json) -> None:
    """List an Elasticsearch knowledge base's versioned indices; --cleanup deletes old ones."""
    kb = open_kb_or_fail(kb_locator)
    if kb.backend != "elasticsearch":
        raise click.ClickException("es-indices needs an Elasticsearch locator (http://host:9200[/prefix])")
    deleted = kb.cleanup(keep=keep) if cleanup else []
    rows = kb.generations()
    if as_json:
        echo_json({"indices": rows, "deleted": deleted})
        return
    for r in rows:
        click.echo(f"{'*' if r['live'] else ' '} {r['index']}\t{r['docs']} docs\t{r['size']}")
    for name in deleted:
        click.echo(f"deleted {name}")


@click.command("es-rebuild")
@KB_OPTION
@click.option("--from", "from_kb", type=click.Path(file_okay=False, exists=True),
              help="Load from this embedded knowledge base (its terms and vectors are reused).")
@JSON_OPTION
def es_rebuild(kb_locator, from_kb, as_json) -> None:
    """Write a new versioned index and swap the alias to it once complete; searches go on meanwhile."""
    kb = open_kb_or_fail(kb_locator, create=bool(from_kb))
    if kb.backend != "elasticsearch":
        raise click.ClickException("es-rebuild needs an Elasticsearch locator (http://host:9200[/prefix])")
    info = kb.load_embedded(open_kb_or_fail(from_kb)) if from_kb else kb.rebuild()
    if as_json:
        echo_json(info)
    else:
        click.echo(f"{info['index']} is live: {info['articles_written']} articles in {info['seconds']} s"
                   + (f"; {len(info['errors'])} errors, first: {info['errors'][0]}" if info["errors"] else ""))

"""What every lawkb command shares: the --kb and --json options, JSON output, opening the knowledge base,
and the group that turns a KBError into one line instead of a traceback."""

from __future__ import annotations

import json

import click

from lawkb.core import settings
from lawkb.core.errors import KBError, QueryError
from lawkb.ingest.blocks import IngestError
from lawkb.search import open_kb

KB_OPTION = click.option(
    "--kb", "kb_locator", envvar="LAWKB_KB", default=None,
    help="Knowledge base: a directory or an http(s):// URL (default: $LAWKB_KB, then ./kb).",
)
JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


def echo_json(data) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def open_kb_or_fail(locator: str | None, create: bool = False):
    try:
        return open_kb(settings.get("kb", locator), create=create)
    except KBError as exc:
        raise click.ClickException(str(exc)) from None


class Group(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (KBError, QueryError, IngestError) as exc:
            raise click.ClickException(str(exc)) from None

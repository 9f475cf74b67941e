"""The `lawkb` command: a thin click layer over the library. Shared options live in options.py; each
command module registers nothing itself, so modules never import one another in a circle."""

from __future__ import annotations

import click

from . import corpus_commands, es_commands, history_commands, kb_commands, tool_commands
from .options import Group

COMMANDS = [
    kb_commands.ingest, kb_commands.remove, kb_commands.stats, kb_commands.laws, kb_commands.show,
    kb_commands.search, history_commands.history, history_commands.changes, kb_commands.index, kb_commands.embed, kb_commands.eval_cmd, kb_commands.serve,
    kb_commands.show_settings, es_commands.es_node, es_commands.es_indices, es_commands.es_rebuild,
    tool_commands.cite_check, tool_commands.task_check, tool_commands.convention_check,
    corpus_commands.corpus,
]


@click.group(cls=Group)
@click.version_option(package_name="lawkb")
def main() -> None:
    """lawkb: find the law for a problem — a community legal knowledge base."""


for _command in COMMANDS:
    main.add_command(_command)

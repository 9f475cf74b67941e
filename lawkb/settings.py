"""Every setting lawkb reads, in one table.

A value comes from, in order: the command line (where a command offers it), the environment variable,
the settings file (TOML, `LAWKB_SETTINGS` or ./lawkb.toml), the default. `lawkb settings` prints the table.
"""

from __future__ import annotations

import datetime as _dt
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Setting:
    name: str
    env: str
    default: Any
    help: str
    kind: type = str


SETTINGS: list[Setting] = [
    Setting("kb", "LAWKB_KB", "kb", "Knowledge-base locator: a directory (embedded store) or an http(s):// URL."),
    Setting("shared", "LAWKB_SHARED", "../shared",
            "Folder holding corpus/lawrefbook, corpus/samples, eval/ and models/ (tests and benchmarks)."),
    Setting("model", "LAWKB_MODEL", "",
            "Embedding model: a local directory (ONNX + tokenizer.json, or a sentence-transformers model)."),
    Setting("cache", "LAWKB_CACHE", "~/.cache/lawkb",
            "Where downloaded models are kept (models/<name>/ below it)."),
    Setting("offline", "LAWKB_OFFLINE", "",
            "Set to 1 to forbid any model download (search then uses what is local, or runs lexically)."),
    Setting("max_file_mb", "LAWKB_MAX_FILE_MB", 50,
            "Files larger than this many MiB are refused at ingest (reported, not read).", int),
    Setting("today", "LAWKB_TODAY", "",
            "The date statuses are computed for (YYYY-MM-DD); empty means the real date."),
]
_BY_NAME = {s.name: s for s in SETTINGS}


def _file_values() -> dict:
    path = Path(os.environ.get("LAWKB_SETTINGS", "lawkb.toml"))
    if not path.is_file():
        return {}
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    return data.get("lawkb", data)


def get(name: str, override: Any = None) -> Any:
    """The value of a setting, converted to its kind."""
    setting = _BY_NAME[name]
    if override not in (None, ""):
        value = override
    elif os.environ.get(setting.env, "") != "":
        value = os.environ[setting.env]
    else:
        value = _file_values().get(name, setting.default)
    return setting.kind(value) if value is not None else None


def today() -> str:
    return get("today") or _dt.date.today().isoformat()


def shared_dir() -> Path:
    return Path(get("shared")).expanduser().resolve()

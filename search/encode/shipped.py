"""Choosing a learned file (query adapter, model tuning) under its setting: auto, none, or a path."""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import TypeVar

from lawkb.core import settings
from lawkb.core.errors import KBError

T = TypeVar("T")


def shipped_folder(name: str) -> Path:
    """A folder of learned files shipped in the package lawkb.corpus (corpus/ in the repository)."""
    return Path(str(resources.files("lawkb.corpus"))) / name


def choose(setting: str, choice: str | None, shipped: Path, load: Callable[[Path | str], T],
           mismatch: Callable[[T], str | None], noun: str) -> T | None:
    """The file the setting asks for: 'none' (or 'off') → None; 'auto' → the first file in shipped that
    loads and fits (mismatch returns None), else None; a path → that file, or KBError in one line when it
    cannot be read or does not fit (mismatch's reason)."""
    choice = settings.get(setting, choice)
    if choice in ("none", "off", ""):
        return None
    if choice != "auto":
        try:
            item = load(choice)
        except (OSError, ValueError, KeyError) as exc:
            raise KBError(f"{setting} {choice}: not a readable {noun} ({type(exc).__name__}: {exc})") from None
        why = mismatch(item)
        if why:
            raise KBError(f"{setting} {choice}: {why}")
        return item
    for path in sorted(shipped.glob("*.npz")):
        try:
            item = load(path)
        except (OSError, ValueError, KeyError):
            continue
        if not mismatch(item):
            return item
    return None

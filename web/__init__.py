"""The Flask site and JSON API: `create_app(config)` builds it, `lawkb serve` runs it."""

from .app import create_app

__all__ = ["create_app"]

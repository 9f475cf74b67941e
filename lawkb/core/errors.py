"""The errors a person can act on, each carrying the HTTP status the site answers with."""

from __future__ import annotations


class KBError(Exception):
    """A knowledge-base problem the user can act on (wrong locator, missing KB, unknown law)."""

    status = 400


class NotFound(KBError):
    status = 404


class QueryError(ValueError):
    """A query that cannot be run as given; the message says why."""

    status = 400

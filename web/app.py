"""The application factory."""

from __future__ import annotations

import secrets
from typing import Any

from flask import Flask

from lawkb.core import settings

from . import errors, links, security
from .resources import Resources


def _defaults() -> dict[str, Any]:
    return {
        "KB_LOCATOR": settings.get("kb"),
        "USE_MODEL": True,
        "RATE_LIMIT_PER_MINUTE": settings.get("web_rate_limit"),
        "MAX_CONTENT_LENGTH": settings.get("web_max_upload_mb") << 20,
        "ADMIN_TOKEN": settings.get("web_admin_token"),
        "QUERY_LOG": settings.get("web_query_log"),
        "SECRET_KEY": settings.get("web_secret") or secrets.token_hex(32),
        "TRUSTED_HOSTS_SETTING": settings.get("web_trusted_hosts"),
        "PUBLIC_URL": settings.get("web_public_url"),
        "PAGE_SIZE": 10,
        "JSON_AS_ASCII": False,
    }


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """The site over one knowledge base.

    config may hold KB (an open KnowledgeBase) and SEARCHER (its searcher) to share them with the
    caller; otherwise KB_LOCATOR is opened. Other keys: USE_MODEL, RATE_LIMIT_PER_MINUTE,
    MAX_CONTENT_LENGTH, ADMIN_TOKEN, QUERY_LOG, SECRET_KEY, PAGE_SIZE, TRUSTED_HOSTS_SETTING, PUBLIC_URL,
    HEAVY_SLOTS, QUEUE_TIMEOUT (defaults from lawkb.core.settings).
    """
    app = Flask(__name__)
    app.config.update(_defaults())
    app.config.update(config or {})
    app.config["MAX_FORM_MEMORY_SIZE"] = app.config["MAX_CONTENT_LENGTH"]
    app.json.ensure_ascii = False

    kb = app.config.get("KB")
    if kb is None:
        from lawkb.search import open_kb

        kb = open_kb(app.config["KB_LOCATOR"])
    searcher = app.config.get("SEARCHER")
    if searcher is None:
        from lawkb.search import open_searcher

        searcher = open_searcher(kb, use_model=app.config["USE_MODEL"])
    app.extensions["lawkb"] = Resources(kb, searcher, query_log=app.config["QUERY_LOG"])

    errors.register(app)
    security.register(app)
    from . import admission

    admission.register(app)   # after the rate limit: a client over it gets 429, not a slot
    links.register(app)
    from . import filters

    filters.register(app)

    from .views import api, laws, lawyer, resident, staff

    for module in (resident, laws, lawyer, staff, api):
        app.register_blueprint(module.bp)
    return app

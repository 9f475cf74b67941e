"""Full links (the API's `url` fields, exports, the OpenAPI server) that a forged Host header cannot
steer. The Host a request names is written into a link only where the operator listed it as trusted;
with a public address set, that address is used; otherwise the link is a path, which clients resolve
against the address they called."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, current_app, request, url_for


def absolute_url(endpoint: str, **values) -> str:
    base = current_app.config.get("PUBLIC_URL") or ""
    if base:
        return base.rstrip("/") + url_for(endpoint, **values)
    if current_app.config.get("TRUSTED_HOSTS"):
        return url_for(endpoint, _external=True, **values)   # Flask has already checked the Host
    return url_for(endpoint, **values)


def register(app: Flask) -> None:
    hosts = [h.strip().lower() for h in (app.config.get("TRUSTED_HOSTS_SETTING") or "").split(",") if h.strip()]
    if hosts and not app.config.get("TRUSTED_HOSTS"):
        app.config["TRUSTED_HOSTS"] = hosts

    app.jinja_env.globals["absolute_url"] = absolute_url

    @app.after_request
    def _relative_redirects(resp):
        # Werkzeug writes redirects (/lawyer → /lawyer/) as full URLs with the request's Host; the path
        # alone takes the browser to the same page on the host it really asked.
        location = resp.headers.get("Location")
        if location:
            parts = urlsplit(location)
            if parts.netloc and parts.netloc.lower() == request.host.lower():
                resp.headers["Location"] = parts.path + (f"?{parts.query}" if parts.query else "")
        return resp

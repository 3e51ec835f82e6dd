"""The collection on the web: an upload page per agency, a dashboard for the office, a JSON API.

A thin Starlette layer over :mod:`toolkit.collection` (every decision — checking, storing, what
counts, the status — is the store's). Imported only by ``toolkit serve``, so ``toolkit check``
never loads Starlette, Jinja2 or uvicorn.
"""

from __future__ import annotations

from .app import create_app

__all__ = ["create_app"]

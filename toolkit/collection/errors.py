"""The collection's one error: something the office asked for that cannot be done, in Chinese and English."""

from __future__ import annotations

from ..errors import ToolkitError


class CollectionError(ToolkitError):
    """One line saying why, in both languages; the command line prints it and exits 1."""

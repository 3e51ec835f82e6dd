"""Fixtures shared by the test modules."""

from __future__ import annotations

import pytest

import libreoffice


@pytest.fixture(scope="session")
def lo():
    """One headless LibreOffice for the whole test session (tests/libreoffice.py); the test is
    skipped, naming the missing program, where soffice or the Python-UNO bridge is absent."""
    reason = libreoffice.missing()
    if reason:
        pytest.skip(reason)
    office = libreoffice.LibreOffice()
    yield office
    office.close()


def pytest_collection_modifyitems(config, items):
    """Tests that drive LibreOffice carry the ``libreoffice`` marker (and are slow), so
    ``-m "not slow"`` gives the quick run."""
    for item in items:
        if "lo" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.libreoffice)
            item.add_marker(pytest.mark.slow)

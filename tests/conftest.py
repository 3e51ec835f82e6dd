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


# The quick run (``python -m pytest -m "not slow"``) is a developer's edit loop; CI runs everything.
# A test is slow when it needs a real external program (LibreOffice, PostgreSQL, Chromium, a wheel
# build), spends a budget (fuzzing, benchmarks, random differentials against the formulas engine),
# spawns fresh interpreters to kill or time them, or is the larger twin of a quick test (Form B's 42
# samples beside Form A's 15) — never only because it is long to read; every command and the library
# keep quick tests. Marked here, by what the test uses, so the reason is written once:

# fixtures that start a real program or spend a budget
SLOW_FIXTURES = {
    "lo": "drives a real headless LibreOffice (also marked libreoffice)",
    "pg_server": "starts a real PostgreSQL server (initdb + pg_ctl) or uses TOOLKIT_TEST_PG_URL",
    "pg_url": "creates a database on a real PostgreSQL server",
    "fuzz_run": "a fuzzing budget: thousands of mutants checked for FUZZ_BUDGET seconds in child processes",
    "corpus": "test_corpus.py's whole corpus: the heavy cases too (zip and XML bombs, 5000 sheets, a million "
              "shared strings), each checked in a fresh memory-limited interpreter; the light cases are checked "
              "one by one in the quick run (light_corpus)",
}

# whole modules whose every test is heavy
SLOW_MODULES = {
    "test_benchmarks.py": "runs each benchmark script in its own interpreter (seconds to tens of seconds)",
    "test_collection_bench.py": "runs the collection benchmark script in its own interpreter",
    "test_collection_faults.py": "spawns `toolkit collect receive` processes and SIGKILLs them at random points, "
                                 "and runs concurrent receives (SQLite and PostgreSQL)",
}
# (test_wheel.py and test_web_browser.py mark themselves with pytestmark; single heavy tests carry
# @pytest.mark.slow where they are written, with the reason beside it.)


def pytest_collection_modifyitems(config, items):
    """Mark ``slow`` the tests that use a fixture of SLOW_FIXTURES, live in a module of SLOW_MODULES
    or run on the ``postgresql`` parameter of a ``db`` fixture (tests/test_collection*.py); tests
    that drive LibreOffice also carry the ``libreoffice`` marker."""
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if "lo" in names:
            item.add_marker(pytest.mark.libreoffice)
        callspec = getattr(item, "callspec", None)
        on_postgresql = callspec is not None and callspec.params.get("db") == "postgresql"
        if names & SLOW_FIXTURES.keys() or item.path.name in SLOW_MODULES or on_postgresql:
            item.add_marker(pytest.mark.slow)

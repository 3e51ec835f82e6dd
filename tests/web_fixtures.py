"""Shared set-up of the web tests: a store of the bundled sample collection, links, a password."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RETURNS = ROOT / "workbooks" / "returns-2021"
ROSTER = ROOT / "workbooks" / "sample-roster.csv"
FORM = "gov-info-disclosure-2021"
YEAR = 2023
PASSWORD = "correct horse battery"
D001 = RETURNS / "D001_市发展和改革局.xlsx"
D002 = RETURNS / "D002_市经济和信息化局.xlsx"          # one error, at 二、主动公开情况!B13
D004 = RETURNS / "D004_市科学技术局.xlsx"              # rejected by the reader


@dataclass
class Site:
    db: str
    links: dict[str, str]            # agency code → token


def make_site(db: str, deadline: str = "2099-01-15") -> Site:
    import datetime as dt

    from toolkit.collection import Store, init_collection
    from toolkit.collection.access import issue_links, set_password

    init_collection(db, FORM, YEAR, str(ROSTER), deadline=dt.date.fromisoformat(deadline))
    with Store(db) as store:
        links = {x.agency_code: x.token for x in issue_links(store)}
        set_password(store, PASSWORD)
    return Site(db, links)


def corrected_d002(folder: Path) -> Path:
    """D002 with its one error put right (B13 holds a number), saved as an agency would."""
    sys.path.insert(0, str(Path(__file__).parent))
    import filled

    return filled.set_text(D002, "二、主动公开情况", "B13", 0, folder / "D002_市经济和信息化局（更正）.xlsx")


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, "no CSRF field in the page"
    return m.group(1)

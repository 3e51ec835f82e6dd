"""What the store hands back: plain dataclasses, so the command line, the web service and tests
render the same data (text, JSON, CSV are renderings of these)."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

# Per-agency status of a collection, as the office says it.
AGENCY_STATUS = {
    "missing": ("未报送", "not received"),
    "overdue": ("逾期", "overdue"),
    "invalid": ("已报送有误", "received with errors"),
    "sent_back": ("已退回", "sent back"),
    "passed": ("已通过", "passed"),
    "unknown": ("不在名单", "not on the roster"),
}


@dataclass(frozen=True)
class CollectionInfo:
    id: int
    form_id: str
    form_version: str
    period: str
    office: str
    deadline: dt.date | None
    created_at: dt.datetime

    @property
    def key(self) -> str:
        """How a person names it: form/period[/office]."""
        return "/".join(p for p in (self.form_id, self.period, self.office) if p)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["deadline"] = self.deadline.isoformat() if self.deadline else None
        d["created_at"] = self.created_at.isoformat()
        d["key"] = self.key
        return d


@dataclass
class Receipt:
    """What happened to one file given to ``receive``."""
    file: str
    outcome: str                 # stored | already | error
    collection: str = ""
    return_id: int | None = None
    agency_code: str = ""
    status: str = ""             # valid | invalid | rejected (the check verdict)
    sha256: str = ""
    message_zh: str = ""
    message_en: str = ""

    def message(self, lang: str = "zh") -> str:
        return self.message_en if lang == "en" else self.message_zh


@dataclass
class AgencyState:
    code: str
    name: str
    group: str
    status: str                  # key of AGENCY_STATUS
    versions: int = 0
    last_arrival: dt.datetime | None = None
    counted_id: int | None = None
    counted_sha256: str = ""
    pinned: bool = False
    late: bool = False
    errors: int = 0              # of the latest version
    warnings: int = 0
    note: str = ""

    def label(self, lang: str = "zh") -> str:
        zh, en = AGENCY_STATUS[self.status]
        return en if lang == "en" else zh

    def to_json(self, lang: str = "zh") -> dict[str, Any]:
        d = asdict(self)
        d["status_label"] = self.label(lang)
        d["last_arrival"] = self.last_arrival.isoformat() if self.last_arrival else None
        return d


@dataclass
class StatusReport:
    collection: CollectionInfo
    agencies: list[AgencyState]
    as_of: dt.datetime

    def counts(self) -> dict[str, int]:
        out = {k: 0 for k in AGENCY_STATUS}
        for a in self.agencies:
            out[a.status] += 1
        return out

    def to_json(self, lang: str = "zh") -> dict[str, Any]:
        return {"collection": self.collection.to_json(), "as_of": self.as_of.isoformat(), "counts": self.counts(),
                "agencies": [a.to_json(lang) for a in self.agencies]}


@dataclass
class Change:
    code: str
    label: str
    before: Any
    after: Any


@dataclass
class Version:
    """One received file of one agency, and what changed against the version before it."""
    id: int
    sha256: str
    file_name: str
    sender: str
    arrived_at: dt.datetime
    status: str                  # valid | invalid | rejected
    reason: str
    errors: int
    warnings: int
    fill_date: str | None
    counted: bool = False
    pinned: bool = False
    changes: list[Change] = field(default_factory=list)
    compared_with: int | None = None

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["arrived_at"] = self.arrived_at.isoformat()
        return d

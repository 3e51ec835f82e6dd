"""The identity a template carries: which form, which version, which agency.

It is written twice — a very hidden sheet and custom document properties — because spreadsheet
programs mangle one or the other on save (LibreOffice turns very hidden sheets into hidden ones
and integer properties into decimals). Every value is stored as text so no program can change
its type, and the reader accepts the identity from whichever copy survived.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

IDENTITY_FORMAT = "toolkit-template/1"
# A summary workbook the toolkit wrote carries the same identity, with this format, the office that
# made it, the agencies it counts and a digest of its detail (toolkit.rollup reads it back).
SUMMARY_FORMAT = "toolkit-summary/1"
FORMATS = (IDENTITY_FORMAT, SUMMARY_FORMAT)
PROPERTY_PREFIX = "toolkit."
PROPERTY_LIMIT = 255   # Excel's longest document property value; the sheet copy keeps the full text


@dataclass(frozen=True)
class Identity:
    format: str
    schema_id: str
    schema_version: str
    schema_hash: str
    agency_code: str
    agency_name: str
    agency_group: str
    period: str
    template_id: str
    generated_at: str
    toolkit_version: str
    layout_version: str = ""
    revision_of: str = ""          # a 退回 copy names the template id it was made from
    office: str = ""               # a summary: who made it (merge --office)
    agencies: str = ""             # a summary: the codes of the agencies it counts, one a line
    detail_hash: str = ""          # a summary: sha256 of its identity and counted detail (toolkit.rollup)

    def items(self) -> list[tuple[str, str]]:
        return [(k, str(v)) for k, v in asdict(self).items()]

    def agrees_with(self, other: Identity) -> str | None:
        """The first field two copies disagree on (None when they agree), allowing for the
        property copy being cut at Excel's 255-character limit."""
        for k in self.keys():
            a, b = getattr(self, k), getattr(other, k)
            if a != b and a[:PROPERTY_LIMIT] != b[:PROPERTY_LIMIT]:
                return k
        return None

    @classmethod
    def keys(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    @classmethod
    def from_mapping(cls, data: dict[str, object]) -> Identity:
        """Build from what a reader found; numbers a program turned into floats become text again."""
        def text(v: object) -> str:
            if v is None:
                return ""
            if isinstance(v, float) and v.is_integer():
                return str(int(v))
            return str(v).strip()
        return cls(**{k: text(data.get(k)) for k in cls.keys()})

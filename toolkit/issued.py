"""Which template was issued to which agency: returns checked against the manifest.

The identity a return carries (hidden sheet and document properties) can be edited consistently,
both copies alike, to another agency's code: the forged return would then stand for that agency
and could replace its genuine return. ``template`` wrote every template's id into manifest.csv
beside the agency it was made for; with ``--manifest`` a return whose template id was issued to
another agency, or never issued at all, is rejected, saying which.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .errors import InputProblem
from .guard import manifest_rows
from .validate import Result


class ManifestError(InputProblem):
    """A manifest that cannot be used (one line)."""

    exit_code = 1


def read_issued(path: str | Path) -> dict[str, str]:
    """template id → the agency code it was issued to."""
    p = Path(path)
    if not p.is_file():
        raise ManifestError(f"{path}：不是可读取的 manifest.csv", f"{path}: not a readable manifest.csv")
    rows = manifest_rows(p)
    issued = {r.get("template_id", "").strip(): r.get("agency_code", "").lstrip("'").strip() for r in rows}
    issued.pop("", None)
    if not issued:
        raise ManifestError(f"{path}：没有 template_id 列（应是 toolkit template 写出的 manifest.csv）",
                            f"{path}: no template_id column with values (is it the manifest.csv written by `toolkit template`?)")
    return issued


def verify_issued(results: Sequence[Result], issued: dict[str, str]) -> None:
    """Reject, in place, every return whose template id does not belong to the agency it claims."""
    for r in results:
        ident = r.identity
        if r.status == "rejected" or ident is None or not ident.schema_id or r.kind == "summary":
            continue            # a summary was not issued: toolkit.rollup checks it against itself
        owner = issued.get(ident.template_id)
        if owner is None:
            zh = f"模板编号 {ident.template_id or '（空）'} 不在下发清单中：这份模板不是下发给任何单位的"
            en = f"template id {ident.template_id or '(empty)'} is not in the manifest: it was never issued"
        elif owner != ident.agency_code:
            zh = f"这份模板是下发给 {owner} 的，却自称 {ident.agency_code}（标识被改动），已拒收"
            en = f"the template was issued to {owner} but claims to be {ident.agency_code} (identity altered)"
        else:
            continue
        r.status, r.reason_zh, r.reason_en = "rejected", zh, en
        r.values = {}

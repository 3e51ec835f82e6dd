"""The toolkit as a Python library: the calls behind every command, in one place.

The command line and (later) the web service are thin layers over exactly these functions, so a
script, a notebook or a scheduler job can run the whole cycle without shelling out::

    import toolkit
    form = toolkit.load_form("gov-info-disclosure-2021")
    batch = toolkit.make_templates(form, "out/templates", roster="workbooks/sample-roster.csv")
    results = toolkit.check(["returned/"])
    summary = toolkit.merge(results, roster="workbooks/sample-roster.csv")
    toolkit.write_summary(summary, "out/summary.xlsx")

Every expected failure raises a :class:`toolkit.ToolkitError` with a one-line reason in Chinese
and English (``e.message("zh")``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

from .consolidation import Consolidation, choose_form, consolidate
from .discover import Found
from .errors import NoWorkbooks
from .export import write_csv, write_json
from .previous import Previous
from .registry import Registry
from .roster import Agency, read_roster
from .schema import Form, resolve
from .schema import load_form as _load_form_source
from .validate import Result

__all__ = ["load_form", "load_roster", "registry_of", "make_templates", "find_workbooks", "find_inputs", "check", "merge",
           "write_summary", "write_report", "write_json", "write_csv", "TemplateBatch", "load_previous", "Previous"]

PathLike = Union[str, "os.PathLike[str]"]
FormsArg = Union[Registry, Iterable[Form | PathLike], None]
RosterArg = Union[PathLike, Sequence[Agency], None]
PreviousArg = Union[PathLike, Previous, None]


def load_previous(source: PathLike | Previous, forms: FormsArg = None, schema_dirs: Iterable[PathLike] = ()) -> Previous:
    """Last year's figures per agency from last year's summary workbook, its JSON export, or a
    folder of last year's returns (see :mod:`toolkit.previous`); a Previous is returned as it is."""
    if isinstance(source, Previous):
        return source
    from .previous import load_previous as _load

    return _load(os.fspath(source), forms, schema_dirs)


def load_form(id_or_path: PathLike | Form) -> Form:
    """A checked form from a shipped form's id (``"gov-info-disclosure-2021"``) or a schema file.

    Raises :class:`toolkit.SchemaError` listing every problem when the schema cannot be used.
    """
    if isinstance(id_or_path, Form):
        return id_or_path
    return _load_form_source(resolve(os.fspath(id_or_path)))


def load_roster(roster: RosterArg) -> list[Agency] | None:
    """The agencies of a roster file (CSV or XLSX), or the given list as it is; None stays None."""
    if roster is None:
        return None
    if isinstance(roster, (str, os.PathLike)):
        return read_roster(os.fspath(roster))
    return list(roster)


def registry_of(forms: FormsArg = None, schema_dirs: Iterable[PathLike] = ()) -> Registry:
    """A registry knowing the shipped forms, ``schema_dirs`` and ``forms`` (Form objects or schema
    files); passing a Registry returns it, with ``schema_dirs`` added."""
    dirs = [os.fspath(d) for d in schema_dirs]
    if isinstance(forms, Registry):
        if not dirs:
            return forms
        reg = Registry((*forms.schema_dirs, *dirs), include_shipped=forms.include_shipped)
        for form in forms.added():
            reg.add(form)
        return reg
    reg = Registry(dirs)
    for f in forms or ():
        reg.add(load_form(f))
    return reg


@dataclass
class TemplateBatch:
    """What :func:`make_templates` wrote: the folder, one manifest row per template, the password."""
    out_dir: Path
    rows: list[Any]               # toolkit.template.ManifestRow
    password: str
    password_generated: bool

    @property
    def manifest(self) -> Path:
        from .template import MANIFEST_NAME
        return self.out_dir / MANIFEST_NAME

    @property
    def files(self) -> list[Path]:
        return [self.out_dir / r.file for r in self.rows]


def make_templates(form: Form | PathLike, out_dir: PathLike, roster: RosterArg = None, year: int | None = None,
                   password: str | None = None, jobs: int | None = None,
                   progress: Callable[[int], None] | None = None, contact: str = "",
                   previous: PreviousArg = None) -> TemplateBatch:
    """Write one locked template per agency of ``roster`` (or one blank template) and manifest.csv.

    ``password`` protects sheets and structure; without one a password is generated and written to
    the manifest (a password you choose is not written anywhere). ``progress(n)`` is called as
    templates are written. ``contact`` (whom agencies ask) goes into every 填表说明.
    ``previous`` (last year's summary, its JSON or returns: :func:`load_previous`) fills each
    agency's 上年数 column and the figures its prev() checks compare with.
    """
    from .template import generate_templates

    form = load_form(form)
    agencies = load_roster(roster)
    last = load_previous(previous, [form]) if previous is not None else None
    if last is not None:
        last.check_form(form.id, str(year or form.period_default or ""))
    rows, pw = generate_templates(form, os.fspath(out_dir), agencies, year=year, password=password,
                                  jobs=jobs or os.cpu_count() or 1, progress=progress, contact=contact,
                                  previous=last.values if last is not None else None)
    return TemplateBatch(Path(out_dir), list(rows), pw, password is None)


def find_workbooks(paths: Iterable[PathLike]) -> list[Path]:
    """Every workbook (.xlsx .xlsm .xls .ods) at or under ``paths``, in a stable order (archives
    are not opened; :func:`find_inputs` opens them and says why each other path is not read)."""
    found = find_inputs(paths, open_archives=False)
    found.cleanup()
    return found.files


def find_inputs(paths: Iterable[PathLike] | PathLike, open_archives: bool = True) -> Found:
    """What ``paths`` hold: workbooks to read (also out of .zip archives) and every other path with
    the reason it is not read. Pass the result to :func:`check` or :func:`merge`; call its
    ``cleanup()`` (or use it as a context manager) to remove extracted files."""
    from .discover import find_inputs as _find

    path_list = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    return _find([os.fspath(p) for p in path_list], open_archives=open_archives)


def check(paths: Iterable[PathLike] | PathLike | Found, forms: FormsArg = None, schema_dirs: Iterable[PathLike] = (),
          jobs: int | None = None, progress: Callable[[Result], None] | None = None,
          period: str | int | None = None, check_period: bool = True, manifest: PathLike | None = None,
          previous: PreviousArg = None) -> list[Result]:
    """Check every workbook at or under ``paths``; one :class:`Result` per file, in file order.

    Files are read in isolated worker processes with memory and time limits, so a hostile file
    costs only itself. ``forms`` (a Registry, Form objects or schema files) and ``schema_dirs``
    add forms besides the shipped ones, and reach the workers. Raises :class:`NoWorkbooks` when
    there is nothing to check.

    The collection's period is ``period`` or, without it, the one most returns of each form carry
    (:func:`toolkit.period.collection_periods`); a return of another period is rejected naming
    both, unless ``check_period`` is False. With ``manifest`` (the manifest.csv of the issued
    templates) a return whose template id was issued to another agency, or never, is rejected.

    Every path under ``paths`` that is not read (not a workbook, unreadable, a loop, a WPS .et) is
    a rejected Result with its reason; workbooks inside .zip archives are read as
    ``archive.zip!inner.xlsx``.

    With ``previous`` (last year's figures: :func:`load_previous`) the form's prev() rules run for
    each return against its own agency's figures of last year; an agency with none last year is
    not an error (``Previous.absent(results)`` lists them).
    """
    from .discover import check_found

    last = load_previous(previous, forms, schema_dirs) if previous is not None else None
    found = paths if isinstance(paths, Found) else find_inputs(paths)
    try:
        if not found.files:
            if isinstance(paths, Found):
                named: list[str] = list(paths.roots)
            elif isinstance(paths, (str, os.PathLike)):
                named = [os.fspath(paths)]
            else:
                named = [os.fspath(p) for p in paths]
            raise NoWorkbooks(named or [s.path for s in found.skipped], found.skipped)
        issued = _read_issued(manifest)
        registry = registry_of(forms, schema_dirs)
        results = check_found(found, registry, jobs=jobs, progress=_building_forms(registry, progress))
    finally:
        if found is not paths:
            found.cleanup()
    if issued is not None:
        from .issued import verify_issued
        verify_issued(results, issued)
    if check_period:
        _refuse_other_periods(results, registry, period)
    if last is not None:
        from .previous import apply_previous
        apply_previous(results, last, registry)
    return results


def _building_forms(registry: Registry, progress: Callable[[Result], None] | None) -> Callable[[Result], None]:
    """``progress``, and on the first return of each form edition, that form built here too.

    The period check and the merge need the Form in this process after the reads; built while the
    workers are still reading, it is ready when they finish instead of being built after them.
    """
    seen: set[tuple[str, str]] = set()

    def on_result(r: Result) -> None:
        ident = r.identity
        if ident is not None and ident.schema_id and r.status != "rejected":
            key = (ident.schema_id, ident.schema_version)
            if key not in seen:
                seen.add(key)
                try:
                    registry.get(*key)
                except Exception:       # the merge says why, later, as it always did
                    pass
        if progress is not None:
            progress(r)

    return on_result


def _read_issued(manifest: PathLike | None) -> dict[str, str] | None:
    if manifest is None:
        return None
    from .issued import read_issued
    return read_issued(os.fspath(manifest))


def _refuse_other_periods(results: list[Result], registry: Registry, period: str | int | None) -> None:
    from .period import collection_periods, refuse_other_periods

    labels: dict[str, str] = {}
    for r in results:
        ident = r.identity
        if ident and ident.schema_id and ident.schema_id not in labels and r.status != "rejected":
            try:
                labels[ident.schema_id] = registry.get(ident.schema_id, ident.schema_version).period_label
            except Exception:       # an unknown form was already rejected by the reader
                continue
    refuse_other_periods(results, collection_periods(results, period), labels)


def merge(paths_or_results: Iterable[PathLike | Result] | PathLike | Found, roster: RosterArg = None,
          include_invalid: bool = False, forms: FormsArg = None, schema_dirs: Iterable[PathLike] = (),
          jobs: int | None = None, progress: Callable[[Result], None] | None = None,
          period: str | int | None = None, manifest: PathLike | None = None, office: str = "",
          previous: PreviousArg = None) -> Consolidation:
    """Consolidate returns into totals, per-agency detail and who is missing.

    Takes paths (which are checked first, as :func:`check` does) or the results of an earlier
    :func:`check`. Invalid returns are left out of the totals unless ``include_invalid``; of two
    returns from one agency the later 填报日期, then the later file time, counts. Raises
    :class:`toolkit.MergeError` when the returns are of different editions of a form. Returns of
    another period than ``period`` (default: the one most returns carry) are rejected and listed.

    A summary workbook this toolkit wrote is an input like a return: it is checked (its totals
    against its detail, its identity against its digest; see :mod:`toolkit.rollup`) and stands
    for the agencies it counted, one submission each, so an agency found in two summaries, or in
    a summary and as a file of its own, is a duplicate. ``office`` names who makes this summary;
    it is written into the summary's identity and becomes the 上级单位 of its agencies one level up.

    With ``previous`` (last year's figures), the prev() rules run per agency before the merge
    decides what counts, and the consolidation carries last year's totals (the summary's 上年 and
    增减% columns) and the agencies absent last year (``previous_absent``).
    """
    registry = registry_of(forms, schema_dirs)
    last = load_previous(previous, registry) if previous is not None else None
    agencies = load_roster(roster)
    if isinstance(paths_or_results, Found):
        results = check(paths_or_results, registry, jobs=jobs, progress=progress, check_period=False, manifest=manifest)
    else:
        items = [paths_or_results] if isinstance(paths_or_results, (str, os.PathLike)) else list(paths_or_results)
        results = [i for i in items if isinstance(i, Result)]
        paths = [i for i in items if not isinstance(i, Result)]
        if paths:
            results += check(paths, registry, jobs=jobs, progress=progress, check_period=False, manifest=manifest)
        if not results:
            raise NoWorkbooks([os.fspath(p) for p in paths])
    _refuse_other_periods(results, registry, period)
    if last is not None:
        from .previous import apply_previous
        apply_previous(results, last, registry)
    form = choose_form(results, registry)
    c = consolidate(results, form, agencies, include_invalid)
    from .period import collection_periods
    c.period = collection_periods(results, period).get(form.id, "")
    c.office = office.strip()
    if last is not None:
        last.check_form(form.id, c.period)
        c.previous_totals = dict(last.totals)
        absent = {s.code: s.name for s in c.submissions
                  if s.status != "rejected" and not s.code.startswith("?") and last.of(s.code) is None}
        c.previous_absent = list(absent.items())
    return c


def write_summary(consolidation: Consolidation, path: PathLike, by_group: bool = False) -> Path:
    """Write the summary workbook (汇总, 明细, 报送情况, 问题清单, 来源) atomically; returns the path.

    ``by_group`` adds one set of 汇总 sheets in the form's layout per roster group.
    """
    from .summary import write_summary as _write

    _write(consolidation, os.fspath(path), by_group=by_group)
    return Path(path)


def write_report(results: Sequence[Result], path: PathLike | None = None, format: str = "text",
                 lang: str = "zh") -> str:
    """Render check results as text, JSON or CSV; written atomically to ``path`` when given."""
    from .files import write_text_atomic
    from .report import render_csv, render_json, render_text

    renderers = {"text": render_text, "json": render_json, "csv": render_csv}
    if format not in renderers:
        raise ValueError(f"format must be one of {', '.join(renderers)}")
    text = renderers[format](results, lang)
    if path is not None:
        write_text_atomic(os.fspath(path), text)
    return text

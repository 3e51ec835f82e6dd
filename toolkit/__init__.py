"""Spreadsheet template toolkit for statistical reporting.

One indicator schema drives the whole cycle: locked Excel templates for every agency, reading
their returns back with validation, and merging them into a summary. The functions below are the
library; the ``toolkit`` command is a thin layer over them (see docs/library.md)::

    import toolkit
    form = toolkit.load_form("gov-info-disclosure-2021")
    toolkit.make_templates(form, "out/templates", roster="roster.csv", year=2023)
    results = toolkit.check(["returned/"])
    summary = toolkit.merge(results, roster="roster.csv")
    toolkit.write_summary(summary, "out/summary.xlsx")
"""

__version__ = "0.1.0"

from .api import (
    TemplateBatch,
    check,
    find_workbooks,
    load_form,
    load_previous,
    load_roster,
    make_templates,
    merge,
    registry_of,
    write_report,
    write_summary,
)
from .consolidation import Consolidation, MergeError, Submission
from .errors import (
    InputProblem,
    MergeRefused,
    NoWorkbooks,
    OutputRefused,
    RejectedFile,
    RosterProblem,
    SchemaProblem,
    ToolkitError,
)
from .export import write_csv, write_json
from .issues import Issue
from .package import Rejected
from .previous import Previous, PreviousProblem
from .registry import Registry
from .roster import Agency, RosterError
from .schema import Form, SchemaError
from .validate import Result

__all__ = [
    "__version__",
    # the cycle
    "load_form", "load_roster", "make_templates", "find_workbooks", "check", "merge",
    "write_summary", "write_report", "write_json", "write_csv", "registry_of", "load_previous",
    # the model and results
    "Form", "Agency", "Registry", "Result", "Issue", "Consolidation", "Submission", "TemplateBatch", "Previous",
    # errors
    "ToolkitError", "SchemaProblem", "SchemaError", "RosterProblem", "RosterError", "RejectedFile", "Rejected",
    "MergeRefused", "MergeError", "OutputRefused", "InputProblem", "NoWorkbooks", "PreviousProblem",
]

"""One error hierarchy for everything the toolkit refuses to do.

Every expected failure — a schema that cannot be used, a roster with bad lines, a file that is not
a return, a merge that must not go ahead, an output path that would overwrite an input — is a
:class:`ToolkitError` carrying one line in Chinese (for the office) and one in English (for the
technical person). The command line maps the classes to exit codes in one place
(:data:`EXIT_CODES`), and a library user catches ``toolkit.ToolkitError`` once instead of learning
each module's exceptions.
"""

from __future__ import annotations

from collections.abc import Sequence
from os import PathLike
from typing import Any


class Bilingual(str):
    """A one-line message that is its English text as a ``str`` and carries the Chinese in ``zh``.

    Problem lists (roster lines, schema problems) stay plain strings for code that greps them,
    while the command line shows them in the user's language with :meth:`text`.
    """

    zh: str

    def __new__(cls, zh: str, en: str) -> Bilingual:
        self = super().__new__(cls, en)
        self.zh = zh
        return self

    def text(self, lang: str = "zh") -> str:
        return str.__str__(self) if lang == "en" else self.zh


def in_language(text: str, lang: str = "zh") -> str:
    """``text`` in ``lang`` when it is :class:`Bilingual`, else as it is."""
    return text.text(lang) if isinstance(text, Bilingual) else str(text)


class ToolkitError(Exception):
    """Base of every failure the toolkit expects; ``message(lang)`` is one line without internals."""

    exit_code = 1

    def __init__(self, zh: str, en: str | None = None):
        self.zh = zh
        self.en = en or zh
        super().__init__(self.en)

    def message(self, lang: str = "zh") -> str:
        """The one-line reason, in Chinese (default) or English."""
        text = self.en if lang == "en" else self.zh
        return " ".join(text.split())          # one line, whatever the parts contained


class SchemaProblem(ToolkitError):
    """A form schema that cannot be used (see :class:`toolkit.schema.SchemaError` for the details)."""


class RosterProblem(ToolkitError):
    """A roster that cannot be used (see :class:`toolkit.roster.RosterError`)."""


class RejectedFile(ToolkitError):
    """A file refused before or while reading: not a workbook, damaged, hostile, foreign."""


class MergeRefused(ToolkitError):
    """A merge that must not go ahead, e.g. returns of two editions of the form."""


class OutputRefused(ToolkitError):
    """An output that must not be written: it would replace an input, or its name lies about its kind."""


class InputProblem(ToolkitError):
    """Inputs that cannot be worked on: no workbooks under the given paths, a path that does not exist."""


class NoWorkbooks(InputProblem):
    """No workbook under the given paths; names them, since the user may have mistyped one."""

    def __init__(self, paths: Sequence[str | PathLike[str]], skipped: Sequence[Any] = ()):
        names = "、".join(str(p) for p in paths[:3]) + ("…" if len(paths) > 3 else "")
        names_en = ", ".join(str(p) for p in paths[:3]) + ("…" if len(paths) > 3 else "")
        zh = f"{names}：没有找到报表文件（.xlsx .xlsm .xls .ods）"
        en = f"{names_en}: no workbooks (.xlsx .xlsm .xls .ods) found"
        if skipped:
            # say what was there instead: the user may have pointed at the wrong folder
            zh += "；未读取：" + "；".join(f"{s.path}：{s.zh}" for s in skipped[:5]) + (f" 等 {len(skipped)} 个" if len(skipped) > 5 else "")
            en += "; not read: " + "; ".join(f"{s.path}: {s.en}" for s in skipped[:5]) + (f" (and {len(skipped) - 5} more)" if len(skipped) > 5 else "")
        super().__init__(zh, en)


# The command line's exit codes, by class (the first match in the class's MRO wins).
EXIT_CODES: dict[type[ToolkitError], int] = {
    ToolkitError: 1,
    InputProblem: 2,
}


def exit_code(error: ToolkitError) -> int:
    """The exit code for ``error``: the most specific class listed in :data:`EXIT_CODES`."""
    for cls in type(error).__mro__:
        if cls in EXIT_CODES:
            return EXIT_CODES[cls]
    return 1

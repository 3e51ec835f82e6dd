"""The forms the toolkit knows, by id and version: the shipped ones plus any ``--schema-dir``.

A returned workbook names its form and version; the reader asks the registry for exactly that
edition, and an unknown one is refused with the editions that are known — a version drift
between what the office sent and what it now expects is a real and common mistake.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .package import Rejected
from .schema import SCHEMA_PATH_VARIABLE, Form, SchemaError, env_schema_dirs, load_form, shipped_schemas


@dataclass(frozen=True)
class RegistrySpec:
    """What it takes to rebuild a registry in a worker process: folders and the documents of forms
    added in memory. Small and picklable, unlike the Forms themselves with their compiled rules."""
    schema_dirs: tuple[str, ...] = ()
    documents: tuple[tuple[str, dict[str, Any]], ...] = ()    # (source label, schema document)
    include_shipped: bool = True


class Registry:
    """The form editions a reader can recognise: shipped, from ``schema_dirs``, and added ones."""

    def __init__(self, schema_dirs: Iterable[str | Path] = (), include_shipped: bool = True):
        self.schema_dirs = tuple(str(d) for d in schema_dirs)
        self.include_shipped = include_shipped
        self._paths: dict[tuple[str, str], Path] = {}
        self._forms: dict[tuple[str, str], Form] = {}
        self._added: dict[tuple[str, str], Form] = {}
        self.problems: list[str] = []
        paths: list[Path] = list(shipped_schemas().values()) if include_shipped else []
        for d in self.schema_dirs:
            paths.extend(sorted(Path(d).glob("*.json")))
        for env_dir in env_schema_dirs():   # an office's own forms, without --schema-dir on every command
            paths.extend(sorted(env_dir.glob("*.json")))
        for p in paths:
            try:
                doc = json.loads(p.read_text(encoding="utf-8-sig"))
                key = (str(doc["id"]), str(doc["version"]))
            except (OSError, ValueError, KeyError, TypeError):
                if p.name != "indicator-schema.json":
                    self.problems.append(f"{p}: not a form schema (skipped)")
                continue
            self._paths.setdefault(key, p)

    def add(self, form: Form) -> None:
        """Make ``form`` known (it reaches worker processes too, through :meth:`spec`)."""
        self._forms[form.key] = form
        self._added[form.key] = form

    def added(self) -> list[Form]:
        """The forms added in memory with :meth:`add`."""
        return list(self._added.values())

    def spec(self, extra_dirs: Iterable[str | Path] = ()) -> RegistrySpec:
        """A picklable description of this registry, for :meth:`from_spec` in another process."""
        dirs = self.schema_dirs + tuple(str(d) for d in extra_dirs if str(d) not in self.schema_dirs)
        docs = tuple((f.source or "<schema>", f.document) for f in self._added.values())
        return RegistrySpec(dirs, docs, self.include_shipped)

    @classmethod
    def from_spec(cls, spec: RegistrySpec) -> Registry:
        reg = cls(spec.schema_dirs, include_shipped=spec.include_shipped)
        for label, doc in spec.documents:
            reg.add(load_form(doc, label))
        return reg

    def known(self) -> list[tuple[str, str]]:
        return sorted(set(self._paths) | set(self._forms))

    def versions(self, form_id: str) -> list[str]:
        return [v for i, v in self.known() if i == form_id]

    def get(self, form_id: str, version: str) -> Form:
        key = (form_id, version)
        if key in self._forms:
            return self._forms[key]
        if key not in self._paths:
            versions = self.versions(form_id)
            if versions:
                raise Rejected(f"表单 {form_id} 的版本 {version} 未知（已知版本：{'、'.join(versions)}）",
                               f"version {version} of form {form_id} is not known (known versions: {', '.join(versions)})")
            ids = sorted({i for i, _ in self.known()})
            raise Rejected(f"未知的表单 {form_id}（已知：{'、'.join(ids)}；自有表单请用 --schema-dir 指定其所在文件夹，"
                           f"或设置环境变量 {SCHEMA_PATH_VARIABLE}）",
                           f"unknown form {form_id!r} (known: {', '.join(ids)}; for a form of your own, name its folder "
                           f"with --schema-dir or in the environment variable {SCHEMA_PATH_VARIABLE})")
        try:
            form = load_form(self._paths[key])
        except SchemaError as e:
            raise Rejected(f"表单定义 {self._paths[key]} 有错误：{e}", f"the schema {self._paths[key]} is broken: {e}") from None
        self._forms[key] = form
        return form

"""Outputs never land on inputs: checked before a command does any work.

``merge -o summary.xlsx`` naming one of the returns, ``--csv`` naming the roster, ``check -o``
naming a workbook it is about to read, two outputs naming the same file, ``template -o`` aimed at a
folder of filled returns: each would replace something the user cannot get back. Paths are
compared as the file system sees them (symbolic links followed, hard links by inode), so
``./a/../x.xlsx`` and a link to ``x.xlsx`` are the same file.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from .errors import OutputRefused

WORKBOOK_EXTS = (".xlsx", ".xlsm", ".xls", ".ods", ".et", ".zip")


class Clash(OutputRefused):
    """An output that would replace an input (or another output); one line in each language."""


def _key(path: str | Path) -> tuple:
    """Identity of a path: (device, inode) when it exists, else its resolved absolute name."""
    p = Path(path)
    try:
        st = p.stat()
        return ("inode", st.st_dev, st.st_ino)
    except OSError:
        pass
    try:
        return ("name", str(p.resolve(strict=False)))
    except (OSError, RuntimeError):
        return ("name", os.path.abspath(p))


def check_outputs(outputs: Mapping[str, str | None], inputs: Iterable[str | Path] = (),
                  roster: str | None = None, manifest: str | None = None) -> None:
    """Raise Clash when an output (option name → path) is an input file, the roster, the manifest
    or another output. ``inputs`` are the files the command will read (as found under folders)."""
    named = [(opt, p) for opt, p in outputs.items() if p]
    seen: dict[tuple, str] = {}
    for opt, p in named:
        k = _key(p)
        if k in seen:
            raise Clash(f"{opt} 与 {seen[k]} 指向同一个文件（{p}），拒绝执行", f"{opt} and {seen[k]} name the same file ({p}); nothing was done")
        seen[k] = opt
    others = {}
    if roster:
        others[_key(roster)] = ("名单", "the roster", roster)
    if manifest:
        others[_key(manifest)] = ("清单", "the manifest", manifest)
    for opt, p in named:
        hit = others.get(_key(p))
        if hit:
            raise Clash(f"{opt} {p} 是{hit[0]}文件，不能被覆盖，拒绝执行", f"{opt} {p} is {hit[1]}; it would be overwritten; nothing was done")
    if not named:
        return
    wanted = {_key(p): (opt, p) for opt, p in named}
    for f in inputs:
        clash = wanted.get(_key(f))
        if clash:
            raise Clash(f"{clash[0]} {clash[1]} 是要读取的输入文件之一，不能被覆盖，拒绝执行",
                        f"{clash[0]} {clash[1]} is one of the input files; it would be overwritten; nothing was done")


def check_template_folder(out_dir: str | Path, file_names: Sequence[str], manifest_name: str,
                          roster: str | None = None) -> None:
    """``template -o DIR``: refuse a folder holding workbooks that are not this tool's templates
    (listed in its manifest.csv), and a roster that a template or the manifest would replace."""
    out = Path(out_dir)
    targets = [out / n for n in file_names] + [out / manifest_name]
    if roster:
        rk = _key(roster)
        for t in targets:
            if _key(t) == rk:
                raise Clash(f"名单文件 {roster} 会被输出覆盖，拒绝执行", f"the roster {roster} would be overwritten by an output; nothing was done")
    if not out.is_dir():
        return
    ours = set(manifest_files(out / manifest_name))
    try:
        entries = sorted(out.iterdir())
    except OSError:
        return
    strangers = [e.name for e in entries if e.name.lower().endswith(WORKBOOK_EXTS) and e.name not in ours
                 and not e.name.startswith(".")]
    if strangers:
        shown = "、".join(strangers[:3]) + ("……" if len(strangers) > 3 else "")
        raise Clash(f"输出文件夹 {out} 中已有不是本工具模板的工作簿（{shown}），可能是回收的报表；请换一个空文件夹",
                    f"the output folder {out} holds workbooks that are not its templates ({', '.join(strangers[:3])}"
                    f"{', …' if len(strangers) > 3 else ''}): perhaps returned reports; use an empty folder")


def manifest_files(path: str | Path) -> list[str]:
    """The ``file`` column of a manifest.csv (empty when there is none or it cannot be read)."""
    return [r.get("file", "").lstrip("'") for r in manifest_rows(path)]


def manifest_rows(path: str | Path) -> list[dict[str, str]]:
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return []
    try:
        return [dict(r) for r in csv.DictReader(text.splitlines())]
    except csv.Error:
        return []


def drop_previous_outputs(files: list[Path], outputs: Mapping[str, str | None], named: Sequence[str]) -> list[Path]:
    """Files found under input folders that are this command's own earlier outputs (a summary
    written into the folder it summarises) are not inputs. A file named on the command line, or
    one that is a return (it carries a template identity), stays, and check_outputs refuses it."""
    wanted = {_key(p) for p in outputs.values() if p}
    if not wanted:
        return files
    direct = {_key(p) for p in named}
    out = []
    for f in files:
        k = _key(f)
        if k in wanted and k not in direct and not _is_return(f):
            continue
        out.append(f)
    return out


def _is_return(path: Path) -> bool:
    """Whether a file carries a template identity — read in a worker, like every other read."""
    from .registry import Registry
    from .runner import check_many

    r = check_many([path], Registry(), jobs=1)[0]
    # a summary carries an identity too (toolkit.rollup), but the one at the output path is our own
    return bool(r.identity is not None and r.identity.schema_id and r.kind != "summary")

"""The command-line reference in docs/cli.md is generated from --help; a stale or missing entry fails.

Regenerate with:  python tests/test_docs.py
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import click
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from toolkit.cli import main  # noqa: E402

CLI_DOC = ROOT / "docs" / "cli.md"


def _commands(group: click.Group, prefix: list[str]) -> list[list[str]]:
    out = [prefix]
    for name in sorted(group.commands):
        cmd = group.commands[name]
        if isinstance(cmd, click.Group):
            out.extend(_commands(cmd, prefix + [name]))
        else:
            out.append(prefix + [name])
    return out


def generate() -> str:
    parts = ["# Command-line reference", "", "Generated from `--help` by `python tests/test_docs.py`; do not edit by hand.", ""]
    runner = CliRunner()
    for path in _commands(main, []):
        result = runner.invoke(main, [*path, "--help"], prog_name="toolkit", terminal_width=100)
        assert result.exit_code == 0, result.output
        parts += [f"## toolkit {' '.join(path)}".rstrip(), "", "```", result.output.rstrip(), "```", ""]
    return "\n".join(parts)


def test_cli_reference_is_current() -> None:
    assert CLI_DOC.exists(), "docs/cli.md is missing: run python tests/test_docs.py"
    assert CLI_DOC.read_text(encoding="utf-8") == generate(), "docs/cli.md is stale: run python tests/test_docs.py"


def test_every_command_is_in_the_readme_tour() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    leaves = [p for p in _commands(main, []) if p and not isinstance(main.get_command(None, p[0]), click.Group) or len(p) > 1]
    assert len(leaves) >= 5
    for path in leaves:
        assert re.search(r"toolkit " + r"\s+".join(map(re.escape, path)) + r"\b", readme), f"toolkit {' '.join(path)} is not in the README"


if __name__ == "__main__":
    CLI_DOC.write_text(generate(), encoding="utf-8")
    print(f"wrote {CLI_DOC}")

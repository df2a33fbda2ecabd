"""SECURITY.md names the tests behind each point of its threat model: each must exist, in the file named."""

from __future__ import annotations

import re

from tests.conftest import ROOT

CELL = re.compile(r"`(test_\w+)\.py(?:::(test_\w+))?`|`(test_\w+)`")


def named_tests() -> list[tuple[str, str]]:
    """(file, test) for every test SECURITY.md's table names; a bare name belongs to the last file named before it."""
    found: list[tuple[str, str]] = []
    for line in (ROOT / "SECURITY.md").read_text(encoding="utf-8").splitlines():
        if not line.startswith("| ") or "test_" not in line:
            continue
        current = None
        for match in CELL.finditer(line):
            if match.group(1):
                current = match.group(1)
                if match.group(2):
                    found.append((current, match.group(2)))
            else:
                assert current is not None, f"a test named before its file in: {line[:80]}"
                found.append((current, match.group(3)))
    return found


def test_every_test_security_md_names_exists_in_the_file_it_names() -> None:
    named = named_tests()
    assert len(named) > 80  # the table is there and read
    missing = [
        f"{file}.py::{test}"
        for file, test in named
        if not re.search(rf"^(async )?def {test}\(", (ROOT / "tests" / f"{file}.py").read_text(encoding="utf-8"), re.M)
    ]
    assert missing == []

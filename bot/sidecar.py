"""The metadata sidecar, knowledge/articles.yaml: an admin's title, date, publisher and URL for
any document, without editing the document (a PDF or a web page cannot carry front matter). Pure.

    NAO-ICS-report.pdf:
      title: Introducing Integrated Care Systems
      published: 2022-06-17
      publisher: National Audit Office
      url: https://www.nao.org.uk/...

What it says wins over what is inferred from the document, and over the file's own front
matter. An entry that cannot be used (not a file name and its fields, a date that cannot be
read, a file that is not in the folder) is reported by name and ignored; the file itself is not
an article.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import yaml

from bot.characters import printable
from bot.clean import MAX_FRONT_MATTER, FrontMatter, front_matter

SIDECAR_FILE = "articles.yaml"
MAX_SIDECAR_CHARS = 200 * MAX_FRONT_MATTER  # thousands of entries; a larger file is a mistake


def parse(text: str, sources: Collection[str]) -> tuple[dict[str, FrontMatter], list[str]]:
    """Each listed file's metadata, and warnings naming the entries that were ignored (or partly)."""
    if len(text) > MAX_SIDECAR_CHARS:
        return {}, [f"longer than {MAX_SIDECAR_CHARS:,} characters; ignored it"]
    try:
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" (line {where.line + 1})" if where else ""
        return {}, [f"is not valid YAML{line}; ignored it"]
    except (ValueError, RecursionError) as exc:  # a date YAML recognises but cannot be; nesting too deep
        return {}, [f"cannot be read ({type(exc).__name__}); ignored it"]
    if data is None:
        return {}, []
    if not isinstance(data, dict):
        return {}, ["is not a list of 'file name:' entries; ignored it"]
    found: dict[str, FrontMatter] = {}
    warnings: list[str] = []
    for name, fields in data.items():
        shown = printable(str(name))[:200]
        if not isinstance(name, str) or not isinstance(fields, dict):
            warnings.append(f"entry {shown!r} is not a file name with 'title:', 'published:'… under it; ignored it")
            continue
        if name not in sources:
            warnings.append(f"entry {shown!r} names no article in the folder; ignored it")
            continue
        meta = front_matter(fields, what=f"entry {shown!r}:")
        warnings.extend(meta.warnings)
        found[name] = meta
    return found, warnings

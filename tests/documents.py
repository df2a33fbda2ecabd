"""Documents made in the test: PDFs (fpdf2), Word files (python-docx) and web pages (strings)."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from pathlib import Path

import docx
from fpdf import FPDF
from PIL import Image


def pdf(
    pages: Sequence[Sequence[str]],
    *,
    title: str | None = None,
    author: str | None = None,
    created: dt.datetime | None = None,
    header: str | None = None,
    footer: str | None = None,
    password: str | None = None,
    image_only: Sequence[int] = (),
) -> bytes:
    """A PDF with one printed line per string ('' leaves a blank line); `footer` may hold {n}, the
    page number; pages numbered in `image_only` hold a picture and no text, as a scan does."""
    doc = FPDF()
    doc.set_auto_page_break(False)
    if title:
        doc.set_title(title)
    if author:
        doc.set_author(author)
    if created:
        doc.set_creation_date(created)
    if password:
        doc.set_encryption(owner_password="owner-" + password, user_password=password)
    doc.set_font("Helvetica", size=11)
    for n, lines in enumerate(pages, 1):
        doc.add_page()
        if n in image_only:
            doc.image(Image.new("RGB", (300, 400), "lightgray"), x=20, y=20, w=150)
            continue
        if header:
            doc.cell(0, 6, header, new_x="LMARGIN", new_y="NEXT")
            doc.ln(6)
        for line in lines:
            doc.cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
        if footer:
            doc.set_y(-20)
            doc.cell(0, 6, footer.format(n=n), new_x="LMARGIN", new_y="NEXT")
    return bytes(doc.output())


def word(
    blocks: Sequence[tuple[str, str]],
    *,
    title: str | None = None,
    author: str | None = None,
    created: dt.datetime | None = None,
    header: str | None = None,
) -> bytes:
    """A .docx of (style, text) paragraphs: style 'Title', 'Heading 1', 'Heading 2' or 'Normal'."""
    document = docx.Document()
    for style, text in blocks:
        document.add_paragraph(text, style=style)
    if header:
        document.sections[0].header.paragraphs[0].text = header
    properties = document.core_properties
    properties.title = title or ""
    properties.author = author or ""
    if created:
        properties.created = created
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def write(folder: Path, files: dict[str, bytes | str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            path.write_bytes(content)
    return folder

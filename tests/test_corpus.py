"""Loading a knowledge folder: bad files are reported by name and skipped, the rest still load."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from bot import store
from bot.corpus import MAX_DEPTH, KnowledgeError, load, open_inside, visible_files
from bot.models import LoadProblem
from tests.conftest import KNOWLEDGE

GOOD = "Councils and CCGs\n\n" + "Councils and clinical commissioning groups agreed to pool budgets this year. " * 6


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "good.txt").write_text(GOOD, encoding="utf-8")
    return tmp_path


def problems(folder: Path) -> dict[str, str]:
    return {p.source: p.message for p in load(folder).problems}


def test_unreadable_files_are_reported_and_skipped(folder: Path) -> None:
    (folder / "latin1.txt").write_bytes("Caf\xe9 society and council budgets".encode("latin-1"))
    (folder / "binary.md").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    (folder / "empty.txt").write_text("  \n\n", encoding="utf-8")
    (folder / "notes.pdf").write_bytes(b"%PDF-1.4")
    (folder / "budget.xlsx").write_bytes(b"PK\x03\x04")
    (folder / "only-chrome.txt").write_text(
        "Did you enjoy this article?\n\nSign up to our newsletter", encoding="utf-8"
    )
    corpus = load(folder)
    assert [a.source for a in corpus.articles] == ["good.txt"]
    assert problems(folder) == {
        "binary.md": "binary file, not text",
        "empty.txt": "empty file",
        "latin1.txt": "not UTF-8 text (byte 0xe9 at position 3); save it as UTF-8",
        "budget.xlsx": "not one of .txt, .md, .pdf, .docx, .html, .htm",
        "notes.pdf": "cannot be read as a PDF (PdfStreamError: Stream has ended unexpectedly); is it damaged?",
        "only-chrome.txt": "no article text left after removing site chrome and comments",
    }
    assert all(p.skipped for p in corpus.problems)


def test_hidden_underscore_and_synonym_files_are_not_articles(folder: Path) -> None:
    (folder / ".draft.txt").write_text(GOOD, encoding="utf-8")
    (folder / "_notes.md").write_text(GOOD, encoding="utf-8")
    (folder / "synonyms.txt").write_text("councils = local authorities\n", encoding="utf-8")
    corpus = load(folder)
    assert [a.source for a in corpus.articles] == ["good.txt"]
    assert corpus.synonyms == "councils = local authorities\n"


def test_subfolders_front_matter_and_stable_passage_ids(folder: Path) -> None:
    (folder / "ics").mkdir()
    (folder / "ics" / "Guidance 2022.md").write_text(
        "---\ntitle: ICS guidance\npublished: 3 July 2022\npublisher: NHS England\n---\n# ICS guidance\n\n" + GOOD,
        encoding="utf-8",
    )
    corpus = load(folder)
    article = next(a for a in corpus.articles if a.source == "ics/Guidance 2022.md")
    assert (article.title, article.publisher, str(article.published)) == ("ICS guidance", "NHS England", "2022-07-03")
    assert [p.id for p in corpus.passages if p.article is article] == ["ics-guidance-2022-1"]
    assert load(folder).passages == corpus.passages  # same files, same ids


def test_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(KnowledgeError, match="does not exist: set KNOWLEDGE_DIR"):
        load(tmp_path / "nope")


def test_a_copied_article_is_flagged_not_erased(tmp_path: Path) -> None:
    """Two copies of one article share all their paragraphs; that is not site chrome."""
    shutil.copy(KNOWLEDGE / "004_41aa59598580c461.txt", tmp_path / "a.txt")
    shutil.copy(KNOWLEDGE / "004_41aa59598580c461.txt", tmp_path / "b.txt")
    corpus = load(tmp_path)
    counts = corpus.passage_counts()
    assert counts["a.txt"] == counts["b.txt"] > 3
    assert problems(tmp_path) == {"b.txt": "mostly the same text as a.txt; remove one if it is a copy"}


def test_real_knowledge_folder_loads_cleanly() -> None:
    corpus = load(KNOWLEDGE)
    assert len(corpus.articles) == 5
    assert corpus.problems == ()
    assert 20 <= len(corpus.passages) <= 40


def test_the_files_looked_at_are_those_in_visible_folders_in_path_order(tmp_path: Path) -> None:
    root = tmp_path / "kb"
    for name in ("b.txt", "a-c.txt", "a/b.txt", "a/z/y.md", ".git/x.txt", "_drafts/d.txt", "a/.hidden.txt"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("x", encoding="utf-8")
    (root / "link.txt").symlink_to("_drafts/d.txt")  # a link that stays inside the folder is the file

    names = [name for _, name in visible_files(root, [])]

    # Folder by folder, as the files are listed in a file manager: "a/..." before "a-c.txt".
    assert names == ["a/b.txt", "a/z/y.md", "a-c.txt", "b.txt", "link.txt"]
    assert [path for path, _ in visible_files(root, [])] == [root / name for name in names]


def test_links_out_of_the_folder_to_folders_or_to_nothing_are_named_and_not_read(tmp_path: Path) -> None:
    root = tmp_path / "kb"
    root.mkdir()
    (root / "good.txt").write_text(GOOD, encoding="utf-8")
    (root / "sub").mkdir()
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "secret.txt").write_text("SLACK_BOT_TOKEN=xoxb-secret\n\n" + GOOD, encoding="utf-8")
    (root / "notes.txt").symlink_to("../elsewhere/secret.txt")
    (root / "sub" / "deeper.md").symlink_to(outside / "secret.txt")
    (root / "escape.txt").symlink_to("sub/../../elsewhere/secret.txt")
    (root / "shared").symlink_to(outside)
    (root / "again").symlink_to("sub")
    (root / "broken.txt").symlink_to("nowhere.txt")
    (root / "loop.txt").symlink_to("loop.txt")
    (root / "synonyms.txt").symlink_to(outside / "secret.txt")

    corpus = load(root)

    outside_message = "a link leading outside the knowledge folder; not read (put a copy in the folder instead)"
    assert [a.source for a in corpus.articles] == ["good.txt"]
    assert corpus.synonyms == ""
    assert problems(root) == {
        "again": "a link to a folder; links to folders are not followed",
        "broken.txt": "a link to a file that does not exist; not read",
        "escape.txt": outside_message,
        "loop.txt": "a link to a file that does not exist; not read",
        "notes.txt": outside_message,
        "shared": outside_message,
        "sub/deeper.md": outside_message,
        "synonyms.txt": outside_message,
    }
    assert "xoxb-secret" not in repr(corpus)


def test_a_knowledge_folder_reached_through_a_link_is_read(tmp_path: Path) -> None:
    real = tmp_path / "srv" / "kb"
    real.mkdir(parents=True)
    (real / "good.txt").write_text(GOOD, encoding="utf-8")
    (real / "latest.txt").symlink_to(real / "good.txt")  # inside the real folder, by its absolute name
    (tmp_path / "kb").symlink_to(real)

    assert [name for _, name in visible_files(tmp_path / "kb", [])] == ["good.txt", "latest.txt"]
    assert load(tmp_path / "kb").passage_counts() == {"good.txt": 1, "latest.txt": 1}


def test_folders_deeper_than_the_limit_are_named_and_not_entered(tmp_path: Path) -> None:
    root = tmp_path / "kb"
    deepest = root.joinpath(*["d"] * (MAX_DEPTH + 3))
    deepest.mkdir(parents=True)
    (deepest.parents[2] / "last.txt").write_text("x", encoding="utf-8")  # as deep as files are read
    (deepest.parents[1] / "lost.txt").write_text("x", encoding="utf-8")
    found: list[LoadProblem] = []

    names = [name for _, name in visible_files(root, found)]

    too_deep = "/".join(["d"] * (MAX_DEPTH + 1))
    assert names == ["/".join(["d"] * MAX_DEPTH + ["last.txt"])]
    assert found == [
        LoadProblem(source=too_deep, message=f"more than {MAX_DEPTH} folders deep; not read (move its files higher up)")
    ]


def test_a_folder_that_cannot_be_listed_is_named_and_the_rest_still_load(folder: Path) -> None:
    # A path longer than the system allows (4,096 bytes on Linux) cannot be listed, even by root.
    names = ["x" * 250] * 20
    fd = os.open(folder, os.O_RDONLY)
    for name in names:
        os.mkdir(name, dir_fd=fd)
        inner = os.open(name, os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = inner
    os.close(fd)

    listed = problems(folder)

    [(name, message)] = listed.items()
    assert [a.source for a in load(folder).articles] == ["good.txt"]
    assert name.startswith("/".join(names[:10])) and message == "cannot be listed: File name too long"


def test_a_file_or_folder_swapped_for_a_link_after_the_listing_is_not_read(tmp_path: Path) -> None:
    root = tmp_path / "kb"
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_text("inside a", encoding="utf-8")
    (root / "sub" / "b.txt").write_text("inside b", encoding="utf-8")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "a.txt").write_text("SECRET a", encoding="utf-8")
    (outside / "b.txt").write_text("SECRET b", encoding="utf-8")
    listed = visible_files(root, [])
    assert [name for _, name in listed] == ["a.txt", "sub/b.txt"]

    (root / "a.txt").unlink()
    (root / "a.txt").symlink_to(outside / "a.txt")
    (root / "sub").rename(root / "_old")
    (root / "sub").symlink_to(outside)

    for _, name in listed:
        with pytest.raises(OSError, match="outside the knowledge folder"):
            open_inside(root, name)
    (root / "sub").unlink()
    (root / "sub").symlink_to("_old")  # a swap that stays inside is read where it leads
    with open_inside(root, "sub/b.txt") as f:
        assert f.read() == b"inside b"


def test_a_name_that_is_not_utf8_is_named_readably_and_skipped(folder: Path) -> None:
    os.mkdir(os.path.join(os.fsencode(folder), b"caf\xe9"))
    with open(os.path.join(os.fsencode(folder), b"caf\xe9", b"menu.txt"), "wb") as f:
        f.write(b"Menu\n\nSoup of the day.")
    with open(os.path.join(os.fsencode(folder), b"r\xe9sum\xe9.txt"), "wb") as f:
        f.write(b"CV\n\nA career in commissioning.")

    assert problems(folder) == {
        "caf\ufffd": "its name is not UTF-8 text; not read (rename it)",
        "r\ufffdsum\ufffd.txt": "its name is not UTF-8 text; not read (rename it)",
    }
    assert store.knowledge_fingerprint(folder) != ""

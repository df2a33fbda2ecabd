"""Loading a knowledge folder: bad files are reported by name and skipped, the rest still load."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.corpus import KnowledgeError, load, visible_files
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
    (folder / "only-chrome.txt").write_text(
        "Did you enjoy this article?\n\nSign up to our newsletter", encoding="utf-8"
    )
    corpus = load(folder)
    assert [a.source for a in corpus.articles] == ["good.txt"]
    assert problems(folder) == {
        "binary.md": "binary file, not text",
        "empty.txt": "empty file",
        "latin1.txt": "not UTF-8 text (byte 0xe9 at position 3); save it as UTF-8",
        "notes.pdf": "not a .txt or .md file",
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
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "linked.txt").write_text("x", encoding="utf-8")
    (root / "link.txt").symlink_to(outside / "linked.txt")  # a link to a file is the file
    (root / "linked_folder").symlink_to(outside)  # a link to a folder is not followed
    (root / "broken.txt").symlink_to(tmp_path / "nowhere.txt")

    names = [name for _, name in visible_files(root)]

    # Folder by folder, as the files are listed in a file manager: "a/..." before "a-c.txt".
    assert names == ["a/b.txt", "a/z/y.md", "a-c.txt", "b.txt", "link.txt"]
    assert [path for path, _ in visible_files(root)] == [root / name for name in names]

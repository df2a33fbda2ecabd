"""An index updated file by file (bot/incremental.py) equals a full build of the folder after any
sequence of adds, edits and removes: passages, problems, version, learned acronyms, and BM25
scores equal to rank_bm25's BM25Plus over the whole current corpus's terms."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import numpy as np
import pytest
from rank_bm25 import BM25Plus

from bot import store
from bot.corpus import list_folder, load
from bot.engine import Engine
from bot.incremental import Rebuild, update
from bot.search import DEFAULT_MIN_RELEVANCE, Index

KNOWLEDGE = Path(__file__).parent.parent / "knowledge"
QUESTIONS = [
    "Who holds the ICB budget?",
    "What do integrated care boards do?",
    "How much is the social care funding gap?",
    "When were clinical commissioning groups abolished?",
    "wombat sanctuary grant",
]
WORDS = """council budget care board integrated social funding gap commissioning hospital discharge
    wombat sanctuary grant local authority pressure winter beds staff""".split()
DEFINITIONS = [
    "Integrated Care Boards (ICBs) replaced clinical commissioning groups.",
    "The Better Care Fund (BCF) pools money.",
    "Wombat Sanctuary Trusts (WSTs) are new.",
    "The ics rules were written in lower case here.",
    "Councils hold the ICB to account.",
]


def article(rng: random.Random, n: int) -> str:
    """A small article: a headline, and paragraphs that sometimes define an acronym."""
    paragraphs = [f"Report number {n} on {rng.choice(WORDS)}"]
    for _ in range(rng.randint(1, 4)):
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 30)))
        extra = f" {rng.choice(DEFINITIONS)}" if rng.random() < 0.4 else ""
        paragraphs.append(f"The {words} rose by {rng.randint(1, 99)} per cent.{extra}")
    return "\n\n".join(paragraphs) + "\n"


def terms_of(index: Index) -> list[list[str]]:
    return [index.analyzer.terms(p.indexed_text) for p in index.passages]


def assert_same(updated: Index, full: Index) -> None:
    assert [(p.id, p.text, p.article) for p in updated.passages] == [(p.id, p.text, p.article) for p in full.passages]
    assert updated.problems == full.problems
    assert updated.version == full.version
    assert updated.analyzer.acronyms == full.analyzer.acronyms
    assert dict(updated.analyzer.long_forms) == dict(full.analyzer.long_forms)
    assert sorted(updated.bm25.vocabulary) == sorted(full.bm25.vocabulary)
    reference = BM25Plus(terms_of(full), k1=full.params.k1, b=full.params.b, delta=full.params.delta)
    for question in QUESTIONS:
        query = list(full.analyze(question).terms)
        assert np.allclose(updated.bm25.get_scores(query), reference.get_scores(query), rtol=0, atol=1e-9)
        assert [h.passage.id for h in updated.search(question, top=3).hits] == [
            h.passage.id for h in full.search(question, top=3).hits
        ]


@pytest.mark.parametrize("seed", range(6))
def test_random_adds_edits_and_removes_give_the_index_a_full_build_gives(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    folder = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE, folder)
    index = Index(load(folder))
    made = 0
    for _ in range(8):
        ours = sorted(p.name for p in folder.glob("new_*.txt"))
        action = rng.choice(["add", "add", "edit", "remove"] if ours else ["add"])
        if action == "add":
            made += 1
            (folder / f"new_{seed}_{made}.txt").write_text(article(rng, made), encoding="utf-8")
        elif action == "edit":
            (folder / rng.choice(ours)).write_text(article(rng, 100 + made), encoding="utf-8")
        else:
            (folder / rng.choice(ours)).unlink()
        try:
            updated = update(index, list_folder(folder), 20_000_000)
        except Rebuild:
            updated = None
        full = Index(load(folder))
        if updated is not None:
            assert_same(updated, full)
        index = updated or full


def test_a_new_definition_changes_how_other_documents_are_analysed(tmp_path: Path) -> None:
    """ "Wombat Sanctuary Trusts (WSTs)" in a new file makes "wombat sanctuary trusts" in an old
    file also give the term wst: the old file's passage is found by the acronym."""
    folder = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE, folder)
    (folder / "old.txt").write_text("Old news\n\nThe wombat sanctuary trusts bid for a grant again.\n")
    index = Index(load(folder))
    assert "wst" not in index.analyzer.acronyms
    (folder / "new.txt").write_text("New news\n\nWombat Sanctuary Trusts (WSTs) are charities.\n")
    updated = update(index, list_folder(folder), 20_000_000)
    assert updated is not None
    assert_same(updated, Index(load(folder)))
    hits = updated.search("What did the WSTs bid for?", top=3).hits
    assert any(h.passage.article.source == "old.txt" for h in hits)


def test_nothing_changed_gives_nothing_to_update(tmp_path: Path) -> None:
    folder = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE, folder)
    index = Index(load(folder))
    assert update(index, list_folder(folder), 20_000_000) is None


def test_a_changed_synonyms_file_asks_for_a_full_build(tmp_path: Path) -> None:
    folder = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE, folder)
    index = Index(load(folder))
    with (folder / "synonyms.txt").open("a", encoding="utf-8") as f:
        f.write("\nwombat = marsupial\n")
    with pytest.raises(Rebuild, match=r"synonyms\.txt changed"):
        update(index, list_folder(folder), 20_000_000)


async def test_a_reload_reads_only_the_added_file_and_saves_the_update(tmp_path: Path) -> None:
    folder = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE, folder)
    saved = tmp_path / "index.bin"
    engine = await Engine.start(folder, DEFAULT_MIN_RELEVANCE, saved)
    (folder / "wombats.txt").write_text("Wombat grant\n\nThe wombat sanctuary grant is 5 million pounds.\n")
    report = await engine.reload()
    assert report.ok and report.added == ("wombats.txt",)
    assert engine.index.search("How big is the wombat sanctuary grant?", top=1).hits[0].passage.article.source == (
        "wombats.txt"
    )
    assert_same(engine.index, Index(load(folder)))
    # The saved index is the updated one, current for the folder: a restart reads it.
    again = store.load(saved, folder, store.knowledge_fingerprint(folder), DEFAULT_MIN_RELEVANCE)
    assert again.version == engine.index.version

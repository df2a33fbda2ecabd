"""The saved index: read back it answers exactly as the index it was saved from; stale, cut
short, damaged or foreign files are refused with a reason and rebuilt, never used."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot import store
from bot.catalog import Catalog
from bot.corpus import Corpus
from bot.engine import build_index, open_index
from bot.evaluate import parse_questions
from bot.search import DEFAULT_MIN_RELEVANCE, Index
from tests.conftest import KNOWLEDGE, ROOT

REFORM = "004_41aa59598580c461.txt"
FLAGSHIP = "How many CCGs overspent in 2017-18?"
QUESTIONS = [q.q for q in parse_questions((ROOT / "tests" / "questions.yaml").read_text(encoding="utf-8"))]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    target = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE, target)
    return target


def saved_copy(index: Index, folder: Path, path: Path) -> Index:
    knowledge = store.knowledge_fingerprint(folder)
    store.save(index, path, knowledge)
    return store.load(path, folder, knowledge, DEFAULT_MIN_RELEVANCE)


def answers(index: Index) -> list[object]:
    return [index.search(q, top=5).model_dump(exclude={"took_ms"}) for q in QUESTIONS]


def test_catalog_gives_back_the_loaders_passages(corpus: Corpus) -> None:
    catalog = Catalog.of(corpus.articles, corpus.passages)
    assert list(catalog) == list(corpus.passages)
    assert catalog[-1] == corpus.passages[-1] and catalog[1:3] == list(corpus.passages[1:3])
    assert catalog.counts() == corpus.passage_counts()


def test_a_saved_index_answers_every_question_as_the_one_saved(index: Index, tmp_path: Path) -> None:
    restored = saved_copy(index, KNOWLEDGE, tmp_path / "queries.index")

    assert answers(restored) == answers(index)
    assert restored.version == index.version
    assert restored.articles == index.articles
    assert restored.problems == index.problems
    assert restored.synonyms == index.synonyms
    assert restored.analyzer.acronyms == index.analyzer.acronyms
    assert restored.analyzer.long_forms == index.analyzer.long_forms


def test_non_ascii_titles_headings_and_text_survive(folder: Path, tmp_path: Path) -> None:
    (folder / "zz_unicode.md").write_text(
        "---\ntitle: Café funding — “integrated care” in Ærø\npublished: 2024-02-29\npublisher: Ñews\n---\n"
        "# Über heading\n\nThe café's integrated care board (ICB) spent £5.7 billion on 36% of 🏥 services in Ærø. "
        "Its chair said the money went to community nursing, dementia support and social prescribing.",
        encoding="utf-8",
    )
    index = build_index(folder, DEFAULT_MIN_RELEVANCE)
    restored = saved_copy(index, folder, tmp_path / "x.index")

    hit = restored.search("café £5.7 billion Ærø", top=1).hits[0]
    assert hit.passage.article.title == "Café funding — “integrated care” in Ærø"
    assert hit.passage.article.publisher == "Ñews" and str(hit.passage.article.published) == "2024-02-29"
    assert "🏥" in hit.excerpt
    assert answers(restored) == answers(index)


def test_an_unchanged_folder_is_read_back_and_a_changed_one_rebuilt(folder: Path, tmp_path: Path) -> None:
    saved = tmp_path / "queries.index"
    first = open_index(folder, DEFAULT_MIN_RELEVANCE, saved)
    assert (first.source, first.not_reused) == ("built", "there is no saved index yet")
    assert saved.is_file()

    again = open_index(folder, DEFAULT_MIN_RELEVANCE, saved)
    assert again.source == "saved" and again.index.version == first.index.version

    reform = folder / REFORM
    reform.write_text(reform.read_text(encoding="utf-8").replace("38 new", "39 new"), encoding="utf-8")
    changed = open_index(folder, DEFAULT_MIN_RELEVANCE, saved)
    assert (changed.source, changed.not_reused) == ("built", "the knowledge folder has changed since it was saved")
    assert "39 new" in changed.index.search("How many new super councils?", top=1).hits[0].excerpt


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda f: (f / "notes.pdf").write_bytes(b"%PDF"), "a skipped file appeared"),
        (lambda f: (f / "synonyms.txt").write_text("ccg = clinical commissioning group\n"), "synonyms changed"),
        (lambda f: (f / REFORM).rename(f / "renamed.txt"), "an article was renamed"),
        (lambda f: (f / "_draft.txt").write_text("ignored") and None, "IGNORED"),
    ],
)
def test_the_knowledge_fingerprint_follows_what_the_loader_reads(folder: Path, change: object, why: str) -> None:
    before = store.knowledge_fingerprint(folder)
    change(folder)  # type: ignore[operator]
    after = store.knowledge_fingerprint(folder)
    if why == "IGNORED":  # files starting with _ are not knowledge: no rebuild for them
        assert after == before
    else:
        assert after != before, why


def test_a_link_out_of_the_folder_counts_by_name_never_by_what_it_leads_to(folder: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.env"
    secret.write_text("SLACK_BOT_TOKEN=xoxb-first\n", encoding="utf-8")
    before = store.knowledge_fingerprint(folder)
    (folder / "notes.txt").symlink_to(secret)
    with_link = store.knowledge_fingerprint(folder)
    secret.write_text("SLACK_BOT_TOKEN=xoxb-second\n", encoding="utf-8")  # never read, so no change

    assert store.knowledge_fingerprint(folder) == with_link != before
    (folder / "notes.txt").unlink()
    assert store.knowledge_fingerprint(folder) == before


def rewrite_header(path: Path, raw: bytes | None = None, **changes: object) -> None:
    """Change header fields as another version of the bot would have written them (or put `raw` in the
    header's place), with a valid checksum."""
    data = bytearray(path.read_bytes()[: -store.CHECKSUM])
    start = len(store.MAGIC) + 8
    size = int.from_bytes(data[len(store.MAGIC) : start], "little")
    header = json.loads(data[start : start + size])
    encoded = raw if raw is not None else json.dumps(header | changes).encode()
    assert len(encoded) <= size
    data[start : start + size] = encoded + b" " * (size - len(encoded))
    path.write_bytes(bytes(data) + hashlib.sha256(data).digest())


DAMAGE = {
    "cut short": (lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]), "checksum does not match"),
    "one byte flipped": (
        lambda p: p.write_bytes(
            (lambda d: d[: len(d) // 2] + bytes([d[len(d) // 2] ^ 1]) + d[len(d) // 2 + 1 :])(p.read_bytes())
        ),
        "checksum does not match",
    ),
    "empty": (lambda p: p.write_bytes(b""), "not a saved index"),
    "not an index": (lambda p: p.write_text("queries"), "not a saved index"),
    "another format": (lambda p: rewrite_header(p, format=99), "in another format (99"),
    "older bot": (lambda p: rewrite_header(p, code="0" * 64), "made by a different version of the bot"),
    "a header nested too deep to parse": (
        lambda p: rewrite_header(p, raw=b"[" * 1500 + b"]" * 1500),
        "damaged",
    ),
    "arrays out of the file": (
        lambda p: rewrite_header(p, arrays={"docs": {"dtype": "<i4", "count": 10**9, "offset": 8}}),
        "damaged",
    ),
}


@pytest.mark.parametrize("damage", DAMAGE)
def test_a_damaged_or_foreign_saved_index_is_refused_and_rebuilt(folder: Path, tmp_path: Path, damage: str) -> None:
    saved = tmp_path / "queries.index"
    good = open_index(folder, DEFAULT_MIN_RELEVANCE, saved).index
    harm, reason = DAMAGE[damage]
    harm(saved)

    with pytest.raises(store.Unusable, match=re.escape(reason)):
        store.load(saved, folder, store.knowledge_fingerprint(folder), DEFAULT_MIN_RELEVANCE)
    opened = open_index(folder, DEFAULT_MIN_RELEVANCE, saved)

    assert opened.source == "built" and reason in (opened.not_reused or "")
    assert answers(opened.index) == answers(good)
    assert open_index(folder, DEFAULT_MIN_RELEVANCE, saved).source == "saved"  # the rebuild was saved


def test_an_index_that_cannot_be_saved_is_still_used(folder: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    opened = open_index(folder, DEFAULT_MIN_RELEVANCE, blocker / "queries.index")
    assert opened.source == "built" and opened.save_error and "queries.index" in opened.save_error
    assert "75 of 207 CCGs" in opened.index.search(FLAGSHIP, top=1).hits[0].excerpt


SAVE_WITH_A_SIZE_LIMIT = """
import resource, signal, sys
from pathlib import Path
from bot import store
from bot.engine import build_index
folder, saved, limit = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
index = build_index(folder, 0.22)
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # past the limit a write fails with EFBIG, like a full disk
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
try:
    store.save(index, saved, store.knowledge_fingerprint(folder))
except OSError as exc:
    print("failed:", exc.strerror)
"""


def test_a_save_that_fails_midway_leaves_the_old_file_whole(folder: Path, tmp_path: Path) -> None:
    """The old file stays whole until the new one is complete, and no scrap is left behind."""
    saved = tmp_path / "queries.index"
    open_index(folder, DEFAULT_MIN_RELEVANCE, saved)
    before = saved.read_bytes()
    (folder / REFORM).unlink()

    result = subprocess.run(
        [sys.executable, "-c", SAVE_WITH_A_SIZE_LIMIT, str(folder), str(saved), str(len(before) // 2)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.stdout.strip() == "failed: File too large", result.stderr
    assert saved.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["knowledge", "queries.index"]
    stale = open_index(folder, DEFAULT_MIN_RELEVANCE, saved)  # and it is not mistaken for the new folder
    assert stale.source == "built" and REFORM not in {a.source for a in stale.index.articles}


def test_the_command_line_reuses_the_saved_index(tmp_path: Path) -> None:
    env = {"KNOWLEDGE_DIR": str(KNOWLEDGE), "QUERY_LOG_PATH": str(tmp_path / "queries.db"), "PATH": "/usr/bin:/bin"}
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")  # the command line keeps its index in the user's cache folder

    def index_command() -> str:
        result = subprocess.run(
            [sys.executable, "-m", "bot", "index"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    first, second = index_command(), index_command()
    assert "indexed in" in first and "loaded in" in second
    [saved] = (tmp_path / "cache" / "policy-bot").glob("knowledge-*.index")
    assert f"saved index: {saved}" in first and not (tmp_path / "queries.index").exists()
    assert (
        first.split("Knowledge base")[1].split("passages")[0] == second.split("Knowledge base")[1].split("passages")[0]
    )


def test_a_change_to_any_module_the_index_is_made_with_rebuilds_the_saved_index() -> None:
    """The modules whose code is fingerprinted are every module of the bot that the loading,
    the analysis and the saving use, as Python itself sees them imported: a module added to the
    cleaning or the analysis can never be forgotten, so a saved index made by older code is
    rebuilt. Modules that only present answers are not in it (changing them keeps the index)."""
    import importlib
    import types

    shaping = set(store.shaping_modules())
    for name in shaping:
        module = importlib.import_module(name)
        used = {v.__name__ for v in vars(module).values() if isinstance(v, types.ModuleType)}
        used |= {getattr(v, "__module__", None) or "" for v in vars(module).values() if callable(v)}
        assert {u for u in used if u.startswith("bot.")} <= shaping, name
    assert {"bot.corpus", "bot.clean", "bot.characters", "bot.text", "bot.bm25", "bot.search"} <= shaping
    assert not shaping & {"bot.app", "bot.reply", "bot.console", "bot.querylog", "bot.config"}

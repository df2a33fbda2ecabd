"""Adding, listing and removing documents from Slack (bot/uploads.py, and its listeners in bot/app.py).

The naming rules are tested as pure functions; the rest end to end, as in tests/test_app.py: the
real Bolt app over HTTP, its real slack_sdk client, a copy of the real knowledge folder, and the
fake Slack (tests/fakeslack.py) serving files.info and the download, which checks the bot token.
The documents are made in the test (tests/documents.py).
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot import reply, uploads
from bot.models import Article
from tests import documents
from tests.conftest import KNOWLEDGE
from tests.fakeslack import (
    BOT_TOKEN,
    CHANNEL_ID,
    DM_CHANNEL_ID,
    DOWNLOAD,
    USER_ID,
    Call,
    FakeSlack,
    JsonDict,
    app_mention_event,
    file_share_event,
)
from tests.slackbot import Bot, buttons, click_payload, mention_text, posted, reads, serving

OTHER_USER = "U999"
PDF_TITLE = "Quokka Integrated Care Pilot Evaluation"
PDF_QUESTION = "How many quokka hubs did the pilot open?"
PDF_ANSWER = "opened 17 quokka hubs"


def report_pdf(hubs: int = 17) -> bytes:
    """A two-page PDF whose answer to PDF_QUESTION is on page 2; nothing else in knowledge/ has it."""
    return documents.pdf(
        [
            [PDF_TITLE, "", "This evaluation covers the Quokka integrated care pilot in rural districts."],
            ["", f"In its first year the pilot opened {hubs} quokka hubs for community nursing and social care."],
        ],
        title=PDF_TITLE,
        created=dt.datetime(2025, 3, 4, tzinfo=dt.UTC),
    )


# --- naming rules -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "saved"),
    [
        ("report.pdf", "report.pdf"),
        ("../../etc/passwd.txt", "passwd.txt"),  # no folder parts, from either kind of slash
        ("..\\secret.md", "secret.md"),
        (".hidden.pdf", "hidden.pdf"),  # a hidden name would be saved and never read
        ("_draft.docx", "draft.docx"),
        ("Annual  report\u202e\n2024.PDF", "Annual report 2024.pdf"),  # invisible characters gone, one space
        ('a<b>:c"|?*.html', "a-b--c.html"),  # refused characters as '-', none at the end
        ("photo.png", None),  # not a type the knowledge folder reads
        ("report", None),
        (".pdf", None),
        ("synonyms.txt", "synonyms.txt"),  # saved under uploads/, so never the folder's own synonyms.txt
    ],
)
def test_safe_name(raw: str, saved: str | None) -> None:
    assert uploads.safe_name(raw) == saved


def test_safe_name_is_never_too_long() -> None:
    name = uploads.safe_name("x" * 500 + ".pdf")
    assert name is not None and len(name) == uploads.MAX_NAME_CHARS and name.endswith("x.pdf")


def test_refusal_checks_type_and_size_before_downloading() -> None:
    assert uploads.refusal("a.pdf", 1000, 2000) is None
    assert "not one of the types" in str(uploads.refusal("a.exe", 1000, 2000))
    assert "MAX_FILE_MB" in str(uploads.refusal("a.pdf", 3000, 2000))
    assert uploads.refusal("a.pdf", 0, 2000) == "it is empty"


def test_versioned_names_count_up() -> None:
    assert uploads.versioned("report.pdf", set()) == "report.pdf"
    assert uploads.versioned("report.pdf", {"report.pdf", "report (2).pdf"}) == "report (3).pdf"


def test_find_matches_listed_names_only() -> None:
    sources = ["000_a.txt", "uploads/report.pdf", "uploads/report (2).pdf", "x/report.pdf"]
    assert uploads.find("uploads/report.pdf", sources) == ("uploads/report.pdf", [])
    assert uploads.find("`report (2).pdf`", sources) == ("uploads/report (2).pdf", [])  # a unique file name
    assert uploads.find("report.pdf", sources) == (None, ["uploads/report.pdf", "x/report.pdf"])  # two: which?
    assert uploads.find("../000_a.txt", sources)[0] is None
    assert uploads.find("uploads/reprot.pdf", sources)[1][0] == "uploads/report.pdf"


def test_the_token_goes_to_slacks_file_host_or_the_configured_api_host_only() -> None:
    api = "https://slack.com/api/"
    assert uploads.trusted_url("https://files.slack.com/files-pri/T1-F1/download/a.pdf", api)
    assert not uploads.trusted_url("http://files.slack.com/files-pri/a.pdf", api)  # not over plain HTTP
    assert not uploads.trusted_url("https://files.slack.com.evil.example/a.pdf", api)
    assert uploads.trusted_url("http://127.0.0.1:5000/files-pri/a.pdf", "http://127.0.0.1:5000/api/")
    assert not uploads.trusted_url("http://127.0.0.1:6000/files-pri/a.pdf", "http://127.0.0.1:5000/api/")


# --- end to end ---------------------------------------------------------------------------------


@pytest.fixture
def knowledge(tmp_path: Path) -> Path:
    return Path(shutil.copytree(KNOWLEDGE, tmp_path / "knowledge"))


@pytest.fixture
async def admin_bot(slack: FakeSlack, tmp_path: Path, knowledge: Path) -> AsyncIterator[Bot]:
    """The bot over HTTP on a copy of the knowledge folder, USER_ID its admin, files up to 1 MB."""
    async with serving(slack, tmp_path, knowledge_dir=knowledge, admin_user_ids=USER_ID, max_file_mb=1) as running:
        yield running


async def upload(bot: Bot, name: str, content: bytes, *, user: str = USER_ID, size: int | None = None) -> JsonDict:
    """`user` sends the file to the bot in a DM; the event payload sent."""
    file = bot.slack.add_file(name, content, user=user, size=size)
    event = file_share_event([file], user=user)
    assert (await bot.event(event)).status == 200
    await bot.settle()
    return event


def dm_posts(bot: Bot) -> list[Call]:
    return [c for c in bot.slack.calls("chat.postMessage", ok=True) if c.params["channel"] == DM_CHANNEL_ID]


async def test_an_admin_adds_a_pdf_in_a_dm_and_the_bot_answers_from_it(admin_bot: Bot, knowledge: Path) -> None:
    event = await upload(admin_bot, "quokka report.pdf", report_pdf())

    [call] = dm_posts(admin_bot)
    said = reads(call.params)
    assert call.params["thread_ts"] == event["event"]["ts"]  # in the upload's thread
    assert f"Added uploads/quokka report.pdf: {PDF_TITLE} · 4 Mar 2025 · 2 pages · 2 passages" in said
    assert "Knowledge base reloaded" in said and "Added (1): uploads/quokka report.pdf" in said
    [download] = admin_bot.slack.calls(DOWNLOAD)
    assert download.token == BOT_TOKEN
    assert (knowledge / "uploads" / "quokka report.pdf").read_bytes() == report_pdf()
    assert [p.name for p in (knowledge / "uploads").iterdir()] == ["quokka report.pdf"]  # no temporary file left

    assert (await admin_bot.event(app_mention_event(mention_text(PDF_QUESTION)))).status == 200
    [answer] = [c for c in await admin_bot.posts(2) if c.params["channel"] == CHANNEL_ID]
    assert PDF_ANSWER in reads(answer.params)
    assert "· 4 Mar 2025 · p. 2 · uploads/quokka report.pdf, passage 2 ·" in reads(answer.params)
    assert ("upload", True) in [(c, ok) for _, c, ok in admin_bot.admin_attempts()]
    assert [r.surface for r in await admin_bot.rows()] == ["mention"]  # the upload is no question in the query log


async def test_a_name_that_exists_is_replaced_only_on_the_admins_click(admin_bot: Bot, knowledge: Path) -> None:
    await upload(admin_bot, "quokka.pdf", report_pdf(17))
    await upload(admin_bot, "quokka.pdf", report_pdf(23))

    question = dm_posts(admin_bot)[-1]
    assert "already has uploads/quokka.pdf" in reads(question.params)
    assert set(buttons(question.params)) == {reply.ACTION_UPLOAD_REPLACE, reply.ACTION_UPLOAD_KEEP_BOTH}
    assert len(admin_bot.slack.calls(DOWNLOAD)) == 1  # nothing downloaded until the admin says
    assert b"17 quokka" in admin_bot.running.engine.index.search(PDF_QUESTION, top=1).hits[0].passage.text.encode()

    url = admin_bot.slack.response_url()
    await admin_bot.click(
        click_payload(posted(question), reply.ACTION_UPLOAD_REPLACE, response_url=url, user=OTHER_USER)
    )
    await admin_bot.settle()
    assert reads(admin_bot.responses_now(url)[-1].params) == reply.ADMINS_ONLY  # a non-admin's click does nothing
    assert len(admin_bot.slack.calls(DOWNLOAD)) == 1

    await admin_bot.click(click_payload(posted(question), reply.ACTION_UPLOAD_REPLACE, response_url=url))
    await admin_bot.settle()
    done = reads(admin_bot.responses_now(url)[-1].params)
    assert "Added uploads/quokka.pdf" in done and "The previous version is in the trash: .trash/" in done
    assert "Changed (1): uploads/quokka.pdf" in done
    assert "23 quokka hubs" in admin_bot.running.engine.index.search(PDF_QUESTION, top=1).hits[0].passage.text
    [old] = (knowledge / ".trash").rglob("quokka.pdf")
    assert old.read_bytes() == report_pdf(17)

    await upload(admin_bot, "quokka.pdf", report_pdf(31))
    url = admin_bot.slack.response_url()
    keep = click_payload(posted(dm_posts(admin_bot)[-1]), reply.ACTION_UPLOAD_KEEP_BOTH, response_url=url)
    await admin_bot.click(keep)
    await admin_bot.settle()
    assert "Added uploads/quokka (2).pdf" in reads(admin_bot.responses_now(url)[-1].params)
    assert sorted(p.name for p in (knowledge / "uploads").iterdir()) == ["quokka (2).pdf", "quokka.pdf"]
    assert (knowledge / "uploads" / "quokka (2).pdf").read_bytes() == report_pdf(31)


async def test_a_non_admins_upload_is_never_downloaded_and_they_are_told_why(admin_bot: Bot, knowledge: Path) -> None:
    await upload(admin_bot, "quokka.pdf", report_pdf(), user=OTHER_USER)

    [call] = dm_posts(admin_bot)
    assert "only the bot's admins can add documents. Ask one of them" in reads(call.params)
    assert admin_bot.slack.calls(DOWNLOAD) == [] and admin_bot.slack.calls("files.info") == []
    assert not (knowledge / "uploads").exists()
    assert (OTHER_USER, "upload", False) in admin_bot.admin_attempts()


async def test_uploads_in_a_channel_are_ignored(admin_bot: Bot) -> None:
    file = admin_bot.slack.add_file("quokka.pdf", report_pdf())
    await admin_bot.event(file_share_event([file], channel=CHANNEL_ID, channel_type="channel"))
    await admin_bot.settle()
    assert admin_bot.slack.calls("chat.postMessage") == [] and admin_bot.slack.calls("files.info") == []


async def test_a_file_over_the_size_limit_is_refused_before_download(admin_bot: Bot, knowledge: Path) -> None:
    await upload(admin_bot, "big.pdf", b"%PDF-1.4", size=3_000_000)

    [call] = dm_posts(admin_bot)
    assert "I couldn't add big.pdf: it is 3.0 MB, larger than 1 MB (the MAX_FILE_MB setting)" in reads(call.params)
    assert admin_bot.slack.calls(DOWNLOAD) == []
    assert not (knowledge / "uploads").exists()


async def test_a_file_that_is_not_what_its_name_says_is_reported_and_not_kept(admin_bot: Bot, knowledge: Path) -> None:
    await upload(admin_bot, "garbage.pdf", b"this is not a PDF at all " * 20)

    [call] = dm_posts(admin_bot)
    said = reads(call.params)
    assert "I couldn't add garbage.pdf: I could not read it: cannot be read as a PDF" in said
    assert "Nothing changed" in said
    assert list((knowledge / "uploads").iterdir()) == []  # the temporary file is gone too
    assert len(admin_bot.slack.calls(DOWNLOAD)) == 1


async def test_slack_failures_are_said_in_words(admin_bot: Bot, knowledge: Path) -> None:
    admin_bot.slack.fail_next("files.info", 200, error="file_not_found")
    await upload(admin_bot, "a.pdf", report_pdf())
    admin_bot.slack.fail_next(DOWNLOAD, 500)
    await upload(admin_bot, "b.pdf", report_pdf())
    await upload(admin_bot, "c.pdf", report_pdf(), size=len(report_pdf()) + 10)  # the download comes up short

    said = [reads(c.params) for c in dm_posts(admin_bot)]
    assert "Slack would not tell me about the file (file_not_found)" in said[0]
    assert "the download failed: Slack answered HTTP 500" in said[1]
    assert "the download stopped at" in said[2]
    assert list((knowledge / "uploads").iterdir()) == []
    assert not any("Traceback" in s for s in said)


async def test_list_shows_each_document_compactly(admin_bot: Bot) -> None:
    await upload(admin_bot, "quokka.pdf", report_pdf())
    _, url = await admin_bot.command("list", command="/ask-admin")
    [call] = await admin_bot.responses(url)
    said = reads(call.params)
    assert said.startswith("6 documents, ")
    assert f"{PDF_TITLE} · 4 Mar 2025 · 2 pages · 2 passages · uploads/quokka.pdf" in said
    assert "Spending watchdog concern at proportion of CCGs failing to function effectively" in said


def test_list_pages_a_large_knowledge_base_within_slacks_limits() -> None:
    index_articles = [documents_article(n) for n in range(20_000)]
    message = reply.documents_message(index_articles, {a.source: 3 for a in index_articles}, (), page=2)
    assert len(message.blocks) <= 6
    text = "\n".join(b["text"]["text"] for b in message.blocks if b["type"] == "section")
    assert "page 2 of 667: 31-60" in text and "31. " in text and "61. " not in text
    assert "/ask-admin list 3" in str(message.blocks[-1])


def documents_article(n: int) -> Article:
    return Article(source=f"doc{n}.txt", slug=f"doc{n}", title=f"Document {n}")


async def test_remove_moves_a_document_to_the_trash_and_it_no_longer_answers(admin_bot: Bot, knowledge: Path) -> None:
    await upload(admin_bot, "quokka.pdf", report_pdf())
    _, url = await admin_bot.command("remove quokka.pdf", command="/ask-admin")
    [call] = await admin_bot.responses(url)
    said = reads(call.params)
    assert "Removed uploads/quokka.pdf: it is in the trash, .trash/" in said
    assert "To undo, move it back to uploads/quokka.pdf and run /ask-admin reload" in said
    assert "Removed (1): uploads/quokka.pdf" in said
    assert not (knowledge / "uploads" / "quokka.pdf").exists()
    [trashed] = (knowledge / ".trash").rglob("quokka.pdf")
    assert trashed.read_bytes() == report_pdf()
    answer = admin_bot.running.engine.index.search(PDF_QUESTION, top=3)
    assert all("quokka.pdf" not in h.passage.article.source for h in answer.hits)


@pytest.mark.parametrize("name", ["../knowledge/000_eb80a55c94ec531c.txt", "../x", "/etc/passwd"])
async def test_remove_never_follows_a_name_outside_the_folder(admin_bot: Bot, knowledge: Path, name: str) -> None:
    before = sorted(p.name for p in knowledge.iterdir())
    _, url = await admin_bot.command(f"remove {name}", command="/ask-admin")
    [call] = await admin_bot.responses(url)
    assert "There is no document" in reads(call.params) and "nothing was removed" in reads(call.params)
    assert sorted(p.name for p in knowledge.iterdir()) == before


async def test_remove_of_an_unknown_name_suggests_close_ones(admin_bot: Bot) -> None:
    _, url = await admin_bot.command("remove 000_eb80a55c94ec531.txt", command="/ask-admin")
    [call] = await admin_bot.responses(url)
    assert "Did you mean 000_eb80a55c94ec531c.txt?" in reads(call.params)


async def test_add_says_how_to_add_a_document(admin_bot: Bot) -> None:
    _, url = await admin_bot.command("add", command="/ask-admin")
    [call] = await admin_bot.responses(url)
    assert "upload it to me in a direct message" in reads(call.params)


async def test_no_step_logs_the_token_or_the_download_link(admin_bot: Bot, caplog: pytest.LogCaptureFixture) -> None:
    """At the bot's log level (INFO here; slack_sdk's DEBUG lines echo whole API answers, and the
    bot's log formatter redacts the token from those, bot/logs.py)."""
    with caplog.at_level(logging.INFO):
        await upload(admin_bot, "quokka.pdf", report_pdf())
        admin_bot.slack.fail_next(DOWNLOAD, 500)
        await upload(admin_bot, "other.pdf", report_pdf())
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "saved as uploads/quokka.pdf" in logged and "not added: the download failed" in logged
    assert BOT_TOKEN not in logged and "files-pri" not in logged

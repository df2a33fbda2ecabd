"""The Slack app: listeners that read as sentences (parse the question, search, render, say, record).

Where people ask: an @mention in a channel or a group DM (answered in its thread), a direct message,
a message in a thread the bot already answered (a follow-up, no mention needed), and `/ask`
(answered to the asker only, with a button to share). A group DM is treated as a channel: the bot
hears every message there (message.mpim) but answers only a mention and follow-ups in its threads.
Admins use `/ask-admin`. Everything the listeners need (settings, engine, query log) reaches them
through `Listeners`, never through module globals.

Each person may ask USER_QUESTIONS_PER_MINUTE questions a minute, wherever they ask; a question
over that is logged with why and not answered, and the asker is told, at most once a minute, where
only they see it. Whatever a listener sends with Bolt's `ack` and `respond` has secret values
scrubbed out (`Listeners.tracked`), as the Slack client does for Web API calls.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import reply, review, uploads
from bot.characters import printable
from bot.config import Settings
from bot.conversation import Turn, resolve
from bot.corpus import KnowledgeError, is_article, list_folder
from bot.engine import Engine
from bot.limits import UserLimit, Verdict
from bot.logs import Scrubber
from bot.models import Answer, QueryRecord, Surface, Vote, count, result_refs
from bot.querylog import QueryLog, QueryLogError
from bot.question import MAX_QUESTION_CHARS, admin_verb, is_chatter, is_too_long, question_text
from bot.slack_client import post_message

logger = logging.getLogger("bot.app")

SEEN_MAX = 10_000  # deliveries remembered for de-duplication


class Seen:
    """A bounded memory of deliveries already handled: Slack retries, and a message that arrives
    both as `app_mention` and as `message`, must be answered once."""

    def __init__(self, limit: int = SEEN_MAX) -> None:
        self._keys: OrderedDict[str, None] = OrderedDict()
        self._limit = limit

    def claim(self, *keys: str | None) -> bool:
        """True the first time any of `keys` is seen; False if one was seen before."""
        real = [k for k in keys if k]
        if any(k in self._keys for k in real):
            return False
        for k in real:
            self._keys[k] = None
        while len(self._keys) > self._limit:
            self._keys.popitem(last=False)
        return True


@dataclass(frozen=True)
class Asked:
    """A question as it reached the bot, from whichever surface: the text (Slack markup removed) and where."""

    text: str
    surface: Surface
    user: str | None
    team: str | None
    channel: str | None
    thread_ts: str | None  # where the answer goes: None for /ask, and for a DM answered outside a thread
    event_id: str | None = None  # Slack's, for a message; a slash command is never delivered twice
    last: Turn | None = None  # the thread's last question and its answer, for a follow-up


class Listeners:
    """The app's behaviour; each public method is one Bolt listener."""

    def __init__(self, settings: Settings, engine: Engine, log: QueryLog, client: AsyncWebClient) -> None:
        self.settings = settings
        self.client = client
        self.engine = engine
        self.log = log
        self.seen = Seen()
        per_minute = settings.user_questions_per_minute
        self.limit = UserLimit(per_minute) if per_minute else None
        self.scrub = Scrubber(settings.secrets())
        self.in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def tracked(self, listener: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
        """`listener`, counted while it runs, so shutdown can wait for the answers in flight, and given
        the bot's own client and an `ack` and `respond` that scrub secrets from what they send.
        Bolt hands a listener a plain AsyncWebClient it builds per request; the bot's (bot/slack_client.py
        `SlackClient`) paces posts, waits out their rate limits and scrubs secrets, so it replaces that one.
        functools.wraps keeps the signature Bolt reads to inject arguments (Bolt passes them all by name)."""

        @functools.wraps(listener)
        async def run(*args: Any, **kwargs: Any) -> None:
            if "client" in kwargs:
                kwargs["client"] = self.client
            for name in ("ack", "respond"):
                if name in kwargs:
                    kwargs[name] = self._scrubbing(kwargs[name])
            self.in_flight += 1
            self._idle.clear()
            try:
                await listener(*args, **kwargs)
            finally:
                self.in_flight -= 1
                if not self.in_flight:
                    self._idle.set()

        return run

    def _scrubbing(self, send: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        """`send` (Bolt's ack or respond), with every secret value scrubbed from its arguments."""

        async def scrubbed(*args: Any, **kwargs: Any) -> Any:
            return await send(*self.scrub(args), **self.scrub(kwargs))

        return scrubbed

    async def idle(self, timeout: float) -> bool:
        """Wait until no listener is running; False if some still are after `timeout` seconds."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True

    # --- questions --------------------------------------------------------------------------

    async def on_mention(
        self, event: dict[str, Any], body: dict[str, Any], context: Any, client: AsyncWebClient
    ) -> None:
        if event.get("bot_id") or event.get("subtype"):
            return  # another bot mentioning us: answering could start a bot loop
        channel = str(event.get("channel", ""))
        if channel.startswith("D"):
            return  # a mention inside a DM also arrives as a direct message: answered there
        # Channels, private channels and group DMs (ids starting C or G) are answered in the mention's thread.
        thread = event.get("thread_ts")
        # A mention in a thread the bot answered is a follow-up too ("@bot and in 2016-17?").
        last = await self._last_turn(channel, str(thread)) if thread else None
        await self._message(event, body, context, client, "mention", thread_ts=thread or event.get("ts"), last=last)

    async def on_message(
        self, event: dict[str, Any], body: dict[str, Any], context: Any, client: AsyncWebClient
    ) -> None:
        if event.get("subtype") == "file_share" and event.get("channel_type") == "im" and not event.get("bot_id"):
            await self._upload(event, body, client)  # a file sent to the bot: an admin adding a document
            return
        if event.get("subtype") or event.get("bot_id"):
            return  # edits, joins, files shared in channels, and other bots' messages (no bot loops)
        if event.get("channel_type") == "im":
            await self._message(event, body, context, client, "dm", thread_ts=event.get("thread_ts"))
            return
        thread = event.get("thread_ts")
        bot_user = context.get("bot_user_id")
        if not thread or (bot_user and f"<@{bot_user}" in str(event.get("text", ""))):
            return  # not a follow-up, or a mention: `app_mention` answers that
        last = await self._last_turn(str(event.get("channel", "")), str(thread))
        if last is not None:
            await self._message(event, body, context, client, "thread", thread_ts=thread, last=last)

    async def on_ask(self, ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond) -> None:
        question = question_text(str(command.get("text", "")), None)
        if not question:  # said in the acknowledgement, which Slack shows at once
            await ack(**reply.usage_message().kwargs())
            return
        await ack()

        def private(message: reply.Message, key: str | None = None) -> Awaitable[Any]:
            return respond(response_type="ephemeral", **message.kwargs())

        asked = Asked(
            question, "command", command.get("user_id"), command.get("team_id"), command.get("channel_id"), None
        )
        await self._ask(asked, say=private, tell=private)

    async def _message(
        self,
        event: dict[str, Any],
        body: dict[str, Any],
        context: Any,
        client: AsyncWebClient,
        surface: Surface,
        thread_ts: str | None,
        last: Turn | None = None,
    ) -> None:
        """A message to the bot (a mention, a DM, a follow-up in a thread), answered where it was asked."""
        channel = str(event.get("channel", ""))
        if not self.seen.claim(body.get("event_id"), f"{channel}:{event.get('ts')}"):
            return
        question = question_text(str(event.get("text", "")), context.get("bot_user_id"))
        if is_chatter(question) and (question or surface == "thread"):
            return  # "thanks!", "ok", an emoji: nothing to answer, and no question to log
        user = event.get("user")

        def post(message: reply.Message, key: str | None = None) -> Awaitable[Any]:
            return _post(client, channel, thread_ts, message, key=key)

        def tell(message: reply.Message) -> Awaitable[Any]:  # where only the asker sees it
            return client.chat_postEphemeral(channel=channel, user=str(user), thread_ts=thread_ts, **message.kwargs())

        asked = Asked(question, surface, user, body.get("team_id"), channel, thread_ts, body.get("event_id"), last)
        await self._ask(asked, say=post, tell=tell)

    async def _ask(
        self,
        asked: Asked,
        say: Callable[[reply.Message, str | None], Awaitable[Any]],
        tell: Callable[[reply.Message], Awaitable[Any]],
    ) -> None:
        """The one question pipeline of every surface: count it against the asker's limit, turn away an
        empty or too long one, resolve a follow-up, search, claim its row, render, deliver, finish.
        `say` sends where the question was asked (with a key naming the message); `tell` only to the asker."""
        # Every message to the bot counts, empty and too long ones too: their notes fill a channel as well.
        over = self._over_limit(asked.user)
        typed = question = asked.text
        if over is None:
            if not question:
                await _deliver(say(reply.usage_message(), None))
                return
            if is_too_long(question):
                await _deliver(say(reply.too_long_message(len(question), MAX_QUESTION_CHARS), None))
                return
            question = resolve(question, asked.last)
        else:
            question = question[:MAX_QUESTION_CHARS]  # logged as asked, as far as the bot would have read it
        query_id = uuid.uuid4().hex
        answer, record = self._search(
            query_id,
            question,
            surface=asked.surface,
            refused=self._refusal(over),
            typed=typed[:MAX_QUESTION_CHARS] if typed != question else None,
            team=asked.team,
            channel=asked.channel,
            user=asked.user,
            thread_ts=asked.thread_ts,  # where the answer went: None for a DM answered outside a thread
            event_id=asked.event_id,
        )
        if not await self.log.claim(_unsent(record)):  # a slash command has no event id: never delivered twice
            logger.info("event %s was answered before the bot restarted: not answering it again", asked.event_id)
            return
        private = asked.surface == "command"
        if over is None:
            message = self._render(answer, query_id, ephemeral=private, typed=typed)
            error = await _deliver(say(message, query_id))
        elif over.tell or private:  # once a minute at most (a command's reply, always): no flood of notes
            error = await _deliver(tell(self._slow_down(over)))
        else:
            error = None
        self._finish(record, error)

    def _over_limit(self, user: object) -> Verdict | None:
        """None when `user` may ask now (the question is counted); else the limit's verdict."""
        if self.limit is None or not user:
            return None
        verdict = self.limit.check(str(user), time.monotonic())
        return None if verdict.allowed else verdict

    def _refusal(self, over: Verdict | None) -> str | None:
        """Why a question over the limit is not answered, for its row in the query log."""
        if over is None:
            return None
        limit = count(self.settings.user_questions_per_minute, "question")
        return f"not answered: more than {limit} in a minute from this person"

    def _slow_down(self, over: Verdict) -> reply.Message:
        return reply.slow_down_message(over.retry_in, self.settings.user_questions_per_minute)

    def _search(
        self, query_id: str, question: str, surface: Surface, refused: str | None = None, **where: Any
    ) -> tuple[Answer | None, QueryRecord]:
        """The question's answer and its row; a question `refused` (the reason) is not searched, its row says why."""
        index = self.engine.index  # one index for the whole question, even if a reload swaps it
        answer: Answer | None = None
        error = refused
        try:
            if refused is None:
                answer = index.search(question, top=self.settings.results)
        except Exception as exc:  # a bug must cost one answer, not the bot
            logger.exception("search failed for question %s", query_id)
            error = f"search failed: {type(exc).__name__}"
        record = QueryRecord(
            id=query_id,
            time=dt.datetime.now(dt.UTC),
            surface=surface,
            question=question,
            results=result_refs(answer.hits) if answer else (),
            abstained=answer.abstained if answer else False,
            unknown_words=answer.unknown if answer else (),
            index_version=index.version,
            error=error,
            **where,
        )
        return answer, record

    def _render(self, answer: Answer | None, query_id: str, **options: Any) -> reply.Message:
        """An answer's message; `typed` (in `options`), as typed, shows what was searched if it differs."""
        if answer is None:
            return reply.error_message("searching the knowledge base failed")
        titles = [a.title for a in self.engine.index.articles]
        return reply.answer_message(answer, query_id, titles=titles, **options)

    def _page(self, record: QueryRecord, offset: int, **options: Any) -> reply.Message:
        """A logged question's answer again, from result `offset` on (for buttons)."""
        return self._render(self._again(record, offset), record.id, **options)

    def _again(self, record: QueryRecord, offset: int) -> Answer:
        """A logged question searched again, from result `offset` on."""
        return self.engine.search(record.question, top=self.settings.results, offset=offset)

    def _finish(self, record: QueryRecord, delivery_error: str | None) -> None:
        """Log how a claimed question's answer went: the outcome, the latency, any error."""
        if delivery_error:
            error = f"{record.error}; {delivery_error}" if record.error else delivery_error
            record = record.model_copy(update={"error": error})
        latency = (dt.datetime.now(dt.UTC) - record.time).total_seconds() * 1000
        outcome = "failed" if record.error else "found nothing" if record.abstained else "answered"
        facts = {
            "query_id": record.id,
            "surface": record.surface,
            "results": len(record.results),
            "latency_ms": round(latency, 1),
            "index_version": record.index_version,
        }
        if record.error:
            facts["error"] = record.error
        logger.log(logging.WARNING if record.error else logging.INFO, "question %s", outcome, extra=facts)
        self.log.finish(record.id, round(latency, 3), record.error)

    async def _last_turn(self, channel: str, thread_ts: str) -> Turn | None:
        """The thread's last question and the answer it got, if the bot answered in it: the question as
        logged (resolved), and its answer found again (the search is deterministic for one index)."""
        try:
            record = await self.log.thread_question(channel, thread_ts)
        except QueryLogError as exc:
            logger.warning("cannot tell whether thread %s is a follow-up: %s", thread_ts, exc)
            return None
        return Turn.of(self._again(record, 0)) if record is not None else None

    # --- buttons ----------------------------------------------------------------------------

    async def on_vote(self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        vote: Vote = "up" if action.get("action_id") == reply.ACTION_VOTE_UP else "down"
        user = str(body.get("user", {}).get("id", ""))
        try:
            query_id, offset = reply.parse_action_value(str(action.get("value", "")))
            result = await self.log.set_feedback(query_id, user, vote)
        except ValueError:
            result = "not_found"
        except QueryLogError as exc:
            logger.warning("vote not saved: %s", exc)
            await respond(**_note(reply.FEEDBACK_NOT_SAVED))
            return
        if result == "not_yours":
            await respond(**_note(reply.NOT_YOURS_TO_RATE))
        elif result == "not_found":
            await respond(**_note(reply.FEEDBACK_LOST))
        else:
            await self._show_vote(body, query_id, offset, vote, respond)

    async def _show_vote(
        self, body: dict[str, Any], query_id: str, offset: int, vote: Vote, respond: AsyncRespond
    ) -> None:
        """Mark the vote on the answer. A private (/ask) answer can come back without its blocks, so
        then it is rendered again from the logged question."""
        blocks = (body.get("message") or {}).get("blocks")
        if blocks:
            thanks = reply.with_vote(blocks, vote)
            await _deliver(respond(replace_original=True, text=reply.VOTED, blocks=thanks))
            return
        record = await self.log.get(query_id)
        if record is not None:  # the page voted on: "more results" pages have their own offset
            message = self._page(record, offset, ephemeral=record.surface == "command", feedback=vote)
            await _deliver(respond(replace_original=True, **message.kwargs()))

    async def on_more(
        self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        await ack()
        found = await self._clicked(body, action, respond, asker_only=False)
        if found is None:
            return
        record, offset = found
        ephemeral = record.surface == "command"
        message = self._page(record, offset, ephemeral=ephemeral)
        if ephemeral:
            await _deliver(respond(response_type="ephemeral", replace_original=False, **message.kwargs()))
        else:
            await _deliver(_post(client, str(record.channel), record.thread_ts, message))

    async def on_context(
        self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond
    ) -> None:
        """Show context: the passages behind the answers on that page, to the clicker only."""
        await ack()
        found = await self._clicked(body, action, respond, asker_only=False)
        if found is None:
            return
        record, offset = found
        message = reply.context_message(self._again(record, offset))
        await _deliver(respond(response_type="ephemeral", replace_original=False, **message.kwargs()))

    async def on_share(
        self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond
    ) -> None:
        await ack()
        found = await self._clicked(body, action, respond, asker_only=True)
        if found is None:
            return
        record, offset = found
        message = self._page(record, offset, shared_by=body["user"]["id"])  # the asker: _own_question checked
        error = await _deliver(respond(response_type="in_channel", replace_original=False, **message.kwargs()))
        if error is None:
            await _deliver(respond(delete_original=True))

    async def _clicked(
        self, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond, *, asker_only: bool
    ) -> tuple[QueryRecord, int] | None:
        """`_own_question`, with the clicker told why when the click may not act on it."""
        found = await self._own_question(body, action, asker_only)
        if found is None:
            refusal = reply.NOT_YOURS_TO_SHARE if asker_only else reply.UNKNOWN_BUTTON
            await respond(**_note(refusal))
        return found

    async def _own_question(
        self, body: dict[str, Any], action: dict[str, Any], asker_only: bool
    ) -> tuple[QueryRecord, int] | None:
        """The logged question a button names, if the click may act on it: the asker's own, or for
        "more results" any question from the same channel, except a private (/ask) one, which only
        its asker may page. Forged or unknown ids give None."""
        try:
            query_id, offset = reply.parse_action_value(str(action.get("value", "")))
            record = await self.log.get(query_id)
        except (ValueError, QueryLogError):
            return None
        user = body.get("user", {}).get("id")
        channel = (body.get("channel") or {}).get("id")
        if (
            record is None
            or ((asker_only or record.surface == "command") and not self.log.asked_by(record, user))
            or (not asker_only and record.channel != channel)
        ):
            return None
        return record, offset

    # --- admin ------------------------------------------------------------------------------

    async def on_admin(
        self, ack: AsyncAck, command: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await ack()
        user = str(command.get("user_id", ""))
        text = str(command.get("text", ""))
        verb = admin_verb(text)
        allowed = await self._is_admin(user, client)
        self.log.record_admin(user, verb, allowed)
        if not allowed:
            logger.warning("refused /ask-admin %s from %s", verb, self.log.pseudonym(user))
            await respond(**reply.refusal_message().kwargs())
            return
        if verb == "reload":
            await respond(text=reply.RELOADING)
            report = await self.engine.reload()
            logger.info("reload by %s: ok=%s version=%s", self.log.pseudonym(user), report.ok, report.version)
            await respond(**reply.reload_message(report).kwargs())
        elif verb == "stats":
            try:  # `/ask-admin stats 7d`: the period as `queries summary --since` takes it
                since = review.period_start(" ".join(text.split()[1:]), dt.datetime.now(dt.UTC), "/ask-admin stats")
            except ValueError as exc:
                await respond(**reply.admin_help_message(str(exc)).kwargs())
                return
            try:
                stats = await self.log.stats(since)
            except QueryLogError as exc:
                logger.error("stats: %s", exc)
                await respond(**reply.error_message("the query log could not be read").kwargs())
                return
            await respond(**reply.stats_message(stats).kwargs())
        elif verb == "add":
            await respond(**reply.add_help_message(f"{uploads.UPLOADS}/").kwargs())
        elif verb == "list":
            words = text.split()
            page = int(words[1]) if len(words) > 1 and words[1].isdigit() and len(words[1]) < 7 else 1
            index = self.engine.index
            listed = reply.documents_message(index.articles, index.passages.counts(), index.problems, page)
            await respond(**listed.kwargs())
        elif verb == "remove":
            name = text.split(None, 1)[1].strip() if len(text.split()) > 1 else ""
            await respond(**(await self._remove(name, user) if name else reply.remove_usage_message()).kwargs())
        else:
            await respond(**reply.admin_help_message().kwargs())

    # --- documents added and removed from Slack (bot/uploads.py) -----------------------------

    async def _upload(self, event: dict[str, Any], body: dict[str, Any], client: AsyncWebClient) -> None:
        """Files sent to the bot in a DM: an admin's are added one by one, each answered in the
        upload's thread; anyone else's are never downloaded, and they are told why."""
        channel = str(event.get("channel", ""))
        if not self.seen.claim(body.get("event_id"), f"{channel}:{event.get('ts')}"):
            return
        user = str(event.get("user", ""))
        thread = event.get("thread_ts") or event.get("ts")
        allowed = await self._is_admin(user, client)
        self.log.record_admin(user, "upload", allowed)
        if not allowed:
            logger.warning("upload from %s refused: not an admin; nothing downloaded", self.log.pseudonym(user))
            names = [str(f.get("name") or "") for f in event.get("files") or [] if isinstance(f, dict)]
            await _deliver(_post(client, channel, thread, reply.upload_refused_message(names)))
            return
        for file_id in uploads.file_ids(event):
            message = await self._add(client, file_id, "ask", user)
            await _deliver(_post(client, channel, thread, message))

    async def on_upload_choice(
        self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        """*Replace* or *Keep both* clicked on the question about an upload whose name exists."""
        await ack()
        user = str(body.get("user", {}).get("id", ""))
        choice: Literal["replace", "keep"] = (
            "replace" if action.get("action_id") == reply.ACTION_UPLOAD_REPLACE else "keep"
        )
        allowed = await self._is_admin(user, client)  # again: anyone could click a message forwarded to them
        self.log.record_admin(user, f"upload {choice}", allowed)
        file_id = str(action.get("value", ""))
        if not allowed or not uploads.is_file_id(file_id):
            await respond(**_note(reply.ADMINS_ONLY if not allowed else reply.UNKNOWN_BUTTON))
            return
        await _deliver(respond(replace_original=True, text=reply.ADDING))  # the buttons go: one click acts
        message = await self._add(client, file_id, choice, user)
        await _deliver(respond(replace_original=True, **message.kwargs()))

    async def _add(
        self, client: AsyncWebClient, file_id: str, choice: Literal["ask", "replace", "keep"], user: str
    ) -> reply.Message:
        """Add Slack's file `file_id` to the knowledge folder and reload; the message saying how it went.
        A name that exists is asked about (`choice` "ask"), replaced or kept beside as 'name (2).ext'."""
        folder, name = self.engine.folder, file_id
        try:
            file = await uploads.file_info(client, file_id)
            name = file.name or file_id
            why = uploads.refusal(file.name, file.size, self.settings.max_file_bytes)
            safe = uploads.safe_name(file.name)
            if why or safe is None:
                raise uploads.UploadError(why or "its name cannot be used")
            taken = await asyncio.to_thread(uploads.taken, folder)
            source = uploads.upload_source(safe)
            if safe in taken and choice != "replace":
                other = uploads.upload_source(uploads.versioned(safe, taken))
                if choice == "ask":
                    return reply.upload_exists_message(source, other, file_id)
                source = other
            token = self.settings.slack_bot_token.get_secret_value() if self.settings.slack_bot_token else ""
            fetched = await uploads.fetch(
                client,
                file,
                source,
                folder=folder,
                token=token,
                max_bytes=self.settings.max_file_bytes,
                api_url=self.settings.slack_api_url,
                timeout=self.settings.slack_timeout_seconds,
            )
            now = dt.datetime.now(dt.UTC)
            trashed = await asyncio.to_thread(uploads.place, folder, fetched, replace=choice == "replace", now=now)
        except uploads.UploadError as exc:
            logger.warning("file %s not added: %s", file_id, printable(str(exc)))
            return reply.document_failed_message("add", name, str(exc))
        logger.info("file %s saved as %s by %s", file_id, printable(source), self.log.pseudonym(user))
        report = await self.engine.reload()
        index = self.engine.index
        article = next((a for a in index.articles if a.source == source), None)
        indexed = (article, index.passages.counts().get(source, 0)) if article else None
        problems = [p for p in index.problems if p.source == source]
        return reply.added_message(source, report, indexed, problems, trashed)

    async def _remove(self, name: str, user: str) -> reply.Message:
        """`/ask-admin remove NAME`: the listed document NAME moved to the trash, then a reload."""
        folder = self.engine.folder
        try:
            listing = await asyncio.to_thread(list_folder, folder)
            source, close = uploads.find(name, sorted(s for s in listing.sources if is_article(s)))
            if source is None:
                return reply.unknown_document_message(name, close)
            trashed = await asyncio.to_thread(uploads.trash, folder, source, dt.datetime.now(dt.UTC))
        except (uploads.UploadError, KnowledgeError) as exc:
            logger.warning("remove %s failed: %s", printable(name), printable(str(exc)))
            return reply.document_failed_message("remove", name, str(exc))
        logger.info("%s moved to the trash by %s", printable(source), self.log.pseudonym(user))
        return reply.removed_message(source, trashed, await self.engine.reload())

    async def _is_admin(self, user: str, client: AsyncWebClient) -> bool:
        if user in self.settings.admin_user_ids:
            return True
        if not self.settings.workspace_admins_are_admins or not user:
            return False
        try:
            info = await client.users_info(user=user)
        except SlackApiError as exc:
            logger.warning("users.info failed for %s: %s", self.log.pseudonym(user), exc.response.get("error"))
            return False
        profile = info.get("user") or {}
        return bool(profile.get("is_admin") or profile.get("is_owner") or profile.get("is_primary_owner"))


class _ClientGiven(logging.Filter):
    """Bolt warns "As you gave client as well, token will be unused" at every start when
    SLACK_BOT_TOKEN is in the environment (Docker's env_file puts it there), though the client it
    is given was made with that very token: a warning with nothing to act on."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != warning_client_prioritized_and_token_skipped()


def create_app(
    settings: Settings, engine: Engine, log: QueryLog, client: AsyncWebClient, socket_mode: bool
) -> tuple[AsyncApp, Listeners]:
    """The Bolt app with every listener registered. Nothing happens at import time."""
    bolt_logger = logging.getLogger(f"slack_bolt.{AsyncApp.__name__}")
    if not any(isinstance(f, _ClientGiven) for f in bolt_logger.filters):
        bolt_logger.addFilter(_ClientGiven())
    secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None
    app = AsyncApp(
        client=client,
        # Socket Mode requests are not signed; Bolt still wants a value rather than reading the environment.
        signing_secret=secret or "",
        request_verification_enabled=not socket_mode,
        ignoring_self_events_enabled=True,
    )
    listeners = Listeners(settings, engine, log, client)
    register(app, listeners)
    return app, listeners


def register(app: AsyncApp, listeners: Listeners) -> None:
    """One listener for every event, command and action the manifests declare."""
    track = listeners.tracked
    app.event("app_mention")(track(listeners.on_mention))
    app.event("message")(track(listeners.on_message))
    app.command("/ask")(track(listeners.on_ask))
    app.command("/ask-admin")(track(listeners.on_admin))
    app.action(reply.ACTION_VOTE_UP)(track(listeners.on_vote))
    app.action(reply.ACTION_VOTE_DOWN)(track(listeners.on_vote))
    app.action(reply.ACTION_MORE)(track(listeners.on_more))
    app.action(reply.ACTION_SHARE)(track(listeners.on_share))
    app.action(reply.ACTION_CONTEXT)(track(listeners.on_context))
    app.action(reply.ACTION_UPLOAD_REPLACE)(track(listeners.on_upload_choice))
    app.action(reply.ACTION_UPLOAD_KEEP_BOTH)(track(listeners.on_upload_choice))


UNSENT = "not confirmed: the bot stopped while sending the answer"


def _unsent(record: QueryRecord) -> QueryRecord:
    """A question's row as logged before its answer is sent: if the bot is killed before `_finish`, it says so."""
    error = f"{record.error}; {UNSENT}" if record.error else UNSENT
    return record.model_copy(update={"error": error})


def _post(
    client: AsyncWebClient, channel: str, thread_ts: str | None, message: reply.Message, key: str | None = None
) -> Awaitable[Any]:
    """Post `message` once even if Slack times out (see post_message): `key` names it, the question's
    id for its answer; without one, it gets a fresh key."""
    return post_message(client, channel=channel, thread_ts=thread_ts, key=key or uuid.uuid4().hex, **message.kwargs())


async def _deliver(sending: Awaitable[Any]) -> str | None:
    """Send a message; a failure (after the client's own retries) is logged and returned as words."""
    try:
        result = await sending
    except Exception as exc:  # Slack's errors; network errors and time-outs after retries
        why = reply.slack_failure(exc)
    else:
        status = getattr(result, "status_code", 200)  # respond() reports HTTP errors instead of raising
        if status < 400:
            return None
        why = reply.slack_refused(status)
    error = reply.undelivered(why)
    logger.error(error)
    return error


def _note(text: str) -> dict[str, Any]:
    """A short reply only the clicker sees, leaving the original message alone."""
    return {"response_type": "ephemeral", "replace_original": False, "text": text}

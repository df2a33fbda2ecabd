"""The Web API client against the fake Slack, over real HTTP: retries, time-outs, base URL, tokens, Socket Mode."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from itertools import pairwise

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.config import Settings, SettingsError, load_settings
from bot.logs import REDACTED
from bot.slack_client import (
    ANSWER_EVENT_TYPE,
    RATE_LIMIT_RETRIES,
    SERVER_ERROR_RETRIES,
    TIMEOUT_RETRIES,
    Stopping,
    post_message,
    web_client,
)
from tests.fakeslack import (
    BOT_ID,
    BOT_USER_ID,
    CHANNEL_ID,
    TEAM_ID,
    FakeSlack,
    app_mention_event,
    new_ts,
    slash_command_form,
)

NO_WAIT = FixedValueRetryIntervalCalculator(0.01)
TIMEOUT = 1  # seconds: the shortest time-out web_client takes
SLOW = 2.0  # how long a slow Slack holds a call: twice TIMEOUT, so the client has always given up first


def settings(slack: FakeSlack, **overrides: object) -> Settings:
    """The bot's settings, pointing at the fake."""
    return load_settings(**({"slack_bot_token": slack.bot_token, "slack_api_url": slack.api_url} | overrides))


async def test_rate_limited_post_waits_retry_after_and_is_delivered_once(slack: FakeSlack) -> None:
    slack.rate_limit_next("chat.postMessage", retry_after=1, times=2)

    response = await web_client(settings(slack)).chat_postMessage(channel=CHANNEL_ID, text="hello")

    calls = slack.calls("chat.postMessage")
    assert [call.status for call in calls] == [429, 429, 200]
    assert [call.params for call in slack.calls("chat.postMessage", ok=True)] == [
        {"channel": CHANNEL_ID, "text": "hello"}
    ]
    assert response["ts"] == calls[-1].response["ts"]
    waits = [later.at - earlier.at for earlier, later in pairwise(calls)]
    assert all(wait >= 0.9 for wait in waits), waits


async def test_post_rate_limited_more_often_than_other_calls_are_retried_is_still_delivered(slack: FakeSlack) -> None:
    slack.rate_limit_next("chat.postMessage", retry_after=1, times=RATE_LIMIT_RETRIES + 1)

    response = await web_client(settings(slack)).chat_postMessage(channel=CHANNEL_ID, text="hello")

    calls = slack.calls("chat.postMessage")
    assert [call.status for call in calls] == [429] * (RATE_LIMIT_RETRIES + 1) + [200]
    assert response["ts"] == calls[-1].response["ts"]
    assert all(later.at - earlier.at >= 0.9 for earlier, later in pairwise(calls))


async def test_posts_are_paced_per_channel_and_channels_never_wait_for_each_other(slack: FakeSlack) -> None:
    client = web_client(settings(slack, slack_channel_posts_per_second=2.0))  # bursts of 2, then one each 0.5 s

    await asyncio.gather(
        *(client.chat_postMessage(channel=CHANNEL_ID, text=f"busy {n}") for n in range(5)),
        client.chat_postMessage(channel="C222", text="quiet"),
    )

    busy = [call.at for call in slack.calls("chat.postMessage") if call.params["channel"] == CHANNEL_ID]
    [quiet] = [call.at for call in slack.calls("chat.postMessage") if call.params["channel"] == "C222"]
    assert all(call.ok for call in slack.calls("chat.postMessage"))
    assert busy[4] - busy[0] >= 1.4  # the last busy post waited its turn...
    assert quiet < busy[4]  # ...while the other channel's went without waiting for it


async def test_stop_waiting_ends_a_post_waiting_out_a_rate_limit(slack: FakeSlack) -> None:
    slack.rate_limit_next("chat.postMessage", retry_after=60)
    client = web_client(settings(slack))
    post = asyncio.create_task(client.chat_postMessage(channel=CHANNEL_ID, text="hello"))
    await slack.wait_for("chat.postMessage", ok=False)

    client.stop_waiting()

    with pytest.raises(Stopping, match="the bot stopped before Slack would take this message"):
        async with asyncio.timeout(10):  # generous: it ends at once, not after the 60 s Slack asked for
            await post
    assert len(slack.calls("chat.postMessage")) == 1


async def test_no_secret_leaves_in_any_argument_and_the_token_still_authenticates(slack: FakeSlack) -> None:
    secret = "a-signing-secret-value"
    client = web_client(settings(slack, slack_signing_secret=secret))
    leaky = f"the key is {secret} and the token {slack.bot_token}"

    await client.chat_postMessage(
        channel=CHANNEL_ID, text=leaky, blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": leaky}}]
    )
    await client.chat_postEphemeral(channel=CHANNEL_ID, user="U222", text=leaky)

    [post] = slack.calls("chat.postMessage")
    [ephemeral] = slack.calls("chat.postEphemeral")
    scrubbed = f"the key is {REDACTED} and the token {REDACTED}"
    assert post.ok and ephemeral.ok and post.token == slack.bot_token
    assert (post.params["text"], post.params["blocks"][0]["text"]["text"]) == (scrubbed, scrubbed)
    assert ephemeral.params["text"] == scrubbed


async def test_service_unavailable_once_then_delivered(slack: FakeSlack) -> None:
    slack.fail_next("chat.postMessage", 503)

    response = await web_client(settings(slack)).chat_postMessage(channel=CHANNEL_ID, text="hello")

    assert response["ok"] is True
    assert [call.status for call in slack.calls("chat.postMessage")] == [503, 200]


async def test_persistent_server_error_ends_in_slack_api_error_after_bounded_retries(slack: FakeSlack) -> None:
    slack.fail_next("chat.postMessage", 500, times=10)

    with pytest.raises(SlackApiError) as raised:
        await web_client(settings(slack), retry_interval=NO_WAIT).chat_postMessage(channel=CHANNEL_ID, text="hi")

    assert raised.value.response.status_code == 500
    assert raised.value.response["error"] == "internal_error"
    assert len(slack.calls("chat.postMessage")) == 1 + SERVER_ERROR_RETRIES


# --- time-outs ------------------------------------------------------------------------------


def slow_client(slack: FakeSlack) -> AsyncWebClient:
    """The bot's client with a one-second time-out, retrying without waiting."""
    return web_client(settings(slack), timeout=TIMEOUT, retry_interval=NO_WAIT)


def tagged(key: str) -> dict[str, object]:
    return {"event_type": ANSWER_EVENT_TYPE, "event_payload": {"key": key}}


async def test_client_alone_never_repeats_a_timed_out_post(slack: FakeSlack) -> None:
    # Slack may have delivered a post whose answer timed out: repeating it blindly could post twice.
    slack.answer_late_next("chat.postMessage", SLOW)

    with pytest.raises(TimeoutError):
        await slow_client(slack).chat_postMessage(channel=CHANNEL_ID, text="hi")

    assert len(slack.channel_messages(CHANNEL_ID)) == 1  # the fake, like Slack, delivered it anyway
    await slack.wait_for("chat.postMessage")
    assert len(slack.calls("chat.postMessage")) == 1


async def test_read_that_times_out_once_is_retried_and_succeeds(slack: FakeSlack) -> None:
    slack.add_user("UADMIN", is_admin=True)
    slack.delay_next("users.info", SLOW)

    user = (await slow_client(slack).users_info(user="UADMIN"))["user"]

    assert (user["id"], user["is_admin"]) == ("UADMIN", True)
    calls = await slack.wait_for("users.info", 2, timeout=10)
    assert sorted(call.at for call in calls)[1] - min(call.at for call in calls) >= TIMEOUT - 0.05


@pytest.mark.parametrize(("in_thread", "lookup"), [(True, "conversations.replies"), (False, "conversations.history")])
async def test_timed_out_post_that_slack_delivered_is_found_and_not_posted_again(
    slack: FakeSlack, in_thread: bool, lookup: str
) -> None:
    thread_ts = new_ts() if in_thread else None
    slack.answer_late_next("chat.postMessage", SLOW)

    response = await post_message(slow_client(slack), channel=CHANNEL_ID, thread_ts=thread_ts, key="q1", text="answer")

    [message] = slack.channel_messages(CHANNEL_ID)
    assert (message["text"], message.get("thread_ts"), message["metadata"]) == ("answer", thread_ts, tagged("q1"))
    assert (response["ok"], response["channel"], response["ts"]) == (True, CHANNEL_ID, message["ts"])
    [look] = slack.calls(lookup)
    assert look.params["include_all_metadata"] == "1"
    assert look.params.get("ts") == thread_ts
    await slack.wait_for("chat.postMessage")  # the first post's late answer
    assert len(slack.calls("chat.postMessage")) == 1


async def test_timed_out_post_that_slack_lost_is_posted_again_and_delivered_once(slack: FakeSlack) -> None:
    thread_ts = new_ts()
    slack.lose_next("chat.postMessage", SLOW)

    response = await post_message(slow_client(slack), channel=CHANNEL_ID, thread_ts=thread_ts, key="q1", text="answer")

    [message] = slack.channel_messages(CHANNEL_ID)
    assert (message["thread_ts"], message["metadata"], message["ts"]) == (thread_ts, tagged("q1"), response["ts"])
    posts = await slack.wait_for("chat.postMessage", 2, timeout=10)
    assert sorted(call.ok for call in posts) == [False, True]
    assert len(slack.calls("conversations.replies")) == 1


async def test_post_that_times_out_every_time_looks_before_each_retry_then_raises(slack: FakeSlack) -> None:
    backoff = 0.5
    client = web_client(settings(slack), timeout=TIMEOUT, retry_interval=FixedValueRetryIntervalCalculator(backoff))
    slack.lose_next("chat.postMessage", SLOW, times=10)

    with pytest.raises(TimeoutError):
        await post_message(client, channel=CHANNEL_ID, thread_ts=new_ts(), key="q1", text="answer")

    assert slack.channel_messages(CHANNEL_ID) == []
    await slack.wait_for("chat.postMessage", 1 + TIMEOUT_RETRIES, timeout=10)
    calls = sorted(slack.calls(), key=lambda call: call.at)
    # Each post times out; after the backoff the bot looks for it before posting again, and once
    # more after the last post, which could have got through.
    assert [call.method for call in calls] == ["chat.postMessage", "conversations.replies"] * (1 + TIMEOUT_RETRIES)
    for post, look in zip(calls[::2], calls[1::2], strict=True):
        assert look.at - post.at >= TIMEOUT + backoff - 0.05


async def test_when_the_lookup_fails_the_post_is_sent_once_more(
    slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    # A missing scope: the bot cannot tell whether its answer arrived, and a possible duplicate
    # beats a possibly lost answer.
    slack.lose_next("chat.postMessage", SLOW)
    slack.fail_next("conversations.history", 200, error="missing_scope")

    response = await post_message(slow_client(slack), channel=CHANNEL_ID, thread_ts=None, key="q1", text="answer")

    [message] = slack.channel_messages(CHANNEL_ID)
    assert response["ts"] == message["ts"]
    assert "missing_scope" in caplog.text and "posting it once more" in caplog.text


async def test_when_the_lookup_fails_the_post_is_sent_once_more_and_no_more(slack: FakeSlack) -> None:
    slack.lose_next("chat.postMessage", SLOW, times=10)
    slack.fail_next("conversations.replies", 200, error="missing_scope", times=10)

    with pytest.raises(TimeoutError):
        await post_message(slow_client(slack), channel=CHANNEL_ID, thread_ts=new_ts(), key="q1", text="answer")

    await slack.wait_for("chat.postMessage", 2, timeout=10)
    assert len(slack.calls("chat.postMessage")) == 2  # the first post, and one more: at most one duplicate
    assert len(slack.calls("conversations.replies")) == 1


async def test_base_url_and_token_come_from_settings(slack: FakeSlack) -> None:
    # Settings adds the trailing slash that slack_sdk's urljoin needs.
    client = web_client(settings(slack, slack_api_url=slack.api_url.rstrip("/")))

    identity = await client.auth_test()

    assert (identity["user_id"], identity["bot_id"], identity["team_id"]) == (BOT_USER_ID, BOT_ID, TEAM_ID)
    [call] = slack.calls("auth.test")
    assert (call.path, call.token) == ("/api/auth.test", slack.bot_token)


async def test_wrong_token_gets_invalid_auth_and_is_not_retried(slack: FakeSlack) -> None:
    client = web_client(settings(slack, slack_bot_token="xoxb-wrong"))

    with pytest.raises(SlackApiError) as raised:
        await client.chat_postMessage(channel=CHANNEL_ID, text="hi")

    assert raised.value.response["error"] == "invalid_auth"
    assert [call.token for call in slack.calls()] == ["xoxb-wrong"]


def test_missing_token_names_the_setting(slack: FakeSlack) -> None:
    with pytest.raises(SettingsError, match="SLACK_BOT_TOKEN is empty"):
        web_client(settings(slack, slack_bot_token=None))


async def test_users_info_reports_workspace_roles(slack: FakeSlack) -> None:
    slack.add_user("UADMIN", is_admin=True)
    client = web_client(settings(slack))

    user = (await client.users_info(user="UADMIN"))["user"]

    assert (user["id"], user["is_admin"], user["is_owner"]) == ("UADMIN", True, False)
    with pytest.raises(SlackApiError, match="user_not_found"):
        await client.users_info(user="UNOBODY")


async def test_response_url_records_what_bolt_respond_posts(slack: FakeSlack) -> None:
    # Bolt's respond() is slack_sdk's AsyncWebhookClient.
    url = slack.response_url()

    await AsyncWebhookClient(url).send(text="answer", response_type="ephemeral")

    [call] = await slack.wait_for("response_url")
    assert (call.path, call.params) == (url.removeprefix(slack.url), {"text": "answer", "response_type": "ephemeral"})


@pytest.fixture
async def received(slack: FakeSlack) -> AsyncIterator[list[SocketModeRequest]]:
    """What a real SocketModeClient, connected to the fake, receives and acks."""
    received: list[SocketModeRequest] = []

    async def ack(client: SocketModeClient, request: SocketModeRequest) -> None:
        received.append(request)
        await client.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id))

    client = SocketModeClient(app_token=slack.app_token, web_client=web_client(settings(slack)))
    client.socket_mode_request_listeners.append(ack)  # type: ignore[arg-type]
    try:
        await client.connect()
        await slack.wait_connected()
        yield received
    finally:
        await client.close()


async def test_socket_mode_envelope_is_received_and_acked(slack: FakeSlack, received: list[SocketModeRequest]) -> None:
    event = app_mention_event(f"<@{BOT_USER_ID}> what is an ICB?")

    ack = await slack.socket_send("events_api", event)

    [request] = received
    assert ack == {"envelope_id": request.envelope_id}
    assert (request.type, request.payload, request.retry_attempt) == ("events_api", event, 0)
    assert [call.token for call in slack.calls("apps.connections.open")] == [slack.app_token]


async def test_socket_mode_reconnects_after_disconnect(slack: FakeSlack, received: list[SocketModeRequest]) -> None:
    await slack.socket_disconnect()
    await slack.wait_connected(2)

    # The ack proves the client has moved to the new connection (and finished reconnecting).
    ack = await slack.socket_send("slash_commands", slash_command_form("ICB", response_url=slack.response_url()))

    assert ack == {"envelope_id": received[0].envelope_id}
    assert len(slack.calls("apps.connections.open", ok=True)) == 2

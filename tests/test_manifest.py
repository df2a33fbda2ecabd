"""The Slack app manifests in deploy/: valid against Slack's published schema, and declaring exactly
what the code uses. An event Slack sends that the app has no listener for gets a 404 and is retried
for ever; a scope the code needs but the manifest lacks fails at run time with missing_scope."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest

from bot.app import create_app
from bot.config import Settings, load_settings
from bot.engine import Engine
from bot.querylog import QueryLog
from bot.slack_client import web_client
from tests.conftest import KNOWLEDGE, ROOT
from tests.fakeslack import CHANNEL_ID, USER_ID, FakeSlack, event_callback, new_ts

DEPLOY = ROOT / "deploy"
MANIFESTS = {"socket": DEPLOY / "manifest-socket.yaml", "http": DEPLOY / "manifest-http.yaml"}
SCHEMA = json.loads((DEPLOY / "slack-manifest.schema.json").read_text(encoding="utf-8"))

# What each part of the bot needs from Slack: the manifests must ask for exactly this.
EVENT_SCOPES = {
    "app_mention": "app_mentions:read",  # @mentions in channels
    "message.im": "im:history",  # direct messages
    "message.channels": "channels:history",  # follow-ups in public channel threads
    "message.groups": "groups:history",  # follow-ups in private channel threads
    "message.mpim": "mpim:history",  # follow-ups in group DM threads
}
OTHER_SCOPES = {"chat:write", "commands", "users:read", "files:read"}  # replies; commands; admin check; uploads
COMMANDS = {"/ask", "/ask-admin"}


def manifest(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(MANIFESTS[name].read_text(encoding="utf-8"))
    return data


@pytest.mark.parametrize("name", MANIFESTS)
def test_manifest_is_valid_for_slack(name: str) -> None:
    jsonschema.validate(manifest(name), SCHEMA)


@pytest.mark.parametrize("name", MANIFESTS)
def test_manifest_declares_exactly_what_the_code_uses(name: str) -> None:
    data = manifest(name)
    assert set(data["settings"]["event_subscriptions"]["bot_events"]) == set(EVENT_SCOPES)
    assert set(data["oauth_config"]["scopes"]["bot"]) == set(EVENT_SCOPES.values()) | OTHER_SCOPES
    assert {c["command"] for c in data["features"]["slash_commands"]} == COMMANDS
    assert data["settings"]["interactivity"]["is_enabled"] is True  # the answer's buttons
    assert data["features"]["app_home"]["messages_tab_enabled"] is True  # people can DM the bot


def test_the_deploy_readme_explains_every_event_and_scope_the_manifests_ask_for() -> None:
    """An admin installing the app is asked to grant each scope: deploy/README.md says why each is there."""
    readme = (DEPLOY / "README.md").read_text(encoding="utf-8")
    for name in MANIFESTS:
        data = manifest(name)
        asked = [*data["settings"]["event_subscriptions"]["bot_events"], *data["oauth_config"]["scopes"]["bot"]]
        assert [item for item in asked if f"`{item}`" not in readme] == []


def test_the_readme_walks_through_connecting_the_bot_to_slack() -> None:
    """The set-up steps a newcomer needs: the settings file, where each secret is found, inviting the bot."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### Connecting it to Slack") :]
    section = section[: section.index("\n### ", 1)]
    for step in ("cp .env.example .env", "deploy/manifest-socket.yaml", "deploy/manifest-http.yaml", "/invite @"):
        assert step in section
    for setting, page in (
        ("SLACK_APP_TOKEN", "*App-Level Tokens*"),
        ("SLACK_SIGNING_SECRET", "*Signing Secret*"),
        ("SLACK_BOT_TOKEN", "*OAuth & Permissions*"),
    ):
        [row] = [line for line in section.splitlines() if line.strip().startswith(f"| `{setting}`")]
        assert page in row
    assert "`connections:write`" in section and "`message.mpim`" in section and "`mpim:history`" in section
    assert f"@{manifest('socket')['features']['bot_user']['display_name']}" in section  # the name to invite


def test_the_two_modes_differ_only_in_how_slack_reaches_the_bot() -> None:
    socket, http = manifest("socket"), manifest("http")
    assert socket["settings"]["socket_mode_enabled"] is True
    assert http["settings"]["socket_mode_enabled"] is False
    urls = [http["settings"]["event_subscriptions"]["request_url"], http["settings"]["interactivity"]["request_url"]]
    urls += [c["url"] for c in http["features"]["slash_commands"]]
    assert all(u == "https://YOUR_HOST/slack/events" for u in urls)
    assert "request_url" not in socket["settings"]["event_subscriptions"]
    assert not any("url" in c for c in socket["features"]["slash_commands"])


@contextlib.asynccontextmanager
async def parts(tmp_path: Path) -> AsyncIterator[tuple[Settings, Engine, QueryLog, FakeSlack]]:
    """What `create_app` is given when the bot starts, against a fake Slack."""
    async with FakeSlack() as slack:
        settings = load_settings(
            knowledge_dir=KNOWLEDGE,
            slack_bot_token=slack.bot_token,
            slack_app_token=slack.app_token,
            slack_api_url=slack.api_url,
            query_log_path=tmp_path / "queries.db",
        )
        engine = await Engine.start(KNOWLEDGE, settings.min_relevance)
        async with await QueryLog.open(settings.query_log_path) as log:
            yield settings, engine, log, slack


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[tuple[AsyncApp, FakeSlack]]:
    async with parts(tmp_path) as (settings, engine, log, slack):
        bolt, listeners = create_app(settings, engine, log, web_client(settings), socket_mode=True)
        yield bolt, slack
        await listeners.idle(5)


def _event(event_type: str) -> dict[str, Any]:
    kind, _, channel_type = event_type.partition(".")
    event = {"type": kind, "user": USER_ID, "text": "hello", "ts": new_ts(), "channel": CHANNEL_ID}
    if channel_type:
        event |= {"channel_type": {"channels": "channel", "groups": "group"}.get(channel_type, channel_type)}
    return event_callback(event)


@pytest.mark.parametrize("event_type", sorted(EVENT_SCOPES))
async def test_every_subscribed_event_has_a_listener(app: tuple[AsyncApp, FakeSlack], event_type: str) -> None:
    response = await app[0].async_dispatch(AsyncBoltRequest(body=_event(event_type), mode="socket_mode"))
    assert response.status == 200, response.body


@pytest.mark.parametrize("command", sorted(COMMANDS))
async def test_every_declared_command_has_a_listener(app: tuple[AsyncApp, FakeSlack], command: str) -> None:
    bolt, slack = app
    body = {"command": command, "text": "", "user_id": USER_ID, "channel_id": CHANNEL_ID, "team_id": "T1"}
    body["response_url"] = slack.response_url()
    response = await bolt.async_dispatch(AsyncBoltRequest(body=body, mode="socket_mode"))
    assert response.status == 200, response.body


async def test_starting_with_the_token_in_the_environment_logs_no_warning_about_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Docker's env_file puts SLACK_BOT_TOKEN in the environment; Bolt then warned at every start
    that the token "will be unused" though the client uses that very token. Its other warnings stay."""
    async with parts(tmp_path) as (settings, engine, log, slack):
        monkeypatch.setenv("SLACK_BOT_TOKEN", slack.bot_token)
        with caplog.at_level(logging.DEBUG):
            create_app(settings, engine, log, web_client(settings), socket_mode=True)
            create_app(settings, engine, log, web_client(settings), socket_mode=True)  # a second start
            logging.getLogger("slack_bolt.AsyncApp").warning("another warning")
    messages = [r.getMessage() for r in caplog.records]
    assert not [m for m in messages if "token will be unused" in m]
    assert "another warning" in messages
    assert len(logging.getLogger("slack_bolt.AsyncApp").filters) == 1

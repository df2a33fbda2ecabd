"""Settings: .env.example documents exactly the settings the bot reads."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from bot import logs
from bot.config import Settings, SettingsError, load_settings, require, shown_url, wants_slack
from tests.conftest import ROOT


def test_env_example_lists_exactly_the_settings() -> None:
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    documented = set(re.findall(r"^([A-Z_]+)=", text, flags=re.M))
    assert documented == {name.upper() for name in Settings.model_fields}


def test_env_example_values_are_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    for line in (ROOT / ".env.example").read_text(encoding="utf-8").splitlines():
        if re.match(r"^[A-Z_]+=", line):
            name, value = line.split("=", 1)
            monkeypatch.setenv(name, value)
    settings = load_settings()
    assert settings.results == 3 and settings.min_relevance == 0.22


def test_malformed_setting_names_it_and_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RESULTS", "50")
    with pytest.raises(SettingsError, match=r"RESULTS: .*less than or equal to 10.*see \.env\.example"):
        load_settings()


def test_admin_ids_are_a_comma_separated_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADMIN_USER_IDS", " U012ABCDEF, W0XYZ ,")
    assert load_settings().admin_user_ids == {"U012ABCDEF", "W0XYZ"}
    monkeypatch.setenv("ADMIN_USER_IDS", "U012ABCDEF,@alice")
    with pytest.raises(SettingsError, match=r"ADMIN_USER_IDS: .*@alice"):
        load_settings()


def test_api_url_gets_its_trailing_slash_and_must_be_http(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_API_URL", "http://127.0.0.1:9999/api")
    assert load_settings().slack_api_url == "http://127.0.0.1:9999/api/"
    monkeypatch.setenv("SLACK_API_URL", "slack.com/api")
    with pytest.raises(SettingsError, match=r"SLACK_API_URL: .*http"):
        load_settings()


def test_a_secret_is_never_repeated_in_an_error_or_a_printout(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "xoxb-SECRET-123456"
    monkeypatch.setenv("SLACK_BOT_TOKEN", secret)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", secret)
    monkeypatch.setenv("RESULTS", "lots")
    with pytest.raises(SettingsError) as error:
        load_settings()
    assert secret not in str(error.value)
    monkeypatch.delenv("RESULTS")
    settings = load_settings()
    assert secret not in repr(settings) and secret not in str(settings.model_dump())
    assert settings.slack_bot_token is not None and settings.slack_bot_token.get_secret_value() == secret


@pytest.mark.parametrize(
    ("http", "present", "missing"),
    [
        (True, {"slack_bot_token": "xoxb-1"}, "SLACK_SIGNING_SECRET"),
        (False, {"slack_bot_token": "xoxb-1"}, "SLACK_APP_TOKEN"),
        (True, {"slack_signing_secret": "s"}, "SLACK_BOT_TOKEN"),
        (None, {"slack_bot_token": "xoxb-1"}, "SLACK_APP_TOKEN and SLACK_SIGNING_SECRET"),  # `start`
        (None, {"slack_app_token": "xapp-1"}, "SLACK_BOT_TOKEN"),
    ],
)
def test_each_mode_names_the_credential_it_lacks(http: bool | None, present: dict[str, str], missing: str) -> None:
    settings = load_settings(_env_file=None, **present)
    assert wants_slack(settings)
    with pytest.raises(SettingsError, match=f"{missing} (is|are both) empty: .*"):
        require(settings, http=http)


def test_start_with_every_slack_setting_or_none_needs_nothing_more() -> None:
    require(load_settings(_env_file=None, slack_bot_token="xoxb-1", slack_app_token="xapp-1"), http=None)
    require(load_settings(_env_file=None, slack_bot_token="xoxb-1", slack_signing_secret="s"), http=None)
    assert not wants_slack(load_settings(_env_file=None))


def test_the_command_line_keeps_its_index_in_the_cache_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    one = load_settings(_env_file=None, knowledge_dir=tmp_path / "one").command_line_index_file
    other = load_settings(_env_file=None, knowledge_dir=tmp_path / "two").command_line_index_file
    assert one is not None and other is not None
    assert one.parent == other.parent == tmp_path / "cache" / "policy-bot" and one != other
    assert one.name.startswith("one-") and one.suffix == ".index"
    chosen = load_settings(_env_file=None, index_path=tmp_path / "my.index")
    assert chosen.command_line_index_file == chosen.index_file == tmp_path / "my.index"
    assert load_settings(_env_file=None, save_index=False).command_line_index_file is None
    assert load_settings(_env_file=None).index_file == Path("queries.index")  # the Slack bot's: beside the log


SECRET_SETTINGS = ["SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "USER_ID_HASH_KEY"]


@pytest.mark.parametrize("name", SECRET_SETTINGS)
def test_a_secret_pasted_with_a_line_break_or_spaces_around_it_is_trimmed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str
) -> None:
    value = "xoxb-0123456789-abcdefabcdefabcdefabcdef0123456789"
    monkeypatch.setenv(name, f"  {value}\n")
    settings = load_settings(_env_file=None)
    assert getattr(settings, name.lower()).get_secret_value() == value
    monkeypatch.delenv(name)
    (tmp_path / ".env").write_text(f'{name}="{value}\n"\nRESULTS=3\n', encoding="utf-8")
    settings = load_settings(_env_file=tmp_path / ".env")
    assert getattr(settings, name.lower()).get_secret_value() == value


@pytest.mark.parametrize("name", SECRET_SETTINGS)
def test_a_secret_with_a_space_inside_is_refused_naming_the_setting(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setenv(name, "xoxb-0123456789 abcdef-PASTED")
    with pytest.raises(SettingsError, match=f"^{name}: .*space or line break inside") as error:
        load_settings(_env_file=None)
    assert "PASTED" not in str(error.value)


TOKEN_IN_URL = [
    ("https://slack.com/api/xoxb-1234-5678-SECRETSECRET", "https://slack.com/api/"),
    (
        "https://user:SECRETSECRET@slack.example.com:8443/api/?token=xoxb-SECRETSECRET",
        "https://slack.example.com:8443/api/",
    ),
    ("https://slack.com/api?token=SECRETSECRET", "https://slack.com/api"),
    ("xoxb-1234-5678-SECRETSECRET", ""),
    ("slack.com/api/xapp-1-A1-SECRETSECRET", "slack.com/api/"),
]


@pytest.mark.parametrize(("url", "safe"), TOKEN_IN_URL)
def test_a_token_pasted_into_the_api_url_is_never_shown(monkeypatch: pytest.MonkeyPatch, url: str, safe: str) -> None:
    assert shown_url(url).startswith(safe) and "SECRET" not in shown_url(url)
    monkeypatch.setenv("SLACK_API_URL", url)
    try:
        settings = load_settings(_env_file=None)
    except SettingsError as error:
        assert re.match(r"SLACK_API_URL: .*(must start with http:// or https://|must not hold a user name)", str(error))
        assert "SECRET" not in str(error)
    else:  # a well-formed URL: the token in it is scrubbed from log lines like any other secret
        assert any("SECRETSECRET" in secret for secret in settings.secrets())
        line = logs.formatter("text", settings.secrets()).format(
            logging.LogRecord("x", logging.INFO, "", 0, "calling %s", (settings.slack_api_url,), None)
        )
        assert "SECRET" not in line

"""Settings: .env.example documents exactly the settings the bot reads."""

from __future__ import annotations

import re

import pytest

from bot.config import Settings, SettingsError, load_settings
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

"""Reading what the bot renders for Slack: its text objects, and whether their mrkdwn is inert.

Shared by the rendering tests (tests/test_reply.py) and the fuzzing (tests/test_fuzz.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

BARE_ENTITY = re.compile(r"&(?!amp;|lt;|gt;)")  # an '&' that does not start one of Slack's three entities


def unescape(text: str) -> str:
    """Slack's three entities shown as the characters they stand for."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def text_objects(value: Any) -> Iterator[dict[str, Any]]:
    """Every text object (mrkdwn or plain_text) anywhere in some blocks."""
    if isinstance(value, dict):
        if value.get("type") in ("mrkdwn", "plain_text") and isinstance(value.get("text"), str):
            yield value
        for v in value.values():
            yield from text_objects(v)
    elif isinstance(value, list):
        for v in value:
            yield from text_objects(v)


def assert_inert(text: str, allowed: tuple[str, ...] = ()) -> None:
    """No Slack markup but what we meant (`allowed`), and every '&' starts an entity."""
    for token in allowed:
        text = text.replace(token, "")
    assert "<" not in text and ">" not in text, text[:300]
    assert not BARE_ENTITY.search(text), text[:300]

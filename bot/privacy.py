"""What the query log may keep about people: pseudonymous user ids and a retention period. Pure.

A pseudonym is HMAC-SHA256 of the Slack user id under a secret key (USER_ID_HASH_KEY): the same
person always gets the same pseudonym, so votes and per-user filters still work, but without the
key nobody can tell who it is, not even by hashing every user id in the workspace and comparing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac

PREFIX = "h-"  # Slack ids are upper-case letters and digits, so a pseudonym can never be mistaken for one
DIGEST_CHARS = 32  # 128 bits of the digest: collisions are out of the question for a workspace


def pseudonym(user_id: str, key: bytes) -> str:
    """The stable pseudonym of `user_id` under `key`."""
    return PREFIX + hmac.new(key, user_id.encode(), hashlib.sha256).hexdigest()[:DIGEST_CHARS]


def retention_cutoff(now: dt.datetime, days: int) -> dt.datetime:
    """The oldest moment a row may come from to be kept, `days` days before `now`."""
    return now - dt.timedelta(days=days)

"""Retrieval quality on a question set: hit@1, hit@3, pinpoint, abstention and follow-ups. Pure.

Pinpoint: the share of answerable questions whose first result's answer sentence (`Hit.answer`)
holds the expected phrase, which is copied from the one sentence that answers.

Follow-ups: a set's `conversations:` are asked turn by turn through bot/conversation.py, as the
terminal chat asks them. A follow-up (a turn after the first) is right at k when its expected phrase
is in a top-k result from its source (the rule of hit@k); an acknowledgement (`expect: null`) is
right when it gets no answer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import yaml

from bot.characters import fold
from bot.conversation import Conversation
from bot.models import Answer
from bot.search import Index


@dataclass(frozen=True)
class Question:
    q: str
    expect: str | None  # phrase a correct excerpt contains; None: the bot must abstain
    source: str | None = None  # the article the phrase comes from
    kind: str | None = None  # of an off-topic question: "domain" (in the domain's words) or "general"


@dataclass(frozen=True)
class Outcome:
    question: Question
    rank: int | None  # 1-based rank of the first correct result, None if none
    sources: tuple[str, ...]  # passages returned, best first
    relevance: tuple[float, ...]
    pinpointed: bool = False  # the first result's answer sentence holds the expected phrase

    @property
    def answered(self) -> bool:
        return bool(self.sources)


@dataclass(frozen=True)
class FollowUp:
    """One follow-up turn of a conversation: what was typed, what was searched (None: not answered)."""

    question: Question
    resolved: str | None
    rank: int | None  # as Outcome.rank

    def right_at(self, k: int) -> bool:
        if self.question.expect is None:
            return self.resolved is None or self.rank is None
        return self.rank is not None and self.rank <= k


@dataclass(frozen=True)
class Report:
    outcomes: tuple[Outcome, ...]
    follow_ups: tuple[FollowUp, ...] = ()

    def follow_ups_right_at(self, k: int) -> int:
        """Follow-up turns right at k (see the module's docstring)."""
        return sum(1 for f in self.follow_ups if f.right_at(k))

    def follow_ups_right(self, k: int) -> float:
        """The share of follow-up turns right at k."""
        return self.follow_ups_right_at(k) / len(self.follow_ups) if self.follow_ups else 0.0

    @property
    def on_topic(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.question.expect is not None]

    @property
    def off_topic(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.question.expect is None]

    def hits_at(self, k: int) -> int:
        """Answerable questions with a correct result in the top k."""
        return sum(1 for o in self.on_topic if o.rank is not None and o.rank <= k)

    def hit_at(self, k: int) -> float:
        on = len(self.on_topic)
        return self.hits_at(k) / on if on else 0.0

    @property
    def pinpointed(self) -> int:
        """Answerable questions whose first result's answer sentence holds the expected phrase."""
        return sum(1 for o in self.on_topic if o.pinpointed)

    @property
    def pinpoint(self) -> float:
        on = len(self.on_topic)
        return self.pinpointed / on if on else 0.0

    @property
    def wrongly_abstained(self) -> float:
        on = self.on_topic
        return sum(1 for o in on if not o.answered) / len(on) if on else 0.0

    @property
    def off_topic_answered(self) -> list[Outcome]:
        return [o for o in self.off_topic if o.answered]

    @property
    def false_abstentions(self) -> list[Outcome]:
        """Answerable questions the bot said nothing covers."""
        return [o for o in self.on_topic if not o.answered]

    def off_topic_of_kind(self, kind: str) -> list[Outcome]:
        return [o for o in self.off_topic if o.question.kind == kind]


class QuestionSet(NamedTuple):
    """A question set as read from its YAML file."""

    questions: list[Question]
    conversations: list[list[Question]]
    held_out: bool  # `held_out: true`: only its figures are shown, never which questions missed


def parse_questions(text: str) -> list[Question]:
    """Questions from YAML: `questions: [{q, expect, source}]`; ValueError saying, in one line, what is wrong."""
    return parse_set(text).questions


def parse_set(text: str) -> QuestionSet:
    """A question set's questions, its conversations (`conversations: [{turns: [{q, expect, source}]}]`,
    optional) and whether it is held out (`held_out: true`); ValueError saying, in one line, what is wrong."""
    try:
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"is not valid YAML ({_yaml_problem(exc)})") from None
    items = data.get("questions") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise ValueError("a question set is YAML with a 'questions:' list of {q, expect, source}")
    questions = _questions(items, "question")
    conversations = data.get("conversations") or []
    if not isinstance(conversations, list) or not all(
        isinstance(c, dict) and isinstance(c.get("turns"), list) for c in conversations
    ):
        raise ValueError("'conversations:' is a list of {turns: [{q, expect, source}]}")
    turns = [_questions(c["turns"], f"conversation {n}, turn") for n, c in enumerate(conversations, 1)]
    return QuestionSet(questions, turns, data.get("held_out") is True)


def _questions(items: list[Any], what: str) -> list[Question]:
    for number, item in enumerate(items, 1):
        if not isinstance(item, dict) or "q" not in item:
            raise ValueError(f"{what} {number} has no 'q:'; each is {{q, expect, source}}")
        if not all(isinstance(item.get(key), str | None) for key in ("expect", "source", "kind")):
            raise ValueError(f"{what} {number}: 'expect:', 'source:' and 'kind:' are text, or left out")
    return [Question(str(i["q"]), i.get("expect"), i.get("source"), i.get("kind")) for i in items]


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """Where and what PyYAML found wrong, on one line."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or " ".join(str(exc).split())
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}" if mark is not None else problem


def evaluate(
    index: Index, questions: Sequence[Question], top: int = 3, conversations: Sequence[Sequence[Question]] = ()
) -> Report:
    outcomes = []
    for question in questions:
        answer = index.search(question.q, top=top)
        rank, pinpointed = _rank(question, answer), False
        if question.expect is not None:
            want = fold(question.expect)
            first = answer.hits[0] if answer.hits else None
            if first is not None and first.answer is not None and first.passage.article.source == question.source:
                pinpointed = want in fold(first.excerpt[first.answer[0] : first.answer[1]])
        outcomes.append(
            Outcome(
                question,
                rank,
                tuple(h.passage.id for h in answer.hits),
                tuple(h.relevance for h in answer.hits),
                pinpointed,
            )
        )
    return Report(tuple(outcomes), tuple(f for turns in conversations for f in _converse(index, turns, top)))


def _converse(index: Index, turns: Sequence[Question], top: int) -> list[FollowUp]:
    """A conversation's follow-ups, each resolved as the terminal chat resolves it."""
    conversation = Conversation()
    follow_ups = []
    for number, turn in enumerate(turns):
        resolved = conversation.ask(turn.q)
        rank = None
        if resolved is not None:
            answer = index.search(resolved, top=top)
            conversation.answered(answer)
            rank = _rank(turn, answer) if turn.expect is not None else (1 if answer.hits else None)
        if number:
            follow_ups.append(FollowUp(turn, resolved, rank))
    return follow_ups


def _rank(question: Question, answer: Answer) -> int | None:
    """The 1-based rank of the first result from the question's source holding its phrase; None if none."""
    if question.expect is None:
        return None
    want = fold(question.expect)
    for i, hit in enumerate(answer.hits, 1):
        if want in fold(hit.excerpt) and hit.passage.article.source == question.source:
            return i
    return None

"""Tuned defaults that both the settings and the engine need. Imports nothing, so that reading the
settings (bot/config.py) loads no part of the engine: settings sit above the engine, not beside it."""

DEFAULT_MIN_RELEVANCE = 0.22  # off-topic questions peak at 0.19, correct answers start at 0.245
"""The share of a question a passage must match to be shown (MIN_RELEVANCE); chosen on tests/questions.yaml."""

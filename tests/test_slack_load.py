"""benchmarks/slack_load.py at a tiny size, so the benchmark cannot rot: it runs, prints its table, writes its
JSON, and the bot it drives answers and logs every question. No timing is asserted: CI machines vary."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

RATE, SECONDS = 20, 2
QUESTIONS = RATE * SECONDS


def test_slack_load_benchmark_answers_and_logs_every_question(tmp_path: Path) -> None:
    out = tmp_path / "slack_load.json"
    size = ["--rate", str(RATE), "--seconds", str(SECONDS), "--concurrency", "8"]
    result = subprocess.run(
        [sys.executable, "benchmarks/slack_load.py", *size, "--json", str(out)],
        cwd=ROOT,
        env=os.environ | {"COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    printed = result.stdout
    assert f"Slack end to end: {RATE} questions/s for {SECONDS} s" in printed
    for measure in ("HTTP acks", "latency p99 (ms)", "lost log rows", "bot exit after SIGTERM"):
        assert measure in printed
    assert f"wrote {out}" in printed
    assert "Traceback" not in printed + result.stderr

    figures = json.loads(out.read_text(encoding="utf-8"))
    assert figures["sent"] == QUESTIONS
    assert figures["acks"] == {"200": QUESTIONS}
    assert figures["answered"] == QUESTIONS and figures["unanswered"] == 0
    assert figures["failed_posts"] == 0
    assert figures["log"]["rows"] == QUESTIONS
    assert figures["log"]["answers_posted"] == QUESTIONS
    assert figures["log"]["lost_log_rows"] == 0
    assert figures["log"]["errors"] == 0
    assert 0 < figures["log"]["abstained"] < QUESTIONS  # the mix has off-topic questions, and on-topic ones
    assert figures["bot"]["exit_status"] == 0
    assert figures["bot"]["warnings_or_errors"] == 0
    for summary in ("latency_ms", "ack_latency_ms"):
        assert set(figures[summary]) == {"p50", "p90", "p99", "max", "mean"}
        assert all(isinstance(value, float) for value in figures[summary].values())
    assert set(figures["targets"]) == {"rate", "p99", "lost_log_rows"}
    assert figures["targets"]["lost_log_rows"]["met"] is True
    assert figures["config"] | {"rate": RATE, "seconds": SECONDS} == figures["config"]
    assert {"python", "cpu", "cpus", "platform"} <= set(figures["machine"])

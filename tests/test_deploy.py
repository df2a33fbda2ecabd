"""deploy/: the Dockerfile, docker-compose.yml, the systemd unit and .dockerignore, as an operator meets them.

No Docker engine or systemd runs where these tests run, so no image is built, no container or unit is started.
What is real: the image's HEALTHCHECK command and its default CMD, each run as a subprocess (the test's
virtualenv stands in for the image's Python, and the port is the only thing changed) against a real
`python -m bot serve --http` talking to the fake Slack of tests/test_serve.py. What is checked by reading:
the Dockerfile (a small parser of its instructions), .dockerignore (Docker's matching rules, reimplemented),
docker-compose.yml (PyYAML) and the unit (a small parser of systemd's format), against one another and against
the bot's own constants, such as how long its shutdown can take.
"""

from __future__ import annotations

import asyncio
import json
import os
import posixpath
import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from bot.querylog import CLOSE_WAIT
from bot.serve import DRAIN_SECONDS, HEALTH_PATH, LATE_REQUEST_SECONDS, REQUEST_SECONDS
from tests import test_serve
from tests.conftest import ROOT
from tests.fakeslack import FakeSlack
from tests.test_serve import BOT_TOKEN, SIGNING_SECRET, bot_process, free_port

DEPLOY = ROOT / "deploy"
DOCKERFILE = DEPLOY / "Dockerfile"
COMPOSE = DEPLOY / "docker-compose.yml"
UNIT = DEPLOY / "policy-bot.service"
DOCKERIGNORE = ROOT / ".dockerignore"
ROOT_USERS = {"root", "0"}
# The longest shutdown after SIGTERM: requests in progress, then answers in flight, then the query log's last rows.
LONGEST_SHUTDOWN = LATE_REQUEST_SECONDS + REQUEST_SECONDS + DRAIN_SECONDS + CLOSE_WAIT

slack = test_serve.slack  # the fake Slack fixture, accepting BOT_TOKEN


# --- reading the files ------------------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str

    def exec_form(self) -> list[str]:
        """The JSON array form (`CMD ["python", ...]`); fails on the shell form."""
        assert self.args.startswith("["), f"{self.keyword} in shell form: /bin/sh, not the bot, would get SIGTERM"
        argv = json.loads(self.args)
        assert isinstance(argv, list) and all(isinstance(arg, str) for arg in argv), self.args
        return argv

    def words(self) -> list[str]:
        return self.exec_form() if self.args.startswith("[") else shlex.split(self.args)


def dockerfile() -> list[Instruction]:
    """The Dockerfile's instructions in order, continuation lines joined and comments dropped."""
    instructions, pending = [], ""
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        pending += line.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        keyword, _, args = pending.strip().partition(" ")
        instructions.append(Instruction(keyword.upper(), args.strip()))
        pending = ""
    assert not pending, "the Dockerfile ends in a continuation line"
    return instructions


def only(keyword: str) -> Instruction:
    [instruction] = [i for i in dockerfile() if i.keyword == keyword]
    return instruction


def position(keyword: str) -> int:
    [index] = [n for n, i in enumerate(dockerfile()) if i.keyword == keyword]
    return index


def image_env() -> dict[str, str]:
    pairs = (word.partition("=") for i in dockerfile() if i.keyword == "ENV" for word in shlex.split(i.args))
    return {key: value for key, _, value in pairs}


def image_volumes() -> set[str]:
    return set(only("VOLUME").words())


def image_user() -> str:
    """The user the default command runs as: the last USER before CMD."""
    users = [i.args for i in dockerfile()[: position("CMD")] if i.keyword == "USER"]
    assert users, "no USER instruction before CMD"
    return users[-1]


def exposed_port() -> int:
    [port] = only("EXPOSE").words()
    return int(port.removesuffix("/tcp"))


def option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def with_option(argv: list[str], name: str, value: str) -> list[str]:
    at = argv.index(name) + 1
    return [*argv[:at], value, *argv[at + 1 :]]


def health_check() -> tuple[dict[str, str], list[str]]:
    """HEALTHCHECK's options (`--timeout=5s` -> {"timeout": "5s"}) and its command, which must be the exec form."""
    match = re.fullmatch(r"((?:--[a-z-]+=\S+\s+)*)CMD\s+(\[.*\])", only("HEALTHCHECK").args)
    assert match, f"HEALTHCHECK should be `[--option=value ...] CMD [exec form]`: {only('HEALTHCHECK').args}"
    options = dict(word.removeprefix("--").split("=", 1) for word in match[1].split())
    return options, Instruction("CMD", match[2]).exec_form()


def copies() -> list[tuple[int, list[str], str]]:
    """Each COPY from the build context: (position, sources, destination)."""
    found = []
    for n, instruction in enumerate(dockerfile()):
        if instruction.keyword in {"COPY", "ADD"}:
            words = instruction.words()
            assert not any(w.startswith("--from") for w in words), "a multi-stage COPY: extend this test"
            *sources, destination = [w for w in words if not w.startswith("--")]
            found.append((n, sources, destination))
    assert found, "the Dockerfile copies nothing: every test that checks its copies would pass on nothing"
    return found


def copied() -> dict[str, str]:
    """Where the COPY instructions put each source in the image: image path -> repository path."""
    found = {}
    for _, sources, destination in copies():
        for source in sources:
            into_folder = (ROOT / source).is_file() and destination.endswith("/")
            target = posixpath.join(destination, PurePosixPath(source).name) if into_folder else destination
            found[posixpath.normpath(target)] = source
    return found


def chowned() -> dict[str, tuple[int, str]]:
    """Paths given an owner by `chown OWNER PATH...` in a RUN or `COPY --chown=OWNER ... PATH`:
    path -> (position of the instruction, owner)."""
    owners = {}
    for n, instruction in enumerate(dockerfile()):
        if instruction.keyword == "COPY":
            words = instruction.words()
            for word in words:
                if word.startswith("--chown="):
                    owners[posixpath.normpath(words[-1])] = (n, word.removeprefix("--chown="))
        if instruction.keyword != "RUN":
            continue
        for command in re.split(r"&&|;|\|\|", instruction.args):
            words = [w for w in shlex.split(command) if not w.startswith("-")]
            if words[:1] == ["chown"]:
                owner, *paths = words[1:]
                owners |= {posixpath.normpath(path): (n, owner) for path in paths}
    return owners


def inside(path: str, folder: str) -> bool:
    return PurePosixPath(path).is_relative_to(PurePosixPath(folder))


def ignore_rules() -> list[tuple[bool, re.Pattern[str]]]:
    """.dockerignore as (is an exception `!`, regex), in order, compiled as Docker compiles them."""
    rules = []
    for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        exception = line.startswith("!")
        pattern = posixpath.normpath(line.removeprefix("!").strip()).lstrip("/")
        rules.append((exception, re.compile(glob_regex(pattern))))
    return rules


def glob_regex(pattern: str) -> str:
    """Docker's pattern syntax: `*` and `?` stay within one folder, `**` spans any number, `[...]` as is."""
    out, at = "", 0
    while at < len(pattern):
        if pattern.startswith("**", at):
            at += 2 + pattern.startswith("/", at + 2)
            out += ".*" if at >= len(pattern) else "(.*/)?"
        elif pattern[at] == "*":
            out, at = out + "[^/]*", at + 1
        elif pattern[at] == "?":
            out, at = out + "[^/]", at + 1
        elif pattern[at] == "[":
            end = pattern.index("]", at)
            out, at = out + pattern[at : end + 1], end + 1
        else:
            out, at = out + re.escape(pattern[at]), at + 1
    return f"^{out}$"


def excluded_from_context(path: str) -> bool:
    """Whether Docker leaves `path` (relative to the repository root) out of the build context: the last
    rule that matches the path or one of its parent folders decides."""
    parts = path.split("/")
    candidates = [path] + ["/".join(parts[:n]) for n in range(1, len(parts))]
    excluded = False
    for exception, regex in ignore_rules():
        if exception == excluded and any(regex.match(candidate) for candidate in candidates):
            excluded = not exception
    return excluded


def repo_files(source: Path) -> list[str]:
    """The files a COPY of `source` should bring in, relative to the root (not caches or hidden files)."""
    paths = [source] if source.is_file() else sorted(p for p in source.rglob("*") if p.is_file())
    relative = [p.relative_to(ROOT).as_posix() for p in paths]
    return [r for r in relative if not any(part == "__pycache__" or part.startswith(".") for part in r.split("/"))]


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return data


def services() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose()["services"]
    assert found, "the compose file has no services: every test that checks them would pass on nothing"
    return found


def http_service() -> dict[str, Any]:
    [service] = [s for s in services().values() if "profiles" not in s]
    return service


def socket_service() -> dict[str, Any]:
    [service] = [s for s in services().values() if "socket" in s.get("profiles", [])]
    return service


def from_compose_folder(path: str) -> Path:
    return (COMPOSE.parent / path).resolve()


def mounts(service: dict[str, Any]) -> dict[str, str]:
    """Container path -> source (a host path or a volume name) of a service's short-syntax volumes."""
    found = {}
    for volume in service["volumes"]:
        source, target, *_ = volume.split(":")
        found[target] = source
    return found


def seconds(span: str | int) -> float:
    """A duration as Compose ("1m30s") or systemd ("30", "1min 30s") writes it, in seconds."""
    units = {"": 1.0, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "ms": 0.001}
    text = str(span).strip()
    assert re.fullmatch(r"(\d+(\.\d+)?\s*[a-z]*\s*)+", text), f"not a duration: {span!r}"
    return sum(float(number) * units[unit] for number, unit in re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]*)", text))


def unit() -> dict[str, dict[str, list[str]]]:
    """The systemd unit: section -> setting -> every value it is given, in order."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for line in UNIT.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None and "=" in line, f"not a unit file line: {line!r}"
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def service_setting(name: str) -> str:
    values = unit()["Service"].get(name)
    assert values, f"the unit does not set {name}="
    return values[-1]


def unit_environment() -> dict[str, str]:
    pairs = (word.partition("=") for line in unit()["Service"].get("Environment", []) for word in shlex.split(line))
    return {key: value for key, _, value in pairs}


async def run_health_check(port: int) -> int:
    """The image's HEALTHCHECK command, run as Docker runs it, pointed at `port`; its exit status.

    `python` is found on PATH, as in the image (here the test's virtualenv). Docker counts a check that
    outlives --timeout as failed, so the check must finish within it."""
    options, argv = health_check()
    url = f"127.0.0.1:{exposed_port()}{HEALTH_PATH}"
    assert sum(url in arg for arg in argv) == 1, f"the health check should ask {url} once: {argv}"
    argv = [arg.replace(url, f"127.0.0.1:{port}{HEALTH_PATH}") for arg in argv]
    env = {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    check = await asyncio.create_subprocess_exec(
        *argv, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    try:
        async with asyncio.timeout(seconds(options["timeout"])):
            return await check.wait()
    finally:
        if check.returncode is None:
            check.kill()
            await check.wait()


# --- the image ----------------------------------------------------------------------------------


def test_image_is_built_on_python_311_slim() -> None:
    [base] = [i.args for i in dockerfile() if i.keyword == "FROM"]
    assert re.fullmatch(r"python:3\.11(\.\d+)?-slim(-[a-z]+)?(@sha256:[0-9a-f]{64})?", base), base


def test_container_does_not_run_as_root() -> None:
    user, _, group = image_user().partition(":")

    assert user not in ROOT_USERS, "the bot would run as root"
    assert group not in ROOT_USERS, "the bot would run with root's group"


def test_knowledge_and_query_log_live_in_volumes_the_bot_can_use() -> None:
    volumes, env = image_volumes(), image_env()
    [knowledge] = [v for v in volumes if inside(env["KNOWLEDGE_DIR"], v)]
    [database] = [v for v in volumes if inside(env["QUERY_LOG_PATH"], v)]
    volume_declared = position("VOLUME")
    owners = chowned()

    assert knowledge != database
    # Docker discards what a build step writes to a volume's folder after VOLUME declares it.
    assert any(inside(dest, knowledge) and n < volume_declared for n, _, dest in copies()), (
        "the shipped articles would not be in the knowledge volume"
    )
    for folder, why in ((database, "create its database"), (knowledge, "save a document an admin uploads")):
        assert folder in owners, f"{folder} would belong to root: the bot could not {why}"
        written_at, owner = owners[folder]
        assert written_at < volume_declared
        assert owner == image_user(), f"{folder} belongs to {owner}, the bot runs as {image_user()}"


def test_default_command_serves_http_on_the_exposed_port_and_gets_sigterm() -> None:
    argv = only("CMD").exec_form()

    assert argv[:5] == ["python", "-m", "bot", "serve", "--http"]
    assert option(argv, "--host") == "0.0.0.0", "the bot would not be reachable from outside the container"
    assert int(option(argv, "--port")) == exposed_port()
    assert only("STOPSIGNAL").args == "SIGTERM"


def test_every_copied_file_exists_and_is_in_the_build_context() -> None:
    for _, sources, _ in copies():
        for source in sources:
            path = ROOT / source
            assert path.exists(), f"COPY {source}: no such file in the repository; the build would fail"
            files = repo_files(path)
            assert files, f"COPY {source} copies nothing"
            left_out = [f for f in files if excluded_from_context(f)]
            assert not left_out, f".dockerignore leaves out files the image needs: {left_out}"


def test_build_context_leaves_out_secrets_and_local_state() -> None:
    for path in (".env", ".git/config", ".venv/bin/python", "queries.db", "queries.db-wal", "bot/__pycache__/x.pyc"):
        assert excluded_from_context(path), f"{path} would be sent to the Docker builder"


def test_image_installs_the_project_as_a_package_without_dev_extras() -> None:
    [install] = [i.args for i in dockerfile() if i.keyword == "RUN" and "pip install" in i.args]
    [project] = [posixpath.dirname(path) for path, source in copied().items() if source == "pyproject.toml"]

    assert re.search(rf"pip install {re.escape(project)}/?(\s|$)", install), install
    assert " -e " not in f" {install} " and "[dev]" not in install, "the image would install for development"
    # setuptools reads these while building the package: without them `pip install` fails.
    assert {posixpath.join(project, "README.md"), posixpath.join(project, "bot")} <= set(copied())


# --- the health check, run for real ---------------------------------------------------------------


async def test_health_check_passes_against_the_images_default_command(slack: FakeSlack, tmp_path: Path) -> None:
    port = free_port()
    argv = with_option(only("CMD").exec_form(), "--port", str(port))
    settings = {"SLACK_API_URL": slack.api_url, "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET}
    assert argv[:3] == ["python", "-m", "bot"]

    async with bot_process(tmp_path, *argv[3:], **settings) as bot:
        await bot.wait_for_line(f":{port}/slack/events")
        status = await run_health_check(port)
        await bot.stop()

    assert status == 0, f"the health check reports a running bot as unhealthy:\n{bot.printed}"


async def test_health_check_fails_when_nothing_listens() -> None:
    assert await run_health_check(free_port()) != 0, "the health check reports a dead bot as healthy"


async def test_health_check_fails_when_something_else_answers_on_the_port(slack: FakeSlack) -> None:
    port = int(slack.url.rsplit(":", 1)[1])  # a web server with no /healthz

    assert await run_health_check(port) != 0, "the health check takes any web server for the bot"


# --- docker-compose.yml ---------------------------------------------------------------------------


def test_compose_builds_the_image_from_the_repository() -> None:
    for service in services().values():
        assert from_compose_folder(service["build"]["context"]) == ROOT
        assert (ROOT / service["build"]["dockerfile"]).resolve() == DOCKERFILE


def test_compose_mounts_the_images_volumes() -> None:
    for name, service in services().items():
        volumes = mounts(service)
        env = service["environment"]

        assert set(volumes) == image_volumes(), f"{name} mounts {set(volumes)}, the image declares {image_volumes()}"
        knowledge = next(v for v in volumes if inside(env["KNOWLEDGE_DIR"], v))
        database = next(v for v in volumes if inside(env["QUERY_LOG_PATH"], v))
        assert from_compose_folder(volumes[knowledge]) == ROOT / "knowledge", "admins' edits would not reach the bot"
        options = next(v for v in service["volumes"] if v.split(":")[1] == knowledge).split(":")[2:]
        assert "ro" not in options, "documents uploaded from Slack could not be saved"
        assert volumes[database] in compose()["volumes"], "the query log would be lost when the container is recreated"


def test_compose_reads_the_repository_env_file_but_keeps_paths_inside_the_volumes() -> None:
    for service in services().values():
        assert from_compose_folder(service["env_file"]) == ROOT / ".env", "the bot would start without its tokens"
        # `environment` wins over env_file, where a copy of .env.example sets QUERY_LOG_PATH=queries.db: the
        # query log would be written outside its volume (or not at all: /app belongs to root).
        for setting in ("KNOWLEDGE_DIR", "QUERY_LOG_PATH"):
            assert service["environment"][setting] == image_env()[setting]


def test_compose_stops_the_bot_after_it_has_drained() -> None:
    for name, service in services().items():
        grace = seconds(service["stop_grace_period"])

        assert grace > LONGEST_SHUTDOWN, (
            f"{name} would be killed after {grace} s; shutdown takes up to {LONGEST_SHUTDOWN} s"
        )
        assert service.get("stop_signal", "SIGTERM") == "SIGTERM"
        assert service["restart"] in {"always", "unless-stopped", "on-failure"}


def test_compose_http_service_checks_health_as_the_image_does_on_the_published_port() -> None:
    service = http_service()
    options, argv = health_check()
    check = service["healthcheck"]

    assert "command" not in service or service["command"] == only("CMD").exec_form()
    assert check["test"] == ["CMD", *argv]
    assert {key: check[key] for key in ("interval", "timeout", "start_period", "retries")} == {
        "interval": options["interval"],
        "timeout": options["timeout"],
        "start_period": options["start-period"],
        "retries": int(options["retries"]),
    }
    assert [int(str(p).rsplit(":", 1)[1]) for p in service["ports"]] == [exposed_port()]


def test_compose_socket_mode_service_serves_socket_mode_without_a_health_check() -> None:
    service = socket_service()

    assert service["command"] == ["python", "-m", "bot", "serve"]
    assert service["healthcheck"] == {"disable": True}, "Socket Mode has no /healthz: it would be marked unhealthy"
    assert "ports" not in service


# --- the systemd unit -------------------------------------------------------------------------------


def test_unit_runs_the_bot_from_a_virtualenv_as_a_dedicated_user() -> None:
    python, *args = shlex.split(service_setting("ExecStart"))

    assert args == ["-m", "bot", "serve"]
    assert PurePosixPath(python).is_absolute() and PurePosixPath(python).parent.parent.name == ".venv", python
    assert service_setting("User") not in ROOT_USERS, "the bot would run as root"
    assert service_setting("Group") not in ROOT_USERS
    assert service_setting("Restart") == "on-failure"
    assert unit()["Install"]["WantedBy"] == ["multi-user.target"], "the bot would not start at boot"


def test_unit_stops_the_bot_with_sigterm_after_it_has_drained() -> None:
    timeout = seconds(service_setting("TimeoutStopSec"))

    assert service_setting("KillSignal") == "SIGTERM"
    assert timeout > LONGEST_SHUTDOWN, (
        f"systemd would kill the bot after {timeout} s; shutdown takes {LONGEST_SHUTDOWN} s"
    )


def test_unit_reads_the_env_file_and_keeps_the_query_log_in_its_state_directory() -> None:
    env = unit_environment()
    state = PurePosixPath("/var/lib") / service_setting("StateDirectory")

    env_file = service_setting("EnvironmentFile")
    assert not env_file.startswith("-"), "a missing env file would be ignored without a word"
    assert PurePosixPath(env_file).is_absolute()
    # ProtectSystem=strict makes everything else read-only: the state directory is where the bot can write.
    assert PurePosixPath(env["QUERY_LOG_PATH"]).parent == state
    assert PurePosixPath(env["KNOWLEDGE_DIR"]).is_absolute()
    # Admins add documents from Slack: the knowledge folder is the other place it may write.
    assert env["KNOWLEDGE_DIR"] in service_setting("ReadWritePaths").split()


def test_unit_is_hardened() -> None:
    expected = {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "CapabilityBoundingSet": "",
    }

    assert {key: service_setting(key) for key in expected} == expected

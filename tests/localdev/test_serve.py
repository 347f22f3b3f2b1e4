"""`make serve` as a newcomer runs it, following docs/local.md: the doc's commands work as written
(curl plays RunPod; local_cli needs no AWS CLI or account), the webhook logs like the deployed
function, errors are one line, and executions wait as long as the README's Task."""

import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

from localdev import aws_setup
from localdev.runtime import aws_region
from tests.terraform.tf_tools import REPO, unavailable

LOCAL_SETTINGS = ("POWERTOOLS_SERVICE_NAME", "CALLBACK_TABLE_NAME", "AWS_ENDPOINT_URL")
DOC = REPO / "docs" / "local.md"
LOCAL_CLI = ".venv/bin/python -m localdev.local_cli"


class Serving:
    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, text: str, timeout_s: float = 60) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                continue
            self.seen.append(line)
            if text in line:
                return line
        raise AssertionError(f"{text!r} not printed; saw:\n" + "\n".join(self.seen))

    def command_after(self, heading: str) -> str:
        """The command printed under a heading (continuation lines joined)."""
        self.wait_for(heading)
        command = self.wait_for("")
        while command.endswith("\\"):
            command = command[:-1] + self.wait_for("")
        return command.strip()


def _environment(**extra: str) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if k not in LOCAL_SETTINGS}
    return {**environment, **extra}


def _serve(*arguments: str, **environment: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "localdev.serve", *arguments],
        cwd=REPO,
        env=_environment(**environment),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _stop(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGINT)
    process.wait(timeout=30)


@pytest.fixture(scope="module")
def serving() -> Iterator[Serving]:
    process = _serve("--port", "0", "--aws-port", "0", "--watchdog-period", "1")
    try:
        yield Serving(process)
    finally:
        _stop(process)


@pytest.fixture(scope="module")
def printed(serving: Serving) -> dict[str, str]:
    """What serve prints: its URLs and the commands under each heading."""
    webhook = (
        serving.wait_for("Webhook: POST ").split()[2].removesuffix("/webhook/<callback_token>")
    )
    endpoint = serving.wait_for("Local AWS (moto): ").split()[3]
    commands = {"curl": serving.command_after("Play RunPod:")}
    for heading in ("Start another", "Submit a job", "List the", "One execution", "Look at", "Run"):
        commands[heading] = serving.command_after(heading)
    return {"webhook": webhook, "endpoint": endpoint, **commands}


def _doc_commands() -> list[str]:
    """The commands of docs/local.md's bash blocks (continuation lines joined)."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", DOC.read_text(), flags=re.DOTALL):
        commands.append(block.replace("\\\n", "").strip())
    return commands


def _as_served(command: str, printed: dict[str, str]) -> str:
    """A command of the doc, for this serve's ports (the doc's are the defaults)."""
    command = command.replace("http://127.0.0.1:8080", printed["webhook"])
    return command.replace(LOCAL_CLI, f"{LOCAL_CLI} --endpoint {printed['endpoint']}")


def _run(command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, shell=True, cwd=REPO, capture_output=True, text=True, check=False, timeout=60
    )


def test_serve_prints_the_commands_of_docs_local_md(printed: dict[str, str]) -> None:
    doc = DOC.read_text()
    for name, command in printed.items():
        if name in {"webhook", "endpoint"}:
            continue
        as_documented = command.replace(printed["webhook"], "http://127.0.0.1:8080").replace(
            f" --endpoint {printed['endpoint']}", ""
        )
        assert " ".join(as_documented.split()) in " ".join(doc.replace("\\\n", "").split())


def test_docs_local_md_walk_through_works_as_written(
    serving: Serving, printed: dict[str, str]
) -> None:
    if shutil.which("curl") is None:
        unavailable("no curl on PATH to run the documented RunPod call")
    curl, start, submit, executions, describe, records, watchdog = _doc_commands()[1:]

    answer = _run(_as_served(curl, printed))
    assert json.loads(answer.stdout) == {"status": "COMPLETED", "message": "task resumed"}
    serving.wait_for("Processing RunPod job runpod-job-123 with status COMPLETED for callback te…")
    serving.wait_for("Sent TaskSuccess for job runpod-job-123")

    started = _run(_as_served(start, printed))
    assert started.returncode == 0, started.stderr
    waiting, token = re.findall(r"Execution (\S+) waits on callback token (\S+)", started.stdout)[0]

    submitted = _run(_as_served(submit, printed))
    assert submitted.returncode == 0, submitted.stderr
    (succeeding,) = re.findall(r"Execution (\S+) submitted RunPod job job-\w+", submitted.stdout)

    # A FAILED webhook: the webhook's log lines, no traceback of moto's in serve's terminal.
    failed = curl.replace("test-123", token).replace('"COMPLETED"', '"FAILED"')
    assert '"FAILED"' in failed
    assert json.loads(_run(_as_served(failed, printed)).stdout)["status"] == "FAILED"
    serving.wait_for("Sent TaskFailure for job runpod-job-123")

    described = _run(_as_served(describe.replace("<execution>", succeeding), printed))
    for _ in range(50):  # the fake RunPod's job runs 2 s
        if "RUNNING" not in described.stdout:
            break
        time.sleep(0.2)
        described = _run(_as_served(describe.replace("<execution>", succeeding), printed))
    assert described.returncode == 0, described.stderr
    assert described.stdout.startswith(f"Execution {succeeding}: SUCCEEDED\n")
    output = json.loads(described.stdout.split("\n", 1)[1])
    assert output["output"] == {"processed": {"video": "s3://videos/seg_0001.mp4"}}
    failure = _run(_as_served(describe.replace("<execution>", waiting), printed))
    assert f"Execution {waiting}: FAILED\nerror: RunPod.FAILED" in failure.stdout

    listed = _run(_as_served(executions, printed))
    assert listed.stdout.split()[:5] == ["execution", "state", "machine", "status", "started"]
    assert re.search(rf"{succeeding}\s+runpod-submit-job\s+SUCCEEDED", listed.stdout)

    rows = _run(_as_served(records, printed)).stdout.splitlines()
    assert rows[0].split() == ["callback_token", "job_id", "status", "completed_at"]
    assert re.search(r"^test-123\s+runpod-job-123\s+COMPLETED\s+\S+Z$", "\n".join(rows), re.M)

    ran = _run(_as_served(watchdog, printed))
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.splitlines()[-1].startswith("Watchdog run: ")
    serving.wait_for("[scheduled] Watchdog run: ")  # the schedule runs it too
    assert not [line for line in serving.seen if "Traceback" in line]


def test_local_cli_errors_are_one_line(printed: dict[str, str]) -> None:
    nothing = _run(f"{LOCAL_CLI} --endpoint http://127.0.0.1:9 records")
    no_table = _run(f"{LOCAL_CLI} --endpoint {printed['endpoint']} --table nope records")
    no_execution = _run(f"{LOCAL_CLI} --endpoint {printed['endpoint']} describe-execution nope")

    assert nothing.returncode == 1
    assert nothing.stderr == (
        "local_cli: nothing answers at http://127.0.0.1:9: is `make serve` running?\n"
    )
    assert no_table.returncode == 1
    assert re.fullmatch(r"local_cli: ResourceNotFoundException: .+\n", no_table.stderr)
    assert no_execution.stderr == (
        "local_cli: no execution named nope (see the executions command)\n"
    )


@pytest.mark.parametrize("flag", ["--port", "--aws-port"])
def test_a_busy_port_says_which_flag_to_use(flag: str) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        other = "--aws-port" if flag == "--port" else "--port"
        served = subprocess.run(
            [sys.executable, "-m", "localdev.serve", flag, str(port), other, "0"],
            cwd=REPO,
            env=_environment(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    assert served.returncode == 2
    assert served.stdout == ""
    assert served.stderr == (
        f"make serve: port {port} is in use (another make serve?): pick another with {flag}, "
        f"e.g. make serve ARGS='{flag} {port + 1}'\n"
    )


def test_aws_serves_in_the_profiles_region(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text("[profile playground]\nregion = eu-west-3\n")
    environment = {"AWS_CONFIG_FILE": str(config), "AWS_PROFILE": "playground"}
    process = subprocess.Popen(
        [sys.executable, "-m", "localdev.serve", "--aws", "--table", "t", "--port", "0"],
        cwd=REPO,
        env={
            k: v
            for k, v in _environment(**environment).items()
            if k not in {"AWS_REGION", "AWS_DEFAULT_REGION"}
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        serving = Serving(process)
        serving.wait_for("Serving against your AWS account in eu-west-3, table t.")
    finally:
        _stop(process)


def test_the_region_is_aws_region_else_the_profiles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config"
    config.write_text("[profile playground]\nregion = ap-south-1\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_PROFILE", "playground")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.delenv("AWS_REGION", raising=False)
    assert aws_region() == "ap-south-1"
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-central-1")
    assert aws_region() == "eu-central-1"
    monkeypatch.setenv("AWS_REGION", "sa-east-1")
    assert aws_region() == "sa-east-1"


def _task_timeout(definition: dict[str, object], state: str) -> tuple[int, bool]:
    """The TimeoutSeconds moto runs a Task state with, and whether it is moto's default."""
    program, _ = AmazonStateLanguageParser.parse(json.dumps(definition))
    timeout = program.states.states[state].timeout
    return timeout.timeout_seconds, timeout.is_default_value()


def test_waiting_executions_wait_as_long_as_the_documented_task() -> None:
    waiting = aws_setup.waiting_task_definition("t")
    submitting = aws_setup.submitting_task_definition("arn:aws:lambda:::function:f")

    assert waiting["States"]["WaitForRunPod"]["TimeoutSeconds"] == 3600
    assert "TimeoutSeconds: 3600" in (REPO / "docs" / "operations.md").read_text().replace('"', "")
    assert _task_timeout(waiting, "WaitForRunPod") == (3600, False)
    assert _task_timeout(submitting, "RunOnRunPod") == (3600, False)
    # What the walk-through ran into: HeartbeatSeconds alone, and moto waits 60 s.
    del waiting["States"]["WaitForRunPod"]["TimeoutSeconds"]
    assert _task_timeout(waiting, "WaitForRunPod") == (60, True)

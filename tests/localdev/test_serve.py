"""`make serve` as a newcomer runs it: it logs like the deployed function, and the commands it
prints work exactly as printed (curl plays RunPod; the local CLI needs no AWS CLI or account)."""

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from tests.terraform.tf_tools import REPO, unavailable

LOCAL_SETTINGS = ("POWERTOOLS_SERVICE_NAME", "CALLBACK_TABLE_NAME", "AWS_ENDPOINT_URL")


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


@pytest.fixture
def serving() -> Iterator[Serving]:
    environment = {k: v for k, v in os.environ.items() if k not in LOCAL_SETTINGS}
    process = subprocess.Popen(
        [sys.executable, "-m", "localdev.serve", "--port", "0"],
        cwd=REPO,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield Serving(process)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)


def test_printed_commands_work_as_printed_and_the_webhook_logs_like_lambda(
    serving: Serving,
) -> None:
    if shutil.which("curl") is None:
        unavailable("no curl on PATH to run the printed RunPod call")
    curl = serving.command_after("Play RunPod:")
    start_execution = serving.command_after("Start another execution")
    records = serving.command_after("Look at the records:")

    answer = subprocess.run(curl, shell=True, capture_output=True, text=True, check=True)
    started = subprocess.run(
        start_execution, shell=True, capture_output=True, text=True, check=False
    )
    listed = subprocess.run(records, shell=True, capture_output=True, text=True, check=False)

    assert json.loads(answer.stdout) == {"status": "COMPLETED", "message": "task resumed"}
    serving.wait_for("Processing RunPod job runpod-job-123 with status COMPLETED for callback te…")
    serving.wait_for("Sent TaskSuccess for job runpod-job-123")
    assert started.returncode == 0, started.stderr
    assert "waits on callback token" in started.stdout
    assert listed.returncode == 0, listed.stderr
    assert "test-123  runpod-job-123  COMPLETED" in listed.stdout
    assert "PENDING" in listed.stdout  # the execution just started


def test_readme_plays_runpod_with_the_body_make_serve_prints(serving: Serving) -> None:
    curl = serving.command_after("Play RunPod:")
    body = curl.split("-d '", 1)[1].rstrip("'")

    assert body in (REPO / "README.md").read_text()

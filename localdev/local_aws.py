"""moto as AWS, in this process under botocore or as a server on loopback; state machines run."""

import json
import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import moto
from moto.core.config import DefaultConfig
from moto.server import ThreadedMotoServer
from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackEndpoint, HeartbeatEndpoint

from localdev.loopback import post_json
from localdev.moto_logs_queries import serve_query_definitions

# Run state machines for real; Lambda invocations from them return at once (no Docker here):
# the callers run the invoked handler themselves with the scheduled payload.
EXECUTE_STATE_MACHINES: DefaultConfig = {
    "stepfunctions": {"execute_state_machine": True},
    "lambda": {"use_docker": False},
}


MOTO_SETUP_HEARTBEAT = CallbackEndpoint.setup_heartbeat_endpoint  # moto's own, as imported


@contextmanager
def heartbeat_race_closed() -> Iterator[None]:
    """Close a race of moto's executions (not AWS's) while the block runs.

    A task that declares HeartbeatSeconds sets up its heartbeat wait only after its Lambda invoke
    returns, though its token is already known. A SendTaskSuccess/Failure in between stores the
    outcome but wakes no wait: the task sleeps HeartbeatSeconds and fails. Here the wait, once
    set up, ends at once with an outcome that came first (`notify` stores, then wakes the wait if
    there is one; this sets the wait up, then looks: one of the two sees the other).
    """
    set_up = CallbackEndpoint.setup_heartbeat_endpoint

    def setup_heartbeat_endpoint(
        self: CallbackEndpoint, heartbeat_seconds: int
    ) -> HeartbeatEndpoint:
        heartbeat = set_up(self, heartbeat_seconds=heartbeat_seconds)
        if self.get_outcome() is not None:
            heartbeat.notify()  # type: ignore[no-untyped-call]
        return heartbeat

    CallbackEndpoint.setup_heartbeat_endpoint = setup_heartbeat_endpoint  # type: ignore[method-assign]
    try:
        yield
    finally:
        CallbackEndpoint.setup_heartbeat_endpoint = set_up  # type: ignore[method-assign]


@contextmanager
def in_process_aws() -> Iterator[None]:
    """moto in this process, under botocore: state machines run, the heartbeat race closed."""
    with moto.mock_aws(config=EXECUTE_STATE_MACHINES), heartbeat_race_closed():
        yield


@contextmanager
def local_aws(port: int = 0) -> Iterator[str]:
    """Serve moto on 127.0.0.1 (any free port by default); yields its endpoint URL.

    Sets MOTO_PORT while it runs: state machine tasks call back into the server through it.
    """
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    serve_query_definitions()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    host, bound_port = server.get_host_and_port()
    endpoint = f"http://{host}:{bound_port}"
    previous_moto_port = os.environ.get("MOTO_PORT")
    os.environ["MOTO_PORT"] = str(bound_port)
    try:
        _moto_api(endpoint, "config", EXECUTE_STATE_MACHINES)
        with heartbeat_race_closed():
            yield endpoint
    finally:
        reset_local_aws(endpoint)
        server.stop()
        if previous_moto_port is None:
            os.environ.pop("MOTO_PORT", None)
        else:
            os.environ["MOTO_PORT"] = previous_moto_port


def reset_local_aws(endpoint: str) -> None:
    """Empty a local AWS served by local_aws: every resource goes, its settings stay."""
    _moto_api(endpoint, "reset", {})


def _moto_api(endpoint: str, action: str, payload: Mapping[str, Any]) -> None:
    status, answer = post_json(f"{endpoint}/moto-api/{action}", json.dumps(payload), timeout_s=10)
    if status >= 400:
        raise RuntimeError(f"moto-api/{action} answered {status}: {answer[:200]!r}")

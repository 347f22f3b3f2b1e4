"""AWS on loopback: a moto server in a thread that really runs state machine executions."""

import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from moto.server import ThreadedMotoServer

from localdev.loopback import post_json

# Run state machines for real; Lambda invocations from them return at once (no Docker here):
# the callers run the invoked handler themselves with the scheduled payload.
EXECUTE_STATE_MACHINES = {
    "stepfunctions": {"execute_state_machine": True},
    "lambda": {"use_docker": False},
}


@contextmanager
def local_aws(port: int = 0) -> Iterator[str]:
    """Serve moto on 127.0.0.1 (any free port by default); yields its endpoint URL.

    Sets MOTO_PORT while it runs: state machine tasks call back into the server through it.
    """
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    host, bound_port = server.get_host_and_port()
    endpoint = f"http://{host}:{bound_port}"
    previous_moto_port = os.environ.get("MOTO_PORT")
    os.environ["MOTO_PORT"] = str(bound_port)
    try:
        _moto_api(endpoint, "config", EXECUTE_STATE_MACHINES)
        yield endpoint
    finally:
        _moto_api(endpoint, "reset", {})
        server.stop()
        if previous_moto_port is None:
            os.environ.pop("MOTO_PORT", None)
        else:
            os.environ["MOTO_PORT"] = previous_moto_port


def _moto_api(endpoint: str, action: str, payload: dict[str, Any]) -> None:
    status, answer = post_json(f"{endpoint}/moto-api/{action}", json.dumps(payload), timeout_s=10)
    if status >= 400:
        raise RuntimeError(f"moto-api/{action} answered {status}: {answer[:200]!r}")

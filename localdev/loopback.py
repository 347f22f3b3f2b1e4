"""HTTP on 127.0.0.1 for the local system: run a server in a thread, POST JSON to one."""

import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import HTTPServer

# serve_forever notices shutdown() only between polls (0.5 s apart by default), and every test
# that serves stops its servers: poll often, so they stop at once.
POLL_INTERVAL_S = 0.05


def post_json(url: str, body: str, timeout_s: float = 30) -> tuple[int, bytes]:
    """POST a JSON text; returns the status and body, error statuses included.

    Raises urllib.error.URLError (or TimeoutError) when nothing answers.
    """
    request = urllib.request.Request(  # noqa: S310 - loopback URLs the local system built
        url, data=body.encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310
            return int(response.status), response.read()
    except urllib.error.HTTPError as error:
        return int(error.code), error.read()


@contextmanager
def serve_in_thread(server: HTTPServer, name: str) -> Iterator[str]:
    """Serve until the block ends; yields the server's base URL."""
    thread = threading.Thread(
        target=server.serve_forever, args=(POLL_INTERVAL_S,), name=name, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

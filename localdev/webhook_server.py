"""Serve a Lambda proxy handler on loopback, one request at a time like one Lambda instance."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

from localdev.lambda_context import LocalLambdaContext
from localdev.loopback import serve_in_thread
from localdev.proxy_events import from_proxy_result, to_proxy_event

WEBHOOK_ROUTES = ("/webhook/{callback_token}",)
LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]


def _request_handler(lambda_handler: LambdaHandler) -> type[BaseHTTPRequestHandler]:
    class ProxyToLambda(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self._invoke()

        def do_GET(self) -> None:
            self._invoke()

        def _invoke(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            event = to_proxy_event(
                self.command,
                self.path,
                self.headers.items(),
                self.rfile.read(length),
                routes=WEBHOOK_ROUTES,
                source_ip=self.client_address[0],
            )
            answer = from_proxy_result(lambda_handler(event, LocalLambdaContext()))
            self.send_response(answer.status)
            for name, value in answer.headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the handler's own log lines say what happened."""

    return ProxyToLambda


@contextmanager
def serve_webhook(lambda_handler: LambdaHandler, port: int = 0) -> Iterator[str]:
    """Serve on 127.0.0.1 (any free port by default); yields the base URL."""
    server = HTTPServer(("127.0.0.1", port), _request_handler(lambda_handler))
    with serve_in_thread(server, "webhook-server") as base_url:
        yield base_url

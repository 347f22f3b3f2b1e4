"""HTTP requests to API Gateway REST proxy events (payload v1), and the handler's answer back."""

import base64
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def match_route(path: str, templates: Iterable[str]) -> tuple[str, dict[str, str]] | None:
    """The first `/a/{b}` template that the path fits, with its path parameters (URL-decoded)."""
    segments = path.strip("/").split("/")
    for template in templates:
        parts = template.strip("/").split("/")
        if len(parts) != len(segments):
            continue
        parameters: dict[str, str] = {}
        for part, segment in zip(parts, segments, strict=True):
            if part.startswith("{") and part.endswith("}"):
                if not segment:
                    break
                parameters[part[1:-1]] = unquote(segment)
            elif part != segment:
                break
        else:
            return template, parameters
    return None


def to_proxy_event(
    method: str,
    target: str,
    headers: Iterable[tuple[str, str]],
    body: bytes,
    *,
    routes: Iterable[str],
    stage: str = "local",
    source_ip: str = "127.0.0.1",
) -> dict[str, Any]:
    """Build the event API Gateway would send for this request (`target` is path?query)."""
    url = urlsplit(target)
    path = unquote(url.path)
    matched = match_route(url.path, routes)
    resource, path_parameters = matched if matched else (path, {})
    multi_headers: dict[str, list[str]] = {}
    for name, value in headers:
        multi_headers.setdefault(name, []).append(value)
    multi_query: dict[str, list[str]] = {}
    for name, value in parse_qsl(url.query, keep_blank_values=True):
        multi_query.setdefault(name, []).append(value)
    text_body, encoded = _body(body)
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": {name: values[-1] for name, values in multi_headers.items()} or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": {n: v[-1] for n, v in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": path_parameters or None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": method,
            "path": f"/{stage}{path}",
            "stage": stage,
            "protocol": "HTTP/1.1",
            "requestId": str(uuid.uuid4()),
            "requestTimeEpoch": int(time.time() * 1000),
            "accountId": "123456789012",
            "apiId": "local",
            "identity": {"sourceIp": source_ip},
        },
        "body": text_body,
        "isBase64Encoded": encoded,
    }


def from_proxy_result(result: Mapping[str, Any]) -> HttpAnswer:
    headers = [(name, str(value)) for name, value in (result.get("headers") or {}).items()]
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers.extend((name, str(value)) for value in values)
    body = result.get("body") or ""
    raw = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
    return HttpAnswer(status=int(result.get("statusCode", 502)), headers=headers, body=raw)


def _body(body: bytes) -> tuple[str | None, bool]:
    """Text bodies travel as they are, anything else base64-encoded, as API Gateway does."""
    if not body:
        return None, False
    try:
        return body.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(body).decode("ascii"), True

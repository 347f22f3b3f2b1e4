"""The HTTP ↔ API Gateway proxy event adapter behind `make demo` and `make serve`."""

import base64
import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from localdev.proxy_events import from_proxy_result, match_route, to_proxy_event
from localdev.webhook_server import WEBHOOK_ROUTES, serve_webhook


def test_path_parameters_come_from_the_route_template() -> None:
    event = to_proxy_event("POST", "/webhook/abc-123", [], b"{}", routes=WEBHOOK_ROUTES)

    assert event["resource"] == "/webhook/{callback_token}"
    assert event["path"] == "/webhook/abc-123"
    assert event["pathParameters"] == {"callback_token": "abc-123"}
    assert event["requestContext"]["resourcePath"] == "/webhook/{callback_token}"


def test_path_parameters_are_url_decoded() -> None:
    event = to_proxy_event("POST", "/webhook/a%20b", [], b"", routes=WEBHOOK_ROUTES)

    assert event["pathParameters"] == {"callback_token": "a b"}


@pytest.mark.parametrize("path", ["/webhook", "/webhook/", "/webhook/a/b", "/other/a"])
def test_paths_off_the_route_have_no_parameters(path: str) -> None:
    assert match_route(path, WEBHOOK_ROUTES) is None
    assert to_proxy_event("POST", path, [], b"", routes=WEBHOOK_ROUTES)["pathParameters"] is None


def test_headers_keep_every_value_and_the_last_as_single() -> None:
    headers = [("Content-Type", "application/json"), ("X-Trace", "1"), ("X-Trace", "2")]

    event = to_proxy_event("POST", "/webhook/t", headers, b"", routes=WEBHOOK_ROUTES)

    assert event["headers"] == {"Content-Type": "application/json", "X-Trace": "2"}
    assert event["multiValueHeaders"]["X-Trace"] == ["1", "2"]


def test_query_strings_single_and_multi_valued() -> None:
    event = to_proxy_event("POST", "/webhook/t?a=1&b=x&a=2&empty=", [], b"", routes=WEBHOOK_ROUTES)

    assert event["queryStringParameters"] == {"a": "2", "b": "x", "empty": ""}
    assert event["multiValueQueryStringParameters"]["a"] == ["1", "2"]
    assert event["path"] == "/webhook/t"


def test_no_query_and_no_body_are_null_as_in_api_gateway() -> None:
    event = to_proxy_event("POST", "/webhook/t", [], b"", routes=WEBHOOK_ROUTES)

    assert event["queryStringParameters"] is None
    assert event["body"] is None
    assert event["isBase64Encoded"] is False


def test_text_body_travels_as_text_and_binary_as_base64() -> None:
    text = to_proxy_event("POST", "/webhook/t", [], "é ☕".encode(), routes=WEBHOOK_ROUTES)
    binary = to_proxy_event("POST", "/webhook/t", [], b"\xff\x00\xfe", routes=WEBHOOK_ROUTES)

    assert (text["body"], text["isBase64Encoded"]) == ("é ☕", False)
    assert binary["isBase64Encoded"] is True
    assert base64.b64decode(binary["body"]) == b"\xff\x00\xfe"


def test_result_status_headers_and_body_come_back() -> None:
    answer = from_proxy_result(
        {
            "statusCode": 409,
            "headers": {"Content-Type": "application/json"},
            "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]},
            "body": '{"message": "in flight"}',
            "isBase64Encoded": False,
        }
    )

    assert answer.status == 409
    assert ("Content-Type", "application/json") in answer.headers
    assert [value for name, value in answer.headers if name == "Set-Cookie"] == ["a=1", "b=2"]
    assert json.loads(answer.body) == {"message": "in flight"}


def test_base64_result_body_is_decoded() -> None:
    answer = from_proxy_result({"statusCode": 200, "body": "AAEC", "isBase64Encoded": True})

    assert answer.body == b"\x00\x01\x02"


def test_server_turns_requests_into_events_and_results_into_responses() -> None:
    seen: list[dict[str, Any]] = []

    def echo(event: dict[str, Any], _context: Any) -> dict[str, Any]:
        seen.append(event)
        return {"statusCode": 418, "headers": {"X-Echo": "yes"}, "body": event["body"]}

    with serve_webhook(echo) as base:
        request = urllib.request.Request(
            f"{base}/webhook/tok-9?x=1", data=b'{"id": "j"}', method="POST"
        )
        with pytest.raises(urllib.error.HTTPError) as answer:
            urllib.request.urlopen(request, timeout=10)

    assert answer.value.code == 418
    assert answer.value.headers["X-Echo"] == "yes"
    assert answer.value.read() == b'{"id": "j"}'
    assert seen[0]["pathParameters"] == {"callback_token": "tok-9"}
    assert seen[0]["queryStringParameters"] == {"x": "1"}
    assert seen[0]["requestContext"]["identity"]["sourceIp"] == "127.0.0.1"

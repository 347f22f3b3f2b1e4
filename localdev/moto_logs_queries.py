"""CloudWatch Logs saved queries (PutQueryDefinition and kin), which moto 5 does not serve.

The module creates Logs Insights query definitions; `terraform apply` against moto needs the
three calls the AWS provider makes for them. Each account and region keeps its own, as AWS
does, and moto's reset forgets them with the rest.
"""

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from moto.logs.responses import LogsResponse


def _definitions(response: LogsResponse) -> dict[str, dict[str, Any]]:
    backend = response.logs_backend
    if not hasattr(backend, "query_definitions"):
        backend.query_definitions = {}  # type: ignore[attr-defined]
    definitions: dict[str, dict[str, Any]] = backend.query_definitions  # type: ignore[attr-defined]
    return definitions


def put_query_definition(self: LogsResponse) -> str:
    definition_id = self._get_param("queryDefinitionId") or str(uuid.uuid4())
    _definitions(self)[definition_id] = {
        "queryDefinitionId": definition_id,
        "name": self._get_param("name"),
        "queryString": self._get_param("queryString"),
        "logGroupNames": self._get_param("logGroupNames") or [],
        "lastModified": int(datetime.now(UTC).timestamp() * 1000),
    }
    return json.dumps({"queryDefinitionId": definition_id})


def describe_query_definitions(self: LogsResponse) -> str:
    prefix = self._get_param("queryDefinitionNamePrefix") or ""
    found = [d for d in _definitions(self).values() if str(d["name"]).startswith(prefix)]
    return json.dumps({"queryDefinitions": found})


def delete_query_definition(self: LogsResponse) -> str:
    removed = _definitions(self).pop(self._get_param("queryDefinitionId"), None)
    return json.dumps({"success": removed is not None})


def serve_query_definitions() -> None:
    """Teach moto's Logs the three calls, unless it knows them already."""
    for handler in (put_query_definition, describe_query_definitions, delete_query_definition):
        if not hasattr(LogsResponse, handler.__name__):
            setattr(LogsResponse, handler.__name__, handler)

"""The OpenAPI document of the REST API, generated from the endpoint specs."""

from __future__ import annotations

from typing import Any

import msgspec

from strom.jobmanager.rest.messages import STROM_VERSION, ErrorResponse
from strom.jobmanager.rest.specs import ALL_SPECS, EndpointSpec

__all__ = ["PATH_PARAMETER_SCHEMAS", "openapi_document"]

_ERROR_STATUSES = {"400": "Bad request: the message says what was wrong",
                   "404": "Unknown job or path", "500": "Internal error, with its cause"}


_EXTRA_ERRORS = {409: "The request conflicts with the cluster's state"}

_HEX_ID = {"type": "string", "pattern": "^[0-9a-f]{32}$"}
#: every path parameter's form: ids are 32 lowercase hex characters, indexes are numbers
PATH_PARAMETER_SCHEMAS: dict[str, dict[str, Any]] = {
    "jobid": _HEX_ID, "vertexid": _HEX_ID, "triggerid": _HEX_ID, "taskmanagerid": _HEX_ID,
    "checkpointid": {"type": "integer", "minimum": 0},
    "subtaskindex": {"type": "integer", "minimum": 0},
    "attempt": {"type": "integer", "minimum": 0},
    "operatorid": {"type": "string", "minLength": 1},
    "filename": {"type": "string", "minLength": 1},
}


def _openapi_path(path: str) -> str:
    return "/".join(f"{{{p[1:]}}}" if p.startswith(":") else p for p in path.split("/"))


def openapi_document(specs: tuple[EndpointSpec[Any], ...] = ALL_SPECS) -> dict[str, Any]:
    types: list[Any] = [ErrorResponse]
    for spec in specs:
        types.append(spec.response)
        if spec.request is not None:
            types.append(spec.request)
    schemas, components = msgspec.json.schema_components(
        types, ref_template="#/components/schemas/{name}")
    by_type = dict(zip(types, schemas))
    paths: dict[str, dict[str, Any]] = {}
    for spec in specs:
        parameters: list[dict[str, Any]] = [
            {"name": name, "in": "path", "required": True,
             "schema": PATH_PARAMETER_SCHEMAS.get(name, {"type": "string"})}
            for name in spec.path_parameters
        ]
        for q in spec.query:
            schema: dict[str, Any] = {"type": q.kind}
            if q.choices:
                schema["enum"] = list(q.choices)
            if q.pattern:
                schema["pattern"] = q.pattern
            parameters.append({"name": q.name, "in": "query", "required": q.required,
                               "description": q.description, "schema": schema})
        if spec.content_type == "text/plain":
            success = {"text/plain": {"schema": {"type": "string"}}}
        else:
            success = {"application/json": {"schema": by_type[spec.response]}}
        errors = {**_ERROR_STATUSES,
                  **{str(status): _EXTRA_ERRORS[status] for status in spec.errors}}
        operation: dict[str, Any] = {
            "operationId": spec.operation_id,
            "description": spec.description,
            "parameters": parameters,
            "responses": {
                str(spec.status): {"description": "The request was successful.",
                                   "content": success},
                **{status: {"description": text,
                            "content": {"application/json":
                                        {"schema": by_type[ErrorResponse]}}}
                   for status, text in errors.items()},
            },
        }
        if spec.request is not None:
            content_type = "multipart/form-data" if spec.multipart else "application/json"
            request_schema = by_type[spec.request]
            if spec.multipart:
                request_schema = {"type": "object",
                                  "properties": {"request": request_schema}}
            operation["requestBody"] = {"required": True,
                                        "content": {content_type: {"schema": request_schema}}}
        paths.setdefault(_openapi_path(spec.path), {})[spec.method.lower()] = operation
    return {
        "openapi": "3.0.1",
        "info": {"title": "strom REST API",
                 "description": "Flink-compatible REST API of the strom JobManager. Every "
                                "path is also served under /v1.",
                 "version": "v1/" + STROM_VERSION},
        "paths": paths,
        "components": {"schemas": components},
    }

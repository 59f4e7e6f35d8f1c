"""openapi.json: valid OpenAPI 3.0.3, exactly the routes of shared/routes.py, not drifted."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra import openapi
from shared.routes import FUNCTIONS, ROUTES


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return openapi.build()


def test_document_is_valid_openapi(document: dict[str, Any]) -> None:
    openapi.validate_document(document)
    assert document["openapi"] == "3.0.3"
    assert document["info"]["title"] == "Voucher service"
    assert document["info"]["version"] == openapi.project_version()


def test_paths_and_methods_equal_the_route_table(document: dict[str, Any]) -> None:
    documented = {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in openapi.HTTP_METHODS
    }
    assert documented == {(route.method, route.path) for route in ROUTES}


def test_every_operation_is_tagged_with_its_dialect(document: dict[str, Any]) -> None:
    tags = {tag["name"] for tag in document["tags"]}
    assert tags == {spec.dialect for spec in FUNCTIONS.values()}
    for route in ROUTES:
        operation = document["paths"][route.path][route.method.lower()]
        assert operation["tags"] == [FUNCTIONS[route.function].dialect]


def test_committed_openapi_json_has_not_drifted() -> None:
    assert openapi.check() == [], "run: python -m infra.openapi --write"
    committed = json.loads(openapi.DOCUMENT.read_text(encoding="utf-8"))
    openapi.validate_document(committed)


def test_check_detects_drift(tmp_path: Any) -> None:
    stale = tmp_path / "openapi.json"
    stale.write_text(openapi.DOCUMENT.read_text(encoding="utf-8").replace("3.0.3", "3.0.2", 1))
    assert openapi.check(stale)
    assert openapi.check(tmp_path / "missing.json")


def test_a_part_with_a_route_not_in_the_table_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    real = openapi.load_part

    def extra(function_name: str) -> Any:
        part = real(function_name)
        if function_name == "consume_voucher" and part is not None:
            paths, schemas = part
            paths["/api/v4/not-routed"] = {"get": {"responses": {"200": {"description": "x"}}}}
            return paths, schemas
        return part

    monkeypatch.setattr(openapi, "load_part", extra)
    with pytest.raises(openapi.OpenApiError, match="not-routed"):
        openapi.build()


def test_a_function_without_its_part_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    real = openapi.load_part
    monkeypatch.setattr(openapi, "load_part", lambda name: None if name == "consume_voucher" else real(name))
    with pytest.raises(openapi.OpenApiError, match="consume_voucher"):
        openapi.build()


def _resolve(node: Any, schemas: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        if "$ref" in node:
            return _resolve(schemas[node["$ref"].rsplit("/", 1)[1]], schemas)
        return {key: _resolve(value, schemas) for key, value in node.items()}
    if isinstance(node, list):
        return [_resolve(value, schemas) for value in node]
    return node


def test_every_example_matches_its_schema(document: dict[str, Any]) -> None:
    from openapi_schema_validator import OAS30Validator

    schemas = document["components"]["schemas"]
    checked = 0
    for item in document["paths"].values():
        for method, operation in item.items():
            if method not in openapi.HTTP_METHODS:
                continue
            bodies = [operation.get("requestBody", {}), *operation.get("responses", {}).values()]
            for body in bodies:
                for media in body.get("content", {}).values():
                    if "schema" not in media:
                        continue
                    validator = OAS30Validator(_resolve(media["schema"], schemas))
                    examples = [media["example"]] if "example" in media else []
                    examples += [e["value"] for e in media.get("examples", {}).values() if "value" in e]
                    for example in examples:
                        validator.validate(example)
                        checked += 1
    assert checked > 0


def test_consume_part_documents_every_thalamus_status() -> None:
    from infra.openapi_parts.consume_voucher import PATHS

    (item,) = PATHS.values()
    assert set(item["put"]["responses"]) == {"200", "400", "401", "404", "409", "500", "503"}
    names = {(p["in"], p["name"]) for p in item["put"]["parameters"]}
    assert {("path", n) for n in ROUTES[0].path_parameters} <= names
    assert {("query", "token"), ("query", "touchpoint")} <= names
    assert {("header", "Thalamus-Token"), ("header", "Thalamus-Touchpoint")} <= names

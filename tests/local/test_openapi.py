"""openapi.json: valid OpenAPI 3.0.3, exactly the routes of infra/functions.py, not drifted, its
bodies generated from pydantic models whose limits are the dialect modules' own."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from infra import openapi
from infra.functions import FUNCTIONS, ROUTES


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
    assert set(item["put"]["responses"]) == {"200", "400", "401", "404", "409", "422", "500", "503"}
    names = {(p["in"], p["name"]) for p in item["put"]["parameters"]}
    assert ("header", "Idempotency-Key") in names
    assert {("path", n) for n in ROUTES[0].path_parameters} <= names
    assert {("query", "token"), ("query", "touchpoint")} <= names
    assert {("header", "Thalamus-Token"), ("header", "Thalamus-Touchpoint")} <= names


# --------------------------------------------------------------------------- models


def _part_models() -> dict[str, Any]:
    """Every pydantic model the parts declare (and those they reference), by schema name."""
    import importlib

    from pydantic import BaseModel

    found: dict[str, Any] = {}
    for path in (openapi.ROOT / "infra" / "openapi_parts").glob("*.py"):
        module = importlib.import_module(f"{openapi.PARTS_PACKAGE}.{path.stem}")
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, BaseModel) and value is not BaseModel:
                found[value.__name__] = value
    return found


def test_parts_hand_write_no_body_schema() -> None:
    """Bodies are models; only parameters may stay small dicts (built from constants)."""
    for path in (openapi.ROOT / "infra" / "openapi_parts").glob("[!_]*.py"):
        text = path.read_text(encoding="utf-8")
        assert '"type": "object"' not in text, path.name
        assert "#/components/schemas/" not in text, f"{path.name}: use infra.openapi_models.ref"


def test_every_schema_of_a_part_comes_from_a_model() -> None:
    models = _part_models()
    for function_name in FUNCTIONS:
        part = openapi.load_part(function_name)
        assert part is not None
        assert set(part[1]) <= set(models), function_name


def test_a_part_with_hand_written_schemas_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    legacy = types.ModuleType("legacy_part")
    legacy.PATHS = {}  # type: ignore[attr-defined]
    legacy.SCHEMAS = {"X": {"type": "object"}}  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, f"{openapi.PARTS_PACKAGE}.consume_voucher", legacy)
    with pytest.raises(openapi.OpenApiError, match="list of pydantic models"):
        openapi.load_part("consume_voucher")


def test_every_example_is_valid_for_its_model_too(document: dict[str, Any]) -> None:
    """The converted OpenAPI schema and the pydantic model accept the same examples."""
    models = _part_models()
    checked = 0
    for item in document["paths"].values():
        for method, operation in item.items():
            if method not in openapi.HTTP_METHODS:
                continue
            for body in [operation.get("requestBody", {}), *operation["responses"].values()]:
                for media in body.get("content", {}).values():
                    model = models.get(media["schema"].get("$ref", "").rsplit("/", 1)[-1])
                    if model is None:
                        continue  # an inline schema (a parameter-like body)
                    examples = [media["example"]] if "example" in media else []
                    examples += [e["value"] for e in media.get("examples", {}).values()]
                    for example in examples:
                        model.model_validate(example)
                        checked += 1
    assert checked > 30


def test_limits_are_the_dialect_modules_own(document: dict[str, Any]) -> None:
    import re

    from shared.dialects import es_loyalty, spaaza, thalamus

    schemas = document["components"]["schemas"]
    body = schemas["ThalamusConsumeParameters"]
    assert set(body["properties"]) == set(thalamus.PARAMETER_FIELDS)
    assert {p["maxLength"] for p in body["properties"].values()} == {thalamus.MAX_PARAMETER_LENGTH}
    consume = document["paths"][ROUTES[0].path]["put"]
    lengths = {p["name"]: p["schema"].get("maxLength") for p in consume["parameters"]}
    assert lengths["voucher_code"] == lengths["touchpoint"] == thalamus.MAX_CODE_LENGTH
    assert lengths["token"] == thalamus.MAX_TOKEN_LENGTH
    assert "Thalamus-Token" not in lengths  # a security scheme (below), not a parameter
    statuses = schemas["ThalamusConsumedVoucher"]["properties"]["status"]["enum"]
    assert set(statuses) == set(thalamus.STATUS.values())

    assert schemas["EsActivationError"]["properties"]["errorCode"]["enum"] == list(es_loyalty.ERRORS)
    error = schemas["SpaazaError"]["properties"]
    assert error["name"]["enum"] == list(spaaza.ERRORS)
    assert set(error["code"]["enum"]) == {code for code, _ in spaaza.ERRORS.values()}
    form = schemas["SpaazaUnclaimVoucherForm"]["properties"]
    assert set(form) == spaaza.PARAMETERS
    assert form["voucher_id"]["maximum"] == spaaza.MAX_INT
    assert form["member_number"]["maxLength"] == spaaza.MAX_TEXT

    # The documented patterns accept exactly what the runtime regexes accept.
    activate = document["paths"][ROUTES[1].path]["post"]
    documented = {
        p["name"]: p["schema"]["pattern"] for p in activate["parameters"] if "pattern" in p["schema"]
    }
    samples = {
        "voucher_id": (es_loyalty.VOUCHER_ID, ["carwash::00000000-0000-4000-8000-00000000000A", "a::b", ""]),
        "correlation_id": (es_loyalty.CORRELATION_ID, ["sess-1", "x" * 129, "a b", ""]),
    }
    for name, (runtime, values) in samples.items():
        for value in values:
            assert bool(re.search(documented[name], value)) == bool(runtime.fullmatch(value)), (name, value)
    assert re.search(form["voucher_key"]["pattern"], "A" * 64) and not re.search(
        form["voucher_key"]["pattern"], "g" * 64
    )


def test_credentials_are_security_schemes_never_header_parameters(document: dict[str, Any]) -> None:
    """OpenAPI 3.0 ignores a header parameter named Authorization, so Swagger UI would never
    send it: every operation names its schemes, and no parameter repeats a scheme's header."""
    schemes = document["components"]["securitySchemes"]
    headers = {"authorization"} | {s["name"].lower() for s in schemes.values() if s["type"] == "apiKey"}
    expected = {
        "thalamus": {"thalamusToken"},
        "spaaza": {"spaazaSessionUserId", "spaazaSessionKey", "spaazaPrivileged"},
    }
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method not in openapi.HTTP_METHODS:
                continue
            named = {name for requirement in operation["security"] for name in requirement}
            assert named and named <= set(schemes), (method, path)
            dialect = operation["tags"][0]
            if dialect in expected:
                assert named == expected[dialect], (method, path)
            else:
                assert named == ({"esConsole"} if path.startswith("/console/") else {"esMember"}), path
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "header":
                    assert parameter["name"].lower() not in headers, (method, path, parameter["name"])


def test_every_form_field_has_an_example_for_swagger_ui(document: dict[str, Any]) -> None:
    """Swagger UI fills form fields from each field's example; without one it invents values
    (user_id=9223372036854776000). Blank examples stand for fields the call does not send."""
    form = set(document["components"]["schemas"]["SpaazaUnclaimVoucherForm"]["properties"])
    for path in ("/claim-voucher", "/unclaim-voucher"):
        for method in ("post", "put"):
            content = document["paths"][path][method]["requestBody"]["content"]
            for media in content.values():
                fields = media["schema"]["properties"]
                assert set(fields) == form, (path, method)
                sent = {name: f["example"] for name, f in fields.items() if f["example"] != ""}
                assert sent == media["example"], (path, method)


def test_documented_error_statuses_are_the_dialect_tables(document: dict[str, Any]) -> None:
    from shared.dialects import es_issuances, es_loyalty, spaaza

    es_errors = {**es_loyalty.ERRORS, **es_issuances.ERRORS}
    assert all(es_loyalty.ERRORS[c] == s for c, s in es_issuances.ERRORS.items() if c in es_loyalty.ERRORS)
    for route in ROUTES:
        operation = document["paths"][route.path][route.method.lower()]
        for status, response in operation["responses"].items():
            for media in response.get("content", {}).values():
                for example in media.get("examples", {}).values():
                    value = example["value"]
                    if "errorCode" in value:
                        assert es_errors[value["errorCode"]] == int(status), value
                    if "error" in value:
                        assert spaaza.ERRORS[value["error"]["name"]] == (value["error"]["code"], int(status))


def test_every_es_error_raised_is_in_the_table() -> None:
    """es_loyalty.ERRORS is what the document enumerates: every code the dialect answers is in
    it and each of its codes is answered; the status is always the table's (es_error is the one
    place an EsError is made)."""
    import ast

    from shared.dialects import es_loyalty

    fixed = (es_loyalty.BAD_CORRELATION_ID, es_loyalty.BAD_VOUCHER_ID, es_loyalty.NO_TOKEN)
    answers = [*es_loyalty.ANSWERS.values(), *fixed, es_loyalty.UNAVAILABLE, es_loyalty.INTERNAL]
    assert {code for code, _ in answers} == set(es_loyalty.ERRORS)
    tree = ast.parse(Path(es_loyalty.__file__).read_text(encoding="utf-8"))
    made = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "EsError"]
    assert len(made) == 1


def test_every_es_read_error_raised_is_in_the_table() -> None:
    """The same for the ES read endpoints: `_bad(code, ...)` is a 400, `EsError(status, code)`
    as written, and the answers it does not take from es_loyalty (checked above)."""
    import ast

    from shared.dialects import es_issuances, es_loyalty

    tree = ast.parse(Path(es_issuances.__file__).read_text(encoding="utf-8"))
    raised: set[tuple[str, int]] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.args:
            first = node.args[0]
            if node.func.id == "_bad" and isinstance(first, ast.Constant) and isinstance(first.value, str):
                raised.add((first.value, 400))
            if node.func.id == "EsError" and isinstance(first, ast.Constant) and len(node.args) > 1:
                code = node.args[1]
                if isinstance(code, ast.Constant):
                    assert isinstance(first.value, int), ast.unparse(node)  # EsError(status, code, ...)
                    raised.add((str(code.value), first.value))
    assert raised <= set(es_issuances.ERRORS.items()), raised - set(es_issuances.ERRORS.items())
    own = {reply[0] for cls, reply in es_issuances.ANSWERS.items() if es_loyalty.ANSWERS.get(cls) != reply}
    assert own and own <= set(es_issuances.ERRORS)
    for passed in ("INVALID_LIMIT", "INVALID_FROM", "INVALID_TO", "INVALID_UNTIL"):  # passed as arguments
        assert es_issuances.ERRORS[passed] == 400


def test_openapi_3_0_conversion_of_pydantic_schemas() -> None:
    from infra.openapi_models import to_oas30

    assert to_oas30({"anyOf": [{"type": "string", "maxLength": 3}, {"type": "null"}], "title": "X"}) == {
        "type": "string",
        "maxLength": 3,
        "nullable": True,
    }
    assert to_oas30({"anyOf": [{"$ref": "#/a"}, {"type": "null"}], "default": None}) == {
        "allOf": [{"$ref": "#/a"}],
        "nullable": True,
    }
    assert to_oas30({"const": True, "type": "boolean", "examples": [True]}) == {
        "enum": [True],
        "type": "boolean",
        "example": True,
    }
    assert to_oas30({"$ref": "#/a", "description": "d"}) == {"allOf": [{"$ref": "#/a"}], "description": "d"}
    # A property called "title" is a property, not the keyword.
    assert to_oas30({"properties": {"title": {"type": "string", "title": "Title"}}}) == {
        "properties": {"title": {"type": "string"}}
    }


def test_every_state_changing_operation_takes_an_idempotency_key() -> None:
    import json

    from tests.conftest import ROOT

    document = json.loads((ROOT / "openapi.json").read_text(encoding="utf-8"))
    changing = {
        (path, method)
        for path, item in document["paths"].items()
        for method in item
        if method in {"put", "post"}
    }
    assert len(changing) == 6  # consume, activate, unclaim and claim in both methods
    for path, method in changing:
        operation = document["paths"][path][method]
        headers = {p["name"] for p in operation["parameters"] if p["in"] == "header"}
        assert "Idempotency-Key" in headers, path
        assert "Idempotent-Replayed" in operation["responses"]["200"]["headers"], path
        assert "422" in operation["responses"], path


def test_every_thalamus_code_raised_is_in_the_table() -> None:
    """thalamus.ERRORS gives each code its status: every code the dialect writes is in it."""
    import ast

    from shared.dialects import thalamus

    tree = ast.parse(Path(thalamus.__file__).read_text(encoding="utf-8"))
    written = {
        value.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Dict)
        for value in node.values
        if isinstance(value, ast.Constant)
        and isinstance(value.value, str)
        and value.value[:1].isupper()
        and not value.value.isupper()  # CamelCase, not a STATUS
    }
    written |= {"InvalidFormat", "Required", "NotFound", "UnknownField"}  # assigned to errors[...]
    assert written == set(thalamus.ERRORS)

"""Build openapi.json from the route table and the per-function parts.

    python -m infra.openapi            print the document
    python -m infra.openapi --write    write openapi.json (sorted keys, indent 2)
    python -m infra.openapi --check    exit 1 when the committed openapi.json has drifted

Paths and methods come from infra/functions.py (ROUTES) and must match it exactly; each
function's operations, schemas and examples come from infra/openapi_parts/<function>.py
(`PATHS`, `SCHEMAS`), whose bodies are pydantic models built from the dialect modules' own
limits and whose error examples are the dialects' own answers (infra/openapi_models.py).
A function without a part, or a part that does not match the route table, is an error: the
document always describes every deployed route.
"""

from __future__ import annotations

import argparse
import copy
import importlib
import json
import sys
import tomllib
from pathlib import Path
from typing import Any

from infra.functions import FUNCTIONS, ROUTES

ROOT = Path(__file__).resolve().parent.parent
DOCUMENT = ROOT / "openapi.json"
PARTS_PACKAGE = "infra.openapi_parts"
HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})
PATH_ITEM_KEYS = frozenset({"summary", "description", "parameters", "servers"})
ROUTES_BY_KEY = {(route.method, route.path): route for route in ROUTES}

DIALECT_TAGS = {
    "thalamus": (
        "Thalamus REST API v4, for operators: view a voucher and set it as consumed. Authorize with "
        "an operator's Thalamus-Token; send the touchpoint the session was opened at."
    ),
    "es_loyalty": (
        "ES Loyalty, for members and customer service: list a member's issuances, activate a "
        "Product Authorization Code voucher through the external provider, and the CSR console's "
        "view of a member's issuances with their history. Authorize with a member's or a CSR's "
        "bearer token."
    ),
    "spaaza": (
        "Spaaza, for apps, admins and privileged clients: list a user's vouchers, claim a voucher "
        "and unclaim it. Authorize with a session (user id + session key) or a privileged bearer "
        "token; form fields are urlencoded or multipart."
    ),
}

# Who may call what: OpenAPI 3.0 ignores a header *parameter* named Authorization, so the
# credentials are security schemes (Swagger UI's Authorize button), never parameters. The
# demo values are the local stack's demo data (infra/local_stack/demo.json), not secrets.
SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "thalamusToken": {
        "type": "apiKey",
        "in": "header",
        "name": "Thalamus-Token",
        "description": (
            "Session token of a Thalamus operator (the `token` query parameter is accepted too; "
            "the header wins). Local demo: `demo-thalamus-operator-anna`."
        ),
    },
    "esMember": {
        "type": "http",
        "scheme": "bearer",
        "description": (
            "Access token of an ES Loyalty member session: the only source of the member's account. "
            "Local demo: `demo-es-member-alice`."
        ),
    },
    "esConsole": {
        "type": "http",
        "scheme": "bearer",
        "description": (
            "Access token of a customer-service (CSR) console session; member sessions get 403. "
            "Local demo: `demo-es-console-csr`."
        ),
    },
    "spaazaSessionUserId": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Spaaza-Session-User-Id",
        "description": (
            "User id of a Spaaza session, with X-Spaaza-Session-Key (legacy header: session-user-id). "
            "Local demo: `1001` (end user alice) or `900` (admin of chain 1)."
        ),
    },
    "spaazaSessionKey": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Spaaza-Session-Key",
        "description": (
            "Session key of that session (legacy header: session-key). Local demo: "
            "`demo-spaaza-user-alice` (user 1001) or `demo-spaaza-admin-chain1` (user 900)."
        ),
    },
    "spaazaPrivileged": {
        "type": "http",
        "scheme": "bearer",
        "description": (
            "Token of a privileged client; when present it selects privileged auth whatever session "
            "headers are sent. Local demo: `demo-spaaza-privileged-partner` (chain 1)."
        ),
    },
}
Requirement = dict[str, list[str]]
_THALAMUS: list[Requirement] = [{"thalamusToken": []}]
_SPAAZA: list[Requirement] = [{"spaazaSessionUserId": [], "spaazaSessionKey": []}, {"spaazaPrivileged": []}]
SECURITY: dict[str, list[Requirement]] = {
    "consume_voucher": _THALAMUS,
    "view_voucher": _THALAMUS,
    "activate_voucher": [{"esMember": []}],
    "list_issuances": [{"esMember": []}],
    "console_issuances": [{"esConsole": []}],
    "console_issuance": [{"esConsole": []}],
    "claim_voucher": _SPAAZA,
    "unclaim_voucher": _SPAAZA,
    "get_user_vouchers": _SPAAZA,
}


def credential_headers(security: list[Requirement]) -> set[str]:
    """Header names (lower case) the schemes of `security` send: no parameter may repeat them."""
    names = set()
    for requirement in security:
        for scheme_name in requirement:
            scheme = SECURITY_SCHEMES[scheme_name]
            names.add("authorization" if scheme["type"] == "http" else scheme["name"].lower())
    return names


SERVERS = [
    {
        "url": "https://{restApiId}.execute-api.{region}.amazonaws.com/{stage}",
        "description": "Deployed API Gateway stage (see the ApiUrl output of the API stack)",
        "variables": {
            "restApiId": {"default": "example", "description": "REST API id"},
            "region": {"default": "eu-west-1"},
            "stage": {"default": "dev"},
        },
    },
    {"url": "http://127.0.0.1:3000", "description": "Local stack (python -m infra.local_stack)"},
]


class OpenApiError(Exception):
    """The parts and the route table disagree, or the document is invalid."""


def project_version() -> str:
    with (ROOT / "pyproject.toml").open("rb") as handle:
        return str(tomllib.load(handle)["project"]["version"])


def load_part(function_name: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(PATHS, SCHEMAS) of the function's part, or None when the module does not exist.

    SCHEMAS (a list of pydantic models, none when absent) comes back as name -> schema dict,
    the models they reference included (infra.openapi_models.schemas_of)."""
    module_name = f"{PARTS_PACKAGE}.{function_name}"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name == module_name:
            return None
        raise
    paths = getattr(module, "PATHS", None)
    models = getattr(module, "SCHEMAS", [])
    if not isinstance(paths, dict):
        raise OpenApiError(f"{module_name} must expose a PATHS dict")
    from pydantic import BaseModel

    from infra.openapi_models import schemas_of

    if not isinstance(models, list) or not all(
        isinstance(m, type) and issubclass(m, BaseModel) for m in models
    ):
        raise OpenApiError(f"{module_name}.SCHEMAS must be a list of pydantic models")
    try:
        schemas = schemas_of(models)
    except ValueError as error:
        raise OpenApiError(f"{module_name}.SCHEMAS: {error}") from error
    return copy.deepcopy(paths), copy.deepcopy(schemas)


def _operation_id(function_name: str, method: str, several: bool) -> str:
    camel = "".join(word.capitalize() for word in function_name.split("_"))
    camel = camel[0].lower() + camel[1:]
    return f"{camel}{method.capitalize()}" if several else camel


def build() -> dict[str, Any]:
    """The OpenAPI 3.0.3 document. Raises OpenApiError when a part does not match ROUTES."""
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {}
    schema_owner: dict[str, str] = {}
    problems: list[str] = []
    for function_name in sorted(FUNCTIONS):
        spec = FUNCTIONS[function_name]
        expected = {(r.method, r.path) for r in ROUTES if r.function == function_name}
        several = len(expected) > 1
        part = load_part(function_name)
        if part is None:
            problems.append(f"{function_name}: infra/openapi_parts/{function_name}.py is missing")
            continue
        part_paths, part_schemas = part
        found: set[tuple[str, str]] = set()
        for path, item in part_paths.items():
            if not isinstance(item, dict):
                problems.append(f"{function_name}: paths[{path!r}] is not an object")
                continue
            for key, operation in item.items():
                if key in PATH_ITEM_KEYS:
                    paths.setdefault(path, {})[key] = operation
                    continue
                if key not in HTTP_METHODS:
                    problems.append(f"{function_name}: unexpected key {key!r} under {path}")
                    continue
                found.add((key.upper(), path))
                if (key.upper(), path) not in expected:
                    problems.append(f"{function_name}: {key.upper()} {path} is not a route of it in ROUTES")
                    continue
                if key in paths.get(path, {}):
                    problems.append(f"{function_name}: {key.upper()} {path} defined twice")
                    continue
                operation.setdefault("tags", [str(spec.dialect)])
                operation.setdefault("operationId", _operation_id(function_name, key, several))
                if function_name not in SECURITY:
                    problems.append(f"{function_name}: no entry in infra/openapi.py SECURITY")
                else:
                    operation["security"] = copy.deepcopy(SECURITY[function_name])
                    credentials = credential_headers(SECURITY[function_name])
                    operation["parameters"] = [
                        parameter
                        for parameter in operation.get("parameters", [])
                        if parameter.get("in") != "header" or parameter["name"].lower() not in credentials
                    ]
                paths.setdefault(path, {})[key] = operation
        for method, path in sorted(expected - found):
            problems.append(f"{function_name}: part has no operation for route {method} {path}")
        for name, schema in part_schemas.items():
            if name in schemas and schemas[name] == schema:
                continue  # a model another part also references (e.g. a shared envelope)
            if name in schemas:
                problems.append(f"{function_name}: schema {name} already defined by {schema_owner[name]}")
                continue
            schemas[name] = schema
            schema_owner[name] = function_name
    documented = {(m.upper(), p) for p, item in paths.items() for m in item if m in HTTP_METHODS}
    routed = set(ROUTES_BY_KEY)
    for method, path in sorted(routed - documented):
        problems.append(f"route {method} {path} is not documented")
    for method, path in sorted(documented - routed):
        problems.append(f"{method} {path} is documented but not in ROUTES")
    operation_ids = [
        op.get("operationId") for item in paths.values() for m, op in item.items() if m in HTTP_METHODS
    ]
    duplicates = sorted({i for i in operation_ids if operation_ids.count(i) > 1})
    if duplicates:
        problems.append(f"duplicate operationId: {', '.join(map(str, duplicates))}")
    if problems:
        raise OpenApiError("OpenAPI parts do not match infra/functions.py:\n  " + "\n  ".join(problems))
    dialects = sorted({str(spec.dialect) for spec in FUNCTIONS.values()})
    document: dict[str, Any] = {
        "openapi": "3.0.3",
        "info": {
            "title": "Voucher service",
            "version": project_version(),
            "description": (
                "Eleven voucher operations over one voucher store, each in its vendor's own wire "
                "dialect: Thalamus for operators, ES Loyalty for members and customer service, "
                "Spaaza for apps. Press **Authorize** and enter the credentials of the dialect you "
                "call (on the local stack started with its demo data they are filled in already), "
                "then *Try it out* and *Execute*: the examples name demo vouchers, and each "
                "operation's description says what it changes. Errors come back in the dialect's "
                "own envelope with the statuses listed under each operation."
            ),
        },
        "servers": copy.deepcopy(SERVERS),
        "tags": [{"name": d, "description": DIALECT_TAGS.get(d, d)} for d in dialects],
        "paths": {path: paths[path] for path in sorted(paths)},
        "components": {"schemas": schemas, "securitySchemes": copy.deepcopy(SECURITY_SCHEMES)},
    }
    return document


def validate_document(document: dict[str, Any]) -> None:
    from openapi_spec_validator import validate

    try:
        validate(document)
    except Exception as error:  # the validator's own exception hierarchy
        raise OpenApiError(f"openapi.json is not a valid OpenAPI 3.0 document: {error}") from error


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def check(path: Path = DOCUMENT) -> list[str]:
    """Problems that make the committed document stale or invalid (empty list: up to date)."""
    document = build()
    validate_document(document)
    expected = render(document)
    if not path.exists():
        return [f"{path.name} does not exist: run python -m infra.openapi --write"]
    if path.read_text(encoding="utf-8") != expected:
        return [f"{path.name} is out of date: run python -m infra.openapi --write (or make openapi)"]
    return []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.openapi", description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help=f"write {DOCUMENT.name}")
    mode.add_argument("--check", action="store_true", help=f"exit 1 when {DOCUMENT.name} has drifted")
    args = parser.parse_args(argv)
    try:
        if args.check:
            problems = check()
            for problem in problems:
                print(problem, file=sys.stderr)
            if not problems:
                print(f"{DOCUMENT.name} is up to date")
            return 1 if problems else 0
        document = build()
        validate_document(document)
    except OpenApiError as error:
        print(error, file=sys.stderr)
        return 1
    text = render(document)
    if args.write:
        DOCUMENT.write_text(text, encoding="utf-8")
        print(f"wrote {DOCUMENT.relative_to(ROOT)} ({len(document['paths'])} paths)")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

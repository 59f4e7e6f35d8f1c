"""Pydantic helpers for the OpenAPI parts: build time only, never imported by a Lambda.

The parts in infra/openapi_parts/ describe request, response and error bodies as pydantic
models whose limits (lengths, patterns, ranges, enums) are the dialect modules' own constants,
so openapi.json cannot drift from what the runtime parsers enforce. `schemas_of` turns models
into `components/schemas` entries for OpenAPI 3.0.3: pydantic writes JSON Schema 2020-12,
which is converted here (`anyOf [X, null]` -> `nullable`, `const` -> `enum`, `examples` ->
`example`, no generated titles, no `default: null`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, GetCoreSchemaHandler
from pydantic_core import core_schema

from shared.endpoint import WireError

EVENTS = Path(__file__).resolve().parent.parent / "events"
COMPONENTS = "#/components/schemas/"
REF_TEMPLATE = COMPONENTS + "{model}"

# JSON Schema keywords whose value is one subschema / a list of them / a name -> subschema map.
_SUBSCHEMA = ("items", "not", "additionalProperties")
_SUBSCHEMA_LISTS = ("anyOf", "oneOf", "allOf")
_SUBSCHEMA_MAPS = ("properties", "$defs")


@dataclass(frozen=True)
class OneOf:
    """`Annotated[str, OneOf(table)]`: exactly the values of a dialect table (an enum).

    A `Literal` whose values come from a runtime table, written so type checkers accept it."""

    values: tuple[Any, ...]

    def __init__(self, values: Iterable[Any]) -> None:
        object.__setattr__(self, "values", tuple(dict.fromkeys(values)))

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> Any:
        return core_schema.literal_schema(list(self.values))


def omittable(**constraints: Any) -> Any:
    """A field that may be absent (not required) without being nullable: `Field(default=None)`;
    the `default: null` is dropped from the document."""
    return Field(default=None, **constraints)


def ref(model: type[BaseModel] | str) -> dict[str, str]:
    """`{"$ref": "#/components/schemas/<Model>"}`."""
    name = model if isinstance(model, str) else model.__name__
    return {"$ref": COMPONENTS + name}


def pattern(regex: re.Pattern[str]) -> str:
    """A runtime regex (used with fullmatch) as an anchored ECMA-262 pattern: the same text,
    minus the parentheses of capturing groups, which only the parser needs (named groups are
    Python syntax); a group that is quantified or holds an alternation keeps plain ones."""
    source = regex.pattern
    drop: set[int] = set()
    stack: list[tuple[int, bool]] = []  # (index of "(", the group has a top-level "|")
    escaped = in_class = False
    for index, char in enumerate(source):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "(":
            stack.append((index, False))
        elif char == "|":
            if not stack:
                raise ValueError(f"cannot anchor {source!r} for OpenAPI (top-level alternation)")
            stack[-1] = (stack[-1][0], True)
        elif char == ")":
            start, alternation = stack.pop()
            capturing = not source.startswith("(?", start) or source.startswith("(?P<", start)
            quantified = source[index + 1 : index + 2] in ("*", "+", "?", "{")
            if capturing and not alternation and not quantified:
                opening = source.index(">", start) + 1 if source.startswith("(?P<", start) else start + 1
                drop |= {*range(start, opening), index}
    text = "".join(char for index, char in enumerate(source) if index not in drop)
    text = re.sub(r"\(\?P<[A-Za-z_][A-Za-z0-9_]*>", "(", text)
    return f"^{text}$"


def to_oas30(schema: Any) -> Any:
    """One JSON Schema 2020-12 node from pydantic as an OpenAPI 3.0 Schema Object."""
    if not isinstance(schema, dict):
        return schema
    node: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _SUBSCHEMA:
            node[key] = to_oas30(value)
        elif key in _SUBSCHEMA_LISTS:
            node[key] = [to_oas30(item) for item in value]
        elif key in _SUBSCHEMA_MAPS:
            node[key] = {name: to_oas30(item) for name, item in value.items()}
        elif key == "title":
            continue  # pydantic's generated titles (the class or field name): noise in the document
        elif key == "default" and value is None:
            continue  # "may be absent": said by `required`, not by a default
        elif key == "const":
            node["enum"] = [value]
        elif key == "examples":
            node["example"] = value[0]
        else:
            node[key] = value
    branches = node.get("anyOf")
    if branches is not None and {"type": "null"} in branches:
        rest = [branch for branch in branches if branch != {"type": "null"}]
        del node["anyOf"]
        if len(rest) == 1 and "$ref" not in rest[0]:
            node = {**rest[0], **node}
        else:
            node["anyOf" if len(rest) > 1 else "allOf"] = rest
        node["nullable"] = True
    if "$ref" in node and len(node) > 1:  # OpenAPI 3.0 ignores a $ref's siblings
        node = {"allOf": [{"$ref": node.pop("$ref")}], **node}
    return node


def schemas_of(models: Iterable[type[BaseModel]]) -> dict[str, dict[str, Any]]:
    """`components/schemas` for the models and every model they reference, by class name."""
    schemas: dict[str, dict[str, Any]] = {}
    for model in models:
        generated = model.model_json_schema(ref_template=REF_TEMPLATE)
        definitions = generated.pop("$defs", {})
        for name, schema in [*definitions.items(), (model.__name__, generated)]:
            converted = to_oas30(schema)
            if schemas.setdefault(name, converted) != converted:
                raise ValueError(f"two different models are named {name}")
    return schemas


def error_responses(
    schema: type[BaseModel] | str,
    descriptions: Mapping[int, str],
    examples: Mapping[str, WireError],
    headers: Mapping[int, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """`responses` for a dialect's errors, one per HTTP status: each example is the answer the
    dialect itself gives (its `to_response()`, so the status, code and message come from the
    dialect's tables, never from a copy here). `descriptions` names exactly those statuses."""
    responses: dict[str, Any] = {}
    for name, error in examples.items():
        answer = error.to_response()
        status = answer["statusCode"]
        response = responses.setdefault(
            str(status),
            {
                "description": descriptions[status],
                "content": {"application/json": {"schema": ref(schema), "examples": {}}},
            },
        )
        response["content"]["application/json"]["examples"][name] = {"value": json.loads(answer["body"])}
        if headers and status in headers:
            response["headers"] = headers[status]
    if set(responses) != {str(status) for status in descriptions}:
        raise ValueError(f"described {sorted(descriptions)}, answered {sorted(responses)}")
    return responses


def answered(function: str, case: str) -> Any:
    """The body the handler answered to the stored request events/<function>/<case>, as its
    manifest records it (tests/local/test_events_over_http.py checks the handler still answers
    it): a success example is a real answer to a real request, never a hand-written body."""
    manifest = json.loads((EVENTS / function / "manifest.json").read_text(encoding="utf-8"))
    return manifest[case]["response"]


def idempotency_key_header() -> dict[str, Any]:
    """The optional Idempotency-Key request header of every state-changing operation (its
    rules: shared/endpoint.py idempotency_key, shared/usecases/idempotency.py)."""
    from shared.endpoint import MAX_KEY_LENGTH

    return {
        "name": "Idempotency-Key",
        "in": "header",
        "required": False,
        "description": (
            'Optional (IETF httpapi draft "The Idempotency-Key HTTP Header Field"; Stripe\'s bare form '
            "is accepted too): a repeat of this request by the same caller with the same key within "
            "24 h gets the first answer again, same status and body, with `Idempotent-Replayed: true`, "
            "and changes nothing; the same key with another request is 422; a refused first request "
            "keeps nothing (a repeat is judged again). Keys are scoped to the caller. Without a key "
            "the vendor's own semantics apply unchanged. 1 to "
            f'{MAX_KEY_LENGTH} visible ASCII characters, as a Structured Field string (`"..."`) or bare.'
        ),
        "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH},
    }


REPLAYED_HEADER: dict[str, Any] = {
    "Idempotent-Replayed": {
        "description": "`true`: the kept answer of an earlier request with the same Idempotency-Key",
        "schema": {"type": "string", "enum": ["true"]},
    }
}

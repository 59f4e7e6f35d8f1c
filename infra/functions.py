"""The one table of functions and (method, path, function) routes that the CDK stacks, IAM,
the local server and OpenAPI all read.

Keeping routes, handler entry points and each function's DynamoDB permissions here means
the deployed API, the local stack and the IAM policies cannot drift apart: tests assert the
synthesized template against this table. It is deployment knowledge, so it lives in infra/,
outside the Lambdas' code asset; a function's construct id and handler follow from its name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class FunctionSpec:
    """One Lambda function: its entry point and exactly the AWS actions it performs."""

    name: str  # python package under functions/, also the stable key used everywhere
    dialect: str | None  # the vendor wire dialect it speaks (None: not behind the API)
    description: str
    dynamodb_actions: tuple[str, ...]  # on the table itself
    index_actions: tuple[str, ...] = ()  # on its secondary indexes ("<table arn>/index/*")
    reads_provider_secret: bool = False
    timeout_seconds: int = 10
    # 256 MB: the smallest size at which a warm request's CPU stays under 100 ms (make bench,
    # "memory" row); a wait (DynamoDB, the provider) costs in proportion to memory
    memory_mb: int = 256

    @property
    def construct_id(self) -> str:
        """CDK construct id (and SAM CLI's function name prefix): consume_voucher -> ConsumeVoucher.
        Part of every logical id the function's resources have, so it must never change."""
        return "".join(part.title() for part in self.name.split("_"))

    @property
    def handler(self) -> str:
        """Lambda handler string, relative to the code asset root."""
        return f"functions.{self.name}.handler.lambda_handler"


@dataclass(frozen=True)
class Route:
    """An API Gateway REST route: method + resource path (with {param} templates)."""

    method: str
    path: str
    function: str  # FunctionSpec.name

    @property
    def path_parameters(self) -> tuple[str, ...]:
        return tuple(re.findall(r"{([^}/]+)}", self.path))

    def match(self, method: str, path: str) -> dict[str, str] | None:
        """Path parameters if this route serves (method, path), else None.

        Mirrors API Gateway: a {param} matches one non-empty path segment.
        """
        if method.upper() != self.method:
            return None
        return match_path(self.path, path)


def match_path(template: str, path: str) -> dict[str, str] | None:
    t_parts = template.strip("/").split("/")
    p_parts = path.strip("/").split("/")
    if len(t_parts) != len(p_parts):
        return None
    params: dict[str, str] = {}
    for t, p in zip(t_parts, p_parts, strict=True):
        if t.startswith("{") and t.endswith("}"):
            if not p:
                return None
            params[t[1:-1]] = p
        elif t != p:
            return None
    return params


FUNCTIONS: dict[str, FunctionSpec] = {
    spec.name: spec
    for spec in (
        FunctionSpec(
            name="consume_voucher",
            dialect="thalamus",
            description="Thalamus v4: operator sets a voucher as consumed",
            dynamodb_actions=(
                "dynamodb:BatchGetItem",
                "dynamodb:ConditionCheckItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
            ),
        ),
        FunctionSpec(
            name="activate_voucher",
            dialect="es_loyalty",
            description="ES Loyalty: PAC voucher activation through an external provider",
            dynamodb_actions=(
                "dynamodb:BatchGetItem",
                "dynamodb:ConditionCheckItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
            ),
            reads_provider_secret=True,
            timeout_seconds=29,
        ),
        FunctionSpec(
            name="unclaim_voucher",
            dialect="spaaza",
            description="Spaaza: unclaim a voucher",
            dynamodb_actions=(
                "dynamodb:BatchGetItem",
                "dynamodb:ConditionCheckItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
            ),
        ),
        FunctionSpec(
            name="view_voucher",
            dialect="thalamus",
            description="Thalamus v4: operator views a voucher (read only)",
            dynamodb_actions=("dynamodb:BatchGetItem",),
        ),
        FunctionSpec(
            name="list_issuances",
            dialect="es_loyalty",
            description="ES Loyalty: a member lists their issuances (read only)",
            dynamodb_actions=("dynamodb:BatchGetItem",),
            index_actions=("dynamodb:Query",),
        ),
        FunctionSpec(
            name="console_issuances",
            dialect="es_loyalty",
            description="ES Loyalty console: a CSR lists a member's issuances (read only)",
            dynamodb_actions=("dynamodb:BatchGetItem",),
            index_actions=("dynamodb:Query",),
        ),
        FunctionSpec(
            name="console_issuance",
            dialect="es_loyalty",
            description="ES Loyalty console: a CSR views one issuance and its history (read only)",
            dynamodb_actions=("dynamodb:BatchGetItem", "dynamodb:Query"),  # Query: the history
        ),
        FunctionSpec(
            name="claim_voucher",
            dialect="spaaza",
            description="Spaaza: claim a voucher",
            dynamodb_actions=(
                "dynamodb:BatchGetItem",
                "dynamodb:ConditionCheckItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
            ),
        ),
        FunctionSpec(
            name="get_user_vouchers",
            dialect="spaaza",
            description="Spaaza: a user's vouchers (read only)",
            dynamodb_actions=("dynamodb:BatchGetItem",),
            index_actions=("dynamodb:Query",),
        ),
    )
}

# Not behind API Gateway: the table's stream (and the webhook retry queue) invoke it, so it is
# kept out of FUNCTIONS (which is the API's), yet built by the same CDK code path.
DELIVERY = FunctionSpec(
    name="deliver_webhooks",
    dialect=None,
    description="Signed webhooks for every committed voucher transition (from the table's stream)",
    # BatchGetItem: a voucher whose image the stream batch lacked; Query: a chain's subscribers
    dynamodb_actions=("dynamodb:BatchGetItem", "dynamodb:Query"),
    timeout_seconds=60,
    memory_mb=128,  # its time is spent waiting on receivers (make bench)
)

# Not behind API Gateway either: an EventBridge schedule invokes it (infra/stacks/api_stack.py).
SETTLEMENT = FunctionSpec(
    name="settle_codes",
    dialect=None,
    description="Announce provider codes no voucher carries and void them at the provider (schedule)",
    # BatchGetItem: the vouchers, guards and markers the listed references name; Query: a
    # voucher's history (was the reference activated?); PutItem: the announcement and its
    # marker, one TransactWriteItems (a PutItem alone when there is no marker)
    dynamodb_actions=("dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:PutItem"),
    reads_provider_secret=True,
    timeout_seconds=120,
    memory_mb=128,  # its time is spent waiting on receivers (make bench)
)
SETTLE_EVERY_MINUTES = 5

ROUTES: tuple[Route, ...] = (
    Route(
        "PUT",
        "/api/v4/operator/activity/{activity_code}/item/{voucher_item_code}/voucher/{voucher_code}",
        "consume_voucher",
    ),
    Route("POST", "/client/users/{correlation_id}/voucher/{voucher_id}/activate", "activate_voucher"),
    Route("POST", "/unclaim-voucher", "unclaim_voucher"),
    Route("PUT", "/unclaim-voucher", "unclaim_voucher"),
    Route(
        "GET",
        "/api/v4/operator/activity/{activity_code}/item/{voucher_item_code}/voucher/{voucher_code}",
        "view_voucher",
    ),
    Route("GET", "/client/users/{correlation_id}/issuances", "list_issuances"),
    Route("GET", "/console/members/{member_id}/issuances", "console_issuances"),
    Route("GET", "/console/members/{member_id}/issuances/{voucher_id}", "console_issuance"),
    Route("POST", "/claim-voucher", "claim_voucher"),
    Route("PUT", "/claim-voucher", "claim_voucher"),
    Route("GET", "/get-user-vouchers", "get_user_vouchers"),
)


def resolve(method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    """The route serving (method, path) and its path parameters, or None."""
    for route in ROUTES:
        params = route.match(method, path)
        if params is not None:
            return route, params
    return None

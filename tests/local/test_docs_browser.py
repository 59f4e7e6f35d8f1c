"""/docs in a real browser, as a newcomer uses it: headless Chromium (Debian's, driven by
Playwright, every host but 127.0.0.1 unresolvable) opens the local stack's Swagger UI with the
demo data, and for every operation of /openapi.json presses "Try it out" and "Execute" with
nothing typed in: the examples and the demo credentials alone must get a documented success
answer, its body valid for the documented schema, shown readably on the page.

Without Chromium the test skips with one reason, except under CI=true as root, where .ci/run
installs Debian's chromium package: there a missing browser is a failure."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.functions import ROUTES
from infra.local_stack import swagger
from infra.local_stack.server import LocalStack

pytestmark = [pytest.mark.http, pytest.mark.browser]

HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}
DEMO = Path(__file__).resolve().parents[2] / "infra" / "local_stack" / "demo.json"


def chromium() -> str:
    found = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    if found is None:
        reason = "headless Chromium is not installed (Debian: apt-get install chromium)"
        if os.environ.get("CI", "").lower() == "true" and os.geteuid() == 0:
            pytest.fail(f"{reason}; under CI=true as root .ci/run installs it", pytrace=False)
        pytest.skip(reason)
    return found


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    local = LocalStack(port=0, demo=True, engine="moto", table_name="vouchers-docs-browser").start()
    try:
        yield local
    finally:
        local.stop()


@pytest.fixture(scope="module")
def page(stack: LocalStack) -> Iterator[Any]:
    executable = chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable,
            args=[
                "--no-sandbox",  # root in a container
                # no network: any other host (a CDN, validator.swagger.io) fails to resolve
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            ],
        )
        try:
            tab = browser.new_page(viewport={"width": 1400, "height": 1000})
            tab.set_default_timeout(20_000)
            tab.goto(f"{stack.url}/docs")
            tab.wait_for_selector(".opblock")
            yield tab
        finally:
            browser.close()


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    ]


def _luminance(rgb: tuple[float, ...]) -> float:
    def channel(value: float) -> float:
        value /= 255
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    red, green, blue = (channel(v) for v in rgb[:3])
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def _contrast(foreground: tuple[float, ...], background: tuple[float, ...]) -> float:
    lighter, darker = sorted((_luminance(foreground), _luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


# The text colour of a response body's innermost text and the first opaque background behind it.
_COLOURS = """block => {
  const element = block.querySelector("code span") || block.querySelector("code") || block;
  const rgb = s => s.match(/[\\d.]+/g).map(Number);
  const color = rgb(getComputedStyle(element).color);
  let node = element;
  while (node) {
    const background = rgb(getComputedStyle(node).backgroundColor);
    if (background.length < 4 || background[3] > 0) { return [color, background]; }
    node = node.parentElement;
  }
  return [color, [255, 255, 255]];
}"""


def test_every_operation_executes_from_docs_with_the_demo_data(stack: LocalStack, page: Any) -> None:
    from openapi_schema_validator import OAS30Validator

    document = stack.openapi_document()
    operations = _operations(document)
    assert {(m.upper(), p) for m, p, _ in operations} == {(r.method, r.path) for r in ROUTES}
    assert page.locator("#fallback").count() == 0, "Swagger UI did not load: the page showed its fallback"
    rendered = {
        page.locator(".opblock").nth(i).get_attribute("id") for i in range(page.locator(".opblock").count())
    }
    assert rendered == {f"operations-{op['tags'][0]}-{op['operationId']}" for _, _, op in operations}
    # The Authorize button exists and the demo credentials are in (Swagger UI shows it locked).
    assert page.locator(".auth-wrapper .btn.authorize.locked").count() == 1

    answered: dict[str, int] = {}
    for method, path, operation in operations:
        block = page.locator(f"#operations-{operation['tags'][0]}-{operation['operationId']}")
        block.locator(".opblock-summary").first.click()
        block.locator("button.try-out__btn").click()
        expected_path = path.split("{", 1)[0]
        with page.expect_response(
            lambda r, m=method, p=expected_path: r.request.method == m.upper() and p in r.url
        ) as caught:
            block.locator("button.execute").click()
        response = caught.value
        body = json.loads(response.body())
        documented = {code: r for code, r in operation["responses"].items() if code.startswith("2")}
        assert str(response.status) in documented, (operation["operationId"], response.status, body)
        schema = documented[str(response.status)]["content"]["application/json"]["schema"]
        resolved = {**schema, "components": document["components"]}
        OAS30Validator(resolved).validate(body)
        shown = block.locator(".live-responses-table .response .response-col_status").first
        assert shown.inner_text().strip().startswith(str(response.status))
        code = block.locator(".live-responses-table .response .microlight").first
        foreground, background = code.evaluate(_COLOURS)
        assert _contrast(tuple(foreground), tuple(background)) >= 4.5, (
            operation["operationId"],
            foreground,
            background,
        )
        answered[operation["operationId"]] = response.status
        block.locator(".opblock-summary").first.click()  # fold it again
    assert len(answered) == len(ROUTES)


def test_demo_credentials_are_live_demo_sessions() -> None:
    """What /docs fills in is the demo data's: a live session of the kind its scheme names."""
    data = json.loads(DEMO.read_text(encoding="utf-8"))
    sessions = {s["token"]: s for s in data["sessions"]}
    kinds = {
        "thalamusToken": "thalamus_user",
        "esMember": "es_member",
        "esConsole": "es_console",
        "spaazaSessionKey": "spaaza_user",
    }
    for scheme, kind in kinds.items():
        session = sessions[swagger.DEMO_AUTH[scheme]]
        assert session["kind"] == kind and session["expires_at"] > "2099", scheme
    member = next(
        m
        for m in data["members"]
        if m["member_id"] == sessions[swagger.DEMO_AUTH["spaazaSessionKey"]]["principal"]
    )
    assert str(member["user_id"]) == swagger.DEMO_AUTH["spaazaSessionUserId"]


def test_without_the_demo_data_nothing_is_filled_in() -> None:
    page = swagger.docs_html(demo=False)
    assert not [value for value in swagger.DEMO_AUTH.values() if f'"{value}"' in page]
    assert '<p id="demo-note">' not in page and "var demoAuth = /*DEMO_AUTH*/{};" in page
    demo = swagger.docs_html(demo=True)
    assert '<p id="demo-note">' in demo and '"demo-es-member-alice"' in demo

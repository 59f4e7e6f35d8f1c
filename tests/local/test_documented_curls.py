"""Every curl the docs show a newcomer answers as documented: each README, docs/deploy.md and
docs/local-stack.md bash block's curl (and the banner's samples), run with the real curl
against a fresh local stack with the demo data, in the order a reader meets them, must get a
2XX. Commands with placeholders (`<ApiUrl output>`) are skipped; `${API}` is the stack's URL
and the deploy guide's token variables are the demo sessions'."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.local_stack.__main__ import sample_curls
from infra.local_stack.server import LocalStack

pytestmark = pytest.mark.http

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = ("README.md", "docs/local-stack.md", "docs/deploy.md")
DOCUMENTED_URL = "http://127.0.0.1:3000"
TOKENS = {
    "OPERATOR_TOKEN": "demo-thalamus-operator-anna",
    "MEMBER_TOKEN": "demo-es-member-alice",
    "SPAAZA_SESSION_KEY": "demo-spaaza-user-alice",
}
_BLOCK = re.compile(r"^```(?:bash|sh)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def curls(text: str) -> list[str]:
    """The curl commands of the document's bash blocks, continuation lines joined."""
    found = []
    for block in _BLOCK.findall(text):
        joined = re.sub(r"\\\n\s*", " ", block)
        for line in joined.splitlines():
            command = line.strip()
            if command.startswith("curl ") and "<" not in command:
                found.append(command)
    return found


def test_the_documents_have_curls_to_run() -> None:
    counts = {name: len(curls((ROOT / name).read_text(encoding="utf-8"))) for name in DOCUMENTS}
    assert all(counts.values()), counts


@pytest.fixture
def stack() -> Iterator[LocalStack]:
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    local = LocalStack(port=0, demo=True, engine="moto", table_name="vouchers-doc-curls").start()
    try:
        yield local
    finally:
        local.stop()


def _run(command: str, stack: LocalStack, cwd: Path) -> tuple[int, str]:
    command = command.replace(DOCUMENTED_URL, stack.url).replace("${API}", stack.url + "/")
    # Each command's own output options stay; its status and body go to files we read.
    result = subprocess.run(
        ["bash", "-c", f"{command} -o body.out -w '%{{http_code}}'"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **TOKENS},
        cwd=cwd,
    )
    body = (cwd / "body.out").read_text(encoding="utf-8", errors="replace")
    status = int(result.stdout.strip()[-3:] or 0)
    return status, body[-600:]


@pytest.mark.parametrize("document", [*DOCUMENTS, "banner"])
def test_every_documented_curl_answers_2xx(document: str, stack: LocalStack, tmp_path: Path) -> None:
    if document == "banner":
        commands = sample_curls(DOCUMENTED_URL)
    else:
        commands = curls((ROOT / document).read_text(encoding="utf-8"))
    assert commands
    for command in commands:
        status, body = _run(command, stack, tmp_path)
        assert 200 <= status < 300, (document, command, status, body)


_SAM = re.compile(r"^sam local invoke -t (\S+) (\w+)\s+-e (\S+)$", re.MULTILINE)


def test_the_readme_replays_every_api_function_with_sam() -> None:
    """The README's `sam local invoke` list names every API function by the logical id the
    stack gives it (`<construct_id>Function`, infra/stacks/api_stack.py), each with an event
    file that exists and that its folder's manifest documents as a success."""
    import json

    from infra.functions import FUNCTIONS

    listed = {name: event for _template, name, event in _SAM.findall((ROOT / "README.md").read_text())}
    assert set(listed) == {f"{spec.construct_id}Function" for spec in FUNCTIONS.values()}
    for name, event in listed.items():
        path = ROOT / event
        assert path.is_file(), f"{name}: {event} does not exist"
        manifest = json.loads((path.parent / "manifest.json").read_text(encoding="utf-8"))
        assert 200 <= manifest[path.name]["status"] < 300, f"{name}: {event} is not a success event"

"""Every stored event replays to the status its manifest expects, against fresh demo data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra.local_stack.replay import EVENTS_DIR, Result, error_detail, event_files, format_table, replay
from infra.local_stack.server import ROOT

EVENT_FILES = event_files()


@pytest.fixture(scope="module")
def replayed() -> dict[str, Result]:
    """One replay of every event (each on its own fresh table)."""
    return {result.path: result for result in replay(EVENT_FILES)}


@pytest.mark.parametrize("path", EVENT_FILES, ids=lambda p: str(p.relative_to(EVENTS_DIR)))
def test_event_replays_to_its_manifest_status(replayed: dict[str, Result], path: Path) -> None:
    result = replayed[str(path.relative_to(ROOT))]
    assert result.ok, format_table([result])


def test_every_manifest_entry_has_its_event_file() -> None:
    for manifest in sorted(EVENTS_DIR.glob("*/manifest.json")):
        entries = json.loads(manifest.read_text(encoding="utf-8"))
        missing = [name for name in entries if not (manifest.parent / name).is_file()]
        assert not missing, f"{manifest}: entries without a file: {missing}"


def _write_event(directory: Path, name: str, event: dict, manifest: dict | None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(json.dumps(event))
    if manifest is not None:
        (directory / "manifest.json").write_text(json.dumps(manifest))
    return path


def test_unroutable_event_and_missing_manifest_entry_are_mismatches(tmp_path: Path) -> None:
    unroutable = _write_event(
        tmp_path / "a", "x.json", {"resource": "/nope", "httpMethod": "GET"}, {"x.json": {"status": 200}}
    )
    source = EVENT_FILES[0] if EVENT_FILES else None
    results = replay([unroutable])
    assert [r.ok for r in results] == [False]
    assert results[0].function is None
    assert "unroutable" in results[0].detail
    if source is not None:
        event = json.loads(source.read_text())
        orphan = _write_event(tmp_path / "b", "y.json", event, {})
        (result,) = replay([orphan])
        assert not result.ok
        assert "no entry" in result.detail


def test_wrong_expected_status_is_reported_as_mismatch(tmp_path: Path) -> None:
    if not EVENT_FILES:
        pytest.skip("no events yet")
    source = EVENT_FILES[0]
    manifest = json.loads((source.parent / "manifest.json").read_text())
    wrong = manifest[source.name]["status"] + 1
    path = _write_event(
        tmp_path, source.name, json.loads(source.read_text()), {source.name: {"status": wrong}}
    )
    (result,) = replay([path])
    assert not result.ok
    assert result.actual == manifest[source.name]["status"]
    assert "MISMATCH" in format_table([result])


def test_replay_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from infra.local_stack.replay import main

    bad = _write_event(
        tmp_path, "x.json", {"resource": "/nope", "httpMethod": "GET"}, {"x.json": {"status": 1}}
    )
    assert main([str(bad)]) == 1
    out = capsys.readouterr().out
    assert "MISMATCH" in out and "0/1 events" in out
    if EVENT_FILES:
        assert main([str(EVENT_FILES[0])]) == 0


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ('{"links":[],"data":null,"errors":{"voucherCode":"InvalidState"}}', "voucherCode: InvalidState"),
        ('{"errorCode":"UNAUTHORIZED","message":"x"}', "UNAUTHORIZED"),
        ('{"errors":[{"code":"voucher_not_found","message":"x"}]}', "voucher_not_found"),
        ('{"error":{"code":906,"name":"voucher_already_redeemed"}}', "906 voucher_already_redeemed"),
        ('{"error":{"message":"boom"}}', "boom"),
        ('{"message":"Missing Authentication Token"}', "Missing Authentication Token"),
        ('{"links":[],"data":{},"errors":{}}', ""),
        ("not json", ""),
        (None, ""),
    ],
)
def test_error_detail_reads_every_dialect(body: str | None, detail: str) -> None:
    assert error_detail(body) == detail

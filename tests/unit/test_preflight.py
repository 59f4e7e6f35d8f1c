"""`make deploy` checks credentials first and says what is missing in one line."""

from __future__ import annotations

from typing import Any

import pytest

from infra.preflight import main


def test_no_credentials_is_one_line_and_exit_1(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    assert main() == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no AWS credentials found" in err


def test_working_credentials_name_the_identity(capsys: Any) -> None:
    from moto import mock_aws

    with mock_aws():
        assert main() == 0
    assert "Deploying as arn:aws:" in capsys.readouterr().out

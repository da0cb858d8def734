"""The client finds the embedded server's operator token where the same configuration puts it."""

from __future__ import annotations

from pathlib import Path

import pytest
from hoso.client.channel import default_config


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "HOSO_CLIENT_TOKEN",
        "HOSO_CLIENT_TOKEN_FILE",
        "HOSO_CLIENT_ADDRESS",
        "HOSO_CONFIG",
    ):
        monkeypatch.delenv(name, raising=False)


def test_token_from_the_configured_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "operator.token").write_text("from-data-dir\n")
    monkeypatch.setenv("HOSO_SERVER__DATA_DIR", str(tmp_path))
    assert default_config().token == "from-data-dir"


def test_token_from_the_configured_token_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token_file = tmp_path / "elsewhere.token"
    token_file.write_text("from-token-file")
    monkeypatch.setenv("HOSO_AUTH__TOKEN_FILE", str(token_file))
    monkeypatch.setenv("HOSO_SERVER__DATA_DIR", str(tmp_path / "unused"))
    assert default_config().token == "from-token-file"


def test_explicit_token_and_address_win(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "operator.token").write_text("file")
    monkeypatch.setenv("HOSO_SERVER__DATA_DIR", str(tmp_path))
    monkeypatch.setenv("HOSO_CLIENT_TOKEN", "env")
    config = default_config(address="10.0.0.1:1")
    assert (config.token, config.address) == ("env", "10.0.0.1:1")


def test_broken_configuration_falls_back_to_var(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "operator.token").write_text("fallback")
    monkeypatch.setenv("HOSO_SERVER__PORT", "not-a-port")
    assert default_config().token == "fallback"

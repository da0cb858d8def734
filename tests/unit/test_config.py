"""Configuration: defaults, file, environment, and errors that name the option."""

from __future__ import annotations

from pathlib import Path

import pytest
from hoso.common.config import ConfigError, known_options, load_settings, options_table


def test_defaults_are_the_embedded_mode() -> None:
    settings = load_settings(env={})
    assert settings.server.port == 50051
    assert settings.database.url is None
    assert settings.server.data_dir == Path("var")
    assert settings.telemetry.otlp_endpoint is None


def test_file_then_environment_then_overrides(tmp_path: Path) -> None:
    config = tmp_path / "hoso.toml"
    config.write_text('[server]\nport = 6000\nhost = "0.0.0.0"\n[database]\nurl = "sqlite:///x"\n')
    settings = load_settings(config, env={"HOSO_SERVER__PORT": "7000"})
    assert settings.server.host == "0.0.0.0"
    assert settings.server.port == 7000
    assert settings.database.url == "sqlite:///x"
    settings = load_settings(config, env={}, overrides={"server": {"port": 1}})
    assert settings.server.port == 1


def test_config_path_from_environment(tmp_path: Path) -> None:
    config = tmp_path / "hoso.toml"
    config.write_text("[server]\ngrace_seconds = 3.5\n")
    assert load_settings(env={"HOSO_CONFIG": str(config)}).server.grace_seconds == 3.5


def test_unknown_environment_option_is_named() -> None:
    with pytest.raises(ConfigError, match="HOSO_SERVER__PROT"):
        load_settings(env={"HOSO_SERVER__PROT": "1"})


def test_unknown_file_key_is_named(tmp_path: Path) -> None:
    config = tmp_path / "hoso.toml"
    config.write_text("[server]\nprot = 1\n")
    with pytest.raises(ConfigError, match=r"unknown option server\.prot"):
        load_settings(config, env={})


def test_unknown_section_is_named(tmp_path: Path) -> None:
    config = tmp_path / "hoso.toml"
    config.write_text("[sever]\nport = 1\n")
    with pytest.raises(ConfigError, match="sever"):
        load_settings(config, env={})


def test_bad_value_names_option_and_variable() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(env={"HOSO_SERVER__PORT": "eighty"})
    assert "server.port" in str(caught.value)
    assert "HOSO_SERVER__PORT" in str(caught.value)


def test_out_of_range_value_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"server\.port"):
        load_settings(env={"HOSO_SERVER__PORT": "70000"})


def test_cross_field_rule_is_enforced() -> None:
    with pytest.raises(ConfigError, match="tls_cert_file and tls_key_file"):
        load_settings(env={"HOSO_SERVER__TLS_CERT_FILE": "/tmp/cert.pem"})


def test_missing_or_broken_file_is_explained(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "missing.toml", env={})
    broken = tmp_path / "broken.toml"
    broken.write_text("[server\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(broken, env={})


def test_structured_options_from_environment_as_json() -> None:
    settings = load_settings(
        env={"HOSO_AUTH__CALLERS": '{"dms-1": {"roles": ["dms"], "token_sha256": "ab"}}'}
    )
    assert settings.auth.callers["dms-1"].roles == ["dms"]


def test_every_option_is_documented_in_the_readme() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    table = options_table()
    assert table in readme, "README options table is stale: run `hoso config options`"
    for name in known_options():
        assert f"`{name}`" in readme


def test_every_option_has_a_description() -> None:
    missing = [line for line in options_table().splitlines()[2:] if line.rstrip().endswith("|  |")]
    assert not missing, f"options without a description: {missing}"

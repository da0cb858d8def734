"""The ``hoso`` command's foundation: config check, serve + health as a real process."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

HOSO = [sys.executable, "-m", "hoso.cli"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOSO_")}
    env.update({"HOSO_SERVER__DATA_DIR": str(tmp_path / "var"), **extra})
    return env


def test_config_check_names_the_bad_option(tmp_path: Path) -> None:
    result = subprocess.run(
        [*HOSO, "config", "check"],
        env=_env(tmp_path, HOSO_STORAGE__NO_SUCH_OPTION="1"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "HOSO_STORAGE__NO_SUCH_OPTION" in result.stderr
    ok = subprocess.run(
        [*HOSO, "config", "check", "--json"],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["ok"] is True


def test_serve_all_then_health_reports_serving(tmp_path: Path) -> None:
    port, http_port = _free_port(), _free_port()
    env = _env(tmp_path, HOSO_SERVER__PORT=str(port), HOSO_SERVER__HTTP_PORT=str(http_port))
    server = subprocess.Popen(
        [*HOSO, "serve", "all"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 90
        report = None
        while time.monotonic() < deadline:
            assert server.poll() is None, server.stdout.read() if server.stdout else ""
            result = subprocess.run(
                [*HOSO, "health", "--json", "--address", f"127.0.0.1:{port}", "--timeout", "2"],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            report = json.loads(result.stdout)
            if result.returncode == 0:
                break
            time.sleep(0.5)
        assert report is not None and report["healthy"], report
        assert report["services"] == {"signing": "SERVING", "storage": "SERVING", "ocr": "SERVING"}
        assert (tmp_path / "var" / "operator.token").exists()
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=60)
    assert server.returncode == 0, output


def test_health_of_nothing_listening_fails(tmp_path: Path) -> None:
    result = subprocess.run(
        [*HOSO, "health", "--json", "--address", f"127.0.0.1:{_free_port()}", "--timeout", "1"],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert json.loads(result.stdout)["healthy"] is False

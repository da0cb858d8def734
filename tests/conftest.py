"""Shared pytest configuration: fixture plugins live in ``tests/fixtures``."""

from __future__ import annotations

pytest_plugins = [
    "tests.fixtures.servers",
    "tests.fixtures.s3",
    "tests.fixtures.database",
    "tests.fixtures.grpc_server",
    "tests.fixtures.ocr_pages",
    "tests.fixtures.trust",
    "tests.fixtures.archive",
    "tests.fixtures.tcp_proxy",
    "tests.fixtures.attacks",
    "tests.fixtures.pades",
    "tests.fixtures.telemetry",
]

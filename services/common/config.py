"""Configuration: one TOML file and ``HOSO_*`` environment variables, validated at start.

Each service contributes a *section*: a :class:`Section` subclass in ``hoso.<svc>.settings``
(exposing ``SECTION_NAME`` and ``SECTION``). The common sections live in
``hoso.common.settings``. A value comes from, in order of precedence: keyword overrides, the
environment (``HOSO_<SECTION>__<OPTION>``), the TOML file (``[section]`` tables, path from
``HOSO_CONFIG`` or the ``path`` argument), then the documented default.

Unknown keys are refused (in the file and in ``HOSO_*`` variables) and every error names the
option, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import importlib
import os
import tomllib
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model
from pydantic.fields import FieldInfo

__all__ = [
    "SERVICE_NAMES",
    "ConfigError",
    "Section",
    "Settings",
    "env_name",
    "known_options",
    "known_sections",
    "load_settings",
    "options_table",
]

#: The services whose settings modules are discovered, in serving order.
SERVICE_NAMES = ("signing", "storage", "ocr")

#: Environment variables with the prefix that are not options.
_NOT_OPTIONS = frozenset({"HOSO_CONFIG"})
_NOT_OPTION_PREFIXES = ("HOSO_TEST_", "HOSO_BENCH_", "HOSO_CEPH_", "HOSO_CLIENT_")

S = TypeVar("S", bound="Section")


class ConfigError(ValueError):
    """The configuration is invalid; the message names the option and the fix."""


class Section(BaseModel):
    """Base of every settings section: typed, frozen, unknown keys refused."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class Settings(BaseModel):
    """The validated configuration of one process: a section per name."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def section(self, name: str) -> Any:
        """The validated section ``name`` (e.g. ``"storage"``)."""
        try:
            return getattr(self, name)
        except AttributeError as e:
            raise ConfigError(f"no settings section named {name!r}") from e

    # Typed accessors for the common sections (the model adds them as fields).
    server: Any
    database: Any
    auth: Any
    telemetry: Any


def known_sections() -> dict[str, type[Section]]:
    """Every settings section, common ones first, then one per installed service."""
    from hoso.common import settings as common

    sections: dict[str, type[Section]] = dict(common.SECTIONS)
    for service in SERVICE_NAMES:
        try:
            module = importlib.import_module(f"hoso.{service}.settings")
        except ModuleNotFoundError as e:
            if e.name != f"hoso.{service}.settings":
                raise
            continue
        sections[module.SECTION_NAME] = module.SECTION
    return sections


@cache
def _settings_model() -> type[Settings]:
    fields: dict[str, Any] = {
        name: (section, Field(default_factory=section))
        for name, section in known_sections().items()
    }
    return create_model("Settings", __base__=Settings, **fields)


def env_name(section: str, option: str) -> str:
    """The environment variable that sets ``section.option``."""
    return f"HOSO_{section.upper()}__{option.upper()}"


def known_options() -> dict[str, tuple[str, str]]:
    """Every option's environment variable name → ``(section, option)``."""
    return {
        env_name(section, option): (section, option)
        for section, model in known_sections().items()
        for option in model.model_fields
    }


def _from_environment(env: Mapping[str, str]) -> dict[str, dict[str, str]]:
    options = known_options()
    values: dict[str, dict[str, str]] = {}
    for key, value in env.items():
        if not key.startswith("HOSO_") or key in _NOT_OPTIONS:
            continue
        if key.startswith(_NOT_OPTION_PREFIXES):
            continue
        if key not in options:
            raise ConfigError(
                f"unknown option {key}: not a hoso setting (see the options table in README.md)"
            )
        section, option = options[key]
        values.setdefault(section, {})[option] = _decode_env_value(
            known_sections()[section].model_fields[option], value
        )
    return values


def _decode_env_value(field: FieldInfo, raw: str) -> Any:
    """Structured options (lists, tables) are given as JSON in the environment."""
    import json

    annotation = str(field.annotation)
    if any(marker in annotation for marker in ("list", "dict", "tuple", "set")):
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            return [item.strip() for item in raw.split(",") if item.strip()]
    return raw


def _from_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError as e:
        raise ConfigError(f"configuration file {path} does not exist") from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"configuration file {path} is not valid TOML: {e}") from e


def _merge(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(dict(merged[key]), value)
        else:
            merged[key] = value
    return merged


def _describe(error: ValidationError) -> str:
    problems = []
    for item in error.errors():
        location = [str(part) for part in item["loc"]]
        dotted = ".".join(location)
        hint = f" ({env_name(location[0], location[1])})" if len(location) >= 2 else ""
        if item["type"] == "extra_forbidden":
            problems.append(f"unknown option {dotted}{hint}")
        else:
            problems.append(f"option {dotted}{hint}: {item['msg']}")
    return "invalid configuration: " + "; ".join(problems)


def load_settings(
    path: Path | str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Read, merge and validate the configuration.

    Args:
        path: A TOML file; when ``None``, ``HOSO_CONFIG`` names it, or there is none.
        env: The environment to read (``os.environ`` when ``None``).
        overrides: ``{section: {option: value}}`` that win over everything (tests, CLI flags).

    Raises:
        ConfigError: An unknown option, a bad value or an unreadable file; the message names
            the option and its environment variable.
    """
    env = os.environ if env is None else env
    file_path = path if path is not None else env.get("HOSO_CONFIG")
    values: dict[str, Any] = _from_file(Path(file_path)) if file_path else {}
    values = _merge(values, _from_environment(env))
    values = _merge(values, overrides or {})
    try:
        return _settings_model().model_validate(values)
    except ValidationError as e:
        raise ConfigError(_describe(e)) from e


def _default_text(field: FieldInfo) -> str:
    from pydantic import SecretStr
    from pydantic_core import PydanticUndefined

    if field.default is PydanticUndefined and field.default_factory is None:
        return "(required)"
    value = field.get_default(call_default_factory=True)
    if isinstance(value, SecretStr):
        return "(secret)"
    if value is None:
        return "(none)"
    if isinstance(value, BaseModel):
        return "(table)"
    text = str(value.value if hasattr(value, "value") else value)
    return f"`{text}`" if text else '`""`'


def _rows() -> Iterator[str]:
    for section, model in known_sections().items():
        for option, field in model.model_fields.items():
            description = " ".join((field.description or "").split()).replace("|", "\\|")
            yield (
                f"| `{section}.{option}` | `{env_name(section, option)}` "
                f"| {_default_text(field)} | {description} |"
            )


def options_table() -> str:
    """The Markdown table of every option, as kept in README.md."""
    header = "| option | environment | default | meaning |\n|---|---|---|---|\n"
    return header + "\n".join(_rows()) + "\n"

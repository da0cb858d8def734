"""Checks on the gRPC contracts in ``proto/`` and their generated code.

The contracts must be fresh (generated code matches the protos), follow the
Google API design guide (``<ENUM>_UNSPECIFIED = 0``, one request and response
message per RPC) and be documented element by element.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import ModuleType

import pytest
from google.protobuf import descriptor_pb2

ROOT = Path(__file__).resolve().parents[2]
GEN_SCRIPT = ROOT / "scripts" / "gen_proto.py"

# FileDescriptorProto / DescriptorProto field numbers used in source paths.
_MESSAGE_TYPE = 4
_ENUM_TYPE = 5
_SERVICE = 6
_FIELD = 2
_NESTED_TYPE = 3
_NESTED_ENUM = 4
_ENUM_VALUE = 2
_METHOD = 2

EXPECTED_SERVICES = {
    "hoso.common.v1.AuditService",
    "hoso.signing.v1.TrustService",
    "hoso.signing.v1.SigningService",
    "hoso.signing.v1.VerificationService",
    "hoso.storage.v1.ArchiveService",
    "hoso.ocr.v1.OcrService",
}


def _load_generator() -> ModuleType:
    """Import scripts/gen_proto.py as a module (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location("_gen_proto", GEN_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def descriptor_set(tmp_path_factory: pytest.TempPathFactory) -> descriptor_pb2.FileDescriptorSet:
    """Compile every contract with source info (comments) into a descriptor set."""
    gen = _load_generator()
    out_dir = tmp_path_factory.mktemp("proto")
    descriptor_path = out_dir / "contracts.pb"
    gen.run_protoc(out_dir, "--include_source_info", f"--descriptor_set_out={descriptor_path}")
    files = descriptor_pb2.FileDescriptorSet()
    files.ParseFromString(descriptor_path.read_bytes())
    assert files.file, "protoc compiled no contracts"
    return files


def _commented_paths(file: descriptor_pb2.FileDescriptorProto) -> set[tuple[int, ...]]:
    """Return the source paths of elements that carry a leading comment."""
    return {
        tuple(location.path)
        for location in file.source_code_info.location
        if location.leading_comments.strip()
    }


def _messages(
    messages: Iterable[descriptor_pb2.DescriptorProto], prefix: tuple[int, ...], scope: str
) -> Iterator[tuple[descriptor_pb2.DescriptorProto, tuple[int, ...], str]]:
    """Yield every message (nested too) with its source path and full name.

    Map entry messages are skipped: protoc synthesises them for `map<>`
    fields, so they have no source to comment (the map field is checked).
    """
    for index, message in enumerate(messages):
        if message.options.map_entry:
            continue
        path = (*prefix, index)
        full_name = f"{scope}.{message.name}"
        yield message, path, full_name
        yield from _messages(message.nested_type, (*path, _NESTED_TYPE), full_name)


def _documentable(
    file: descriptor_pb2.FileDescriptorProto,
) -> Iterator[tuple[tuple[int, ...], str, str]]:
    """Yield (source path, kind, full name) of everything that needs a comment."""
    package = file.package
    for s_index, service in enumerate(file.service):
        yield (_SERVICE, s_index), "service", f"{package}.{service.name}"
        for m_index, method in enumerate(service.method):
            yield (
                (_SERVICE, s_index, _METHOD, m_index),
                "rpc",
                f"{package}.{service.name}/{method.name}",
            )
    enums: list[tuple[descriptor_pb2.EnumDescriptorProto, tuple[int, ...], str]] = [
        (enum, (_ENUM_TYPE, index), f"{package}.{enum.name}")
        for index, enum in enumerate(file.enum_type)
    ]
    for message, path, full_name in _messages(file.message_type, (_MESSAGE_TYPE,), package):
        yield path, "message", full_name
        for f_index, field in enumerate(message.field):
            yield (*path, _FIELD, f_index), "field", f"{full_name}.{field.name}"
        enums += [
            (enum, (*path, _NESTED_ENUM, index), f"{full_name}.{enum.name}")
            for index, enum in enumerate(message.enum_type)
        ]
    for enum, path, full_name in enums:
        yield path, "enum", full_name
        for v_index, value in enumerate(enum.value):
            yield (*path, _ENUM_VALUE, v_index), "enum value", f"{full_name}.{value.name}"


def _all_enums(
    file: descriptor_pb2.FileDescriptorProto,
) -> Iterator[tuple[str, descriptor_pb2.EnumDescriptorProto]]:
    """Yield every enum of a file (top-level and nested) with its full name."""
    for enum in file.enum_type:
        yield f"{file.package}.{enum.name}", enum
    for message, _, full_name in _messages(file.message_type, (_MESSAGE_TYPE,), file.package):
        for enum in message.enum_type:
            yield f"{full_name}.{enum.name}", enum


def _own_files(files: descriptor_pb2.FileDescriptorSet) -> list[descriptor_pb2.FileDescriptorProto]:
    """Return our contracts (not google/protobuf imports)."""
    return [f for f in files.file if f.name.startswith("hoso/")]


def test_generated_code_is_fresh() -> None:
    """`make proto` output in services/*/v1 matches what the protos generate now."""
    result = subprocess.run(
        [sys.executable, str(GEN_SCRIPT), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"stale generated code; run `make proto`:\n{result.stderr}"


def test_every_service_of_the_mission_is_defined(
    descriptor_set: descriptor_pb2.FileDescriptorSet,
) -> None:
    """Each service of the architecture has its contract."""
    services = {
        f"{file.package}.{service.name}"
        for file in _own_files(descriptor_set)
        for service in file.service
    }
    assert services == EXPECTED_SERVICES


def test_every_enum_starts_with_an_unspecified_zero(
    descriptor_set: descriptor_pb2.FileDescriptorSet,
) -> None:
    """AIP-126: the zero value of each enum is `<ENUM_PREFIX>_UNSPECIFIED`."""
    bad = [
        f"{name}: first value {enum.value[0].name}={enum.value[0].number}"
        for file in _own_files(descriptor_set)
        for name, enum in _all_enums(file)
        if enum.value[0].number != 0 or not enum.value[0].name.endswith("_UNSPECIFIED")
    ]
    assert not bad, "enums without an _UNSPECIFIED zero value:\n" + "\n".join(bad)


def test_enum_values_carry_their_enum_prefix(
    descriptor_set: descriptor_pb2.FileDescriptorSet,
) -> None:
    """Values share the prefix of their zero value, so names never collide in a package."""
    bad = []
    for file in _own_files(descriptor_set):
        for name, enum in _all_enums(file):
            prefix = enum.value[0].name.removesuffix("UNSPECIFIED")
            bad += [f"{name}.{v.name}" for v in enum.value if not v.name.startswith(prefix)]
    assert not bad, "enum values without their enum's prefix:\n" + "\n".join(bad)


def test_everything_is_documented(descriptor_set: descriptor_pb2.FileDescriptorSet) -> None:
    """Every service, RPC, message, field, enum and enum value has a leading comment."""
    undocumented = []
    checked = 0
    for file in _own_files(descriptor_set):
        commented = _commented_paths(file)
        for path, kind, name in _documentable(file):
            checked += 1
            if path not in commented:
                undocumented.append(f"{file.name}: {kind} {name}")
    assert checked > 500, f"only {checked} elements found; is the walk broken?"
    assert not undocumented, "elements without a leading comment:\n" + "\n".join(undocumented)


def test_every_rpc_has_its_own_request_and_response(
    descriptor_set: descriptor_pb2.FileDescriptorSet,
) -> None:
    """Each RPC takes `<Rpc>Request` and returns `<Rpc>Response` (streams of them)."""
    bad = []
    used: dict[str, str] = {}
    for file in _own_files(descriptor_set):
        for service in file.service:
            for method in service.method:
                rpc = f"{file.package}.{service.name}/{method.name}"
                wanted = {
                    "input": f".{file.package}.{method.name}Request",
                    "output": f".{file.package}.{method.name}Response",
                }
                actual = {"input": method.input_type, "output": method.output_type}
                for side in ("input", "output"):
                    if actual[side] != wanted[side]:
                        bad.append(f"{rpc} {side} is {actual[side]}, want {wanted[side]}")
                    if actual[side] in used:
                        bad.append(f"{rpc} shares {actual[side]} with {used[actual[side]]}")
                    used[actual[side]] = rpc
    assert not bad, "\n".join(bad)


def test_generated_modules_import_under_the_hoso_package() -> None:
    """The generated code imports as `hoso.<svc>.v1` and exposes each service's stub."""
    modules = {
        "hoso.common.v1.audit_pb2_grpc": "AuditServiceStub",
        "hoso.signing.v1.trust_pb2_grpc": "TrustServiceStub",
        "hoso.signing.v1.signing_pb2_grpc": "SigningServiceStub",
        "hoso.signing.v1.verification_pb2_grpc": "VerificationServiceStub",
        "hoso.storage.v1.storage_pb2_grpc": "ArchiveServiceStub",
        "hoso.ocr.v1.ocr_pb2_grpc": "OcrServiceStub",
    }
    for module_name, stub in modules.items():
        module = importlib.import_module(module_name)
        assert hasattr(module, stub), f"{module_name} lacks {stub}"

"""Generate the Python gRPC code of every contract under ``proto/``.

Runs ``grpc_tools.protoc`` (with mypy-protobuf for ``.pyi`` stubs) over every
``.proto`` file in ``proto/`` and copies the results from
``hoso/<svc>/v1/`` into ``services/<svc>/v1/``, because the ``services/``
folder is the ``hoso`` package. Generation happens in a temporary directory
first so a failed run never leaves half-written files behind.

Usage::

    .venv/bin/python scripts/gen_proto.py           # regenerate in place
    .venv/bin/python scripts/gen_proto.py --check   # exit 1 listing stale files
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import sys
import tempfile
from importlib import resources
from pathlib import Path

from grpc_tools import protoc

__all__ = [
    "GENERATED_SUFFIXES",
    "PROTO_ROOT",
    "generate",
    "main",
    "proto_files",
    "run_protoc",
    "stale_files",
]

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "proto"
PACKAGE_ROOT = ROOT / "services"
# Suffixes of the files protoc writes per proto; anything else under a
# services/<svc>/v1/ folder (such as __init__.py) is not ours to delete.
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py", "_pb2_grpc.pyi")
INIT_TEXT = '"""Generated gRPC code; regenerate with `make proto`, never edit."""\n'


def proto_files() -> list[Path]:
    """Return every ``.proto`` under ``proto/``, sorted for stable output."""
    return sorted(PROTO_ROOT.rglob("*.proto"))


def _well_known_include() -> str:
    """Return grpc_tools' bundled include dir (google/protobuf/*.proto)."""
    return str(resources.files("grpc_tools") / "_proto")


def _stub_args(out_dir: Path) -> list[str]:
    """Return protoc options for ``.pyi`` stubs.

    mypy-protobuf's plugins (installed next to this interpreter) type the
    gRPC stubs too; without them protoc's own ``--pyi_out`` types messages only.
    """
    bin_dir = Path(sys.executable).parent
    mypy_plugin = bin_dir / "protoc-gen-mypy"
    mypy_grpc_plugin = bin_dir / "protoc-gen-mypy_grpc"
    if mypy_plugin.exists() and mypy_grpc_plugin.exists():
        return [
            f"--plugin=protoc-gen-mypy={mypy_plugin}",
            f"--plugin=protoc-gen-mypy_grpc={mypy_grpc_plugin}",
            f"--mypy_out=quiet:{out_dir}",
            f"--mypy_grpc_out=quiet:{out_dir}",
        ]
    return [f"--pyi_out={out_dir}"]


def run_protoc(out_dir: Path, *extra: str) -> None:
    """Run protoc over all contracts, writing ``hoso/...`` under ``out_dir``.

    Args:
        out_dir: Where protoc writes its output tree.
        extra: Additional protoc options (e.g. ``--descriptor_set_out``).

    Raises:
        SystemExit: protoc reported an error (its message is on stderr).
    """
    args = [
        "grpc_tools.protoc",
        f"--proto_path={PROTO_ROOT}",
        f"--proto_path={_well_known_include()}",
        f"--python_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        *_stub_args(out_dir),
        *extra,
        *(str(p.relative_to(PROTO_ROOT)) for p in proto_files()),
    ]
    code = protoc.main(args)
    if code != 0:
        raise SystemExit(f"protoc failed with exit code {code}")


def _expected_outputs(out_dir: Path) -> dict[Path, Path]:
    """Map each generated file that belongs in ``services/`` to its fresh source."""
    generated_root = out_dir / "hoso"
    return {
        PACKAGE_ROOT / src.relative_to(generated_root): src
        for src in sorted(generated_root.rglob("*"))
        if src.is_file() and src.name.endswith(GENERATED_SUFFIXES)
    }


def _existing_inits(expected: dict[Path, Path]) -> set[Path]:
    """Return the ``__init__.py`` files that already exist next to ``expected``."""
    return {t.parent / "__init__.py" for t in expected if (t.parent / "__init__.py").exists()}


def _generated_dirs() -> list[Path]:
    """Return the folders of ``services/`` that hold generated code."""
    return sorted(
        {p.parent for p in PACKAGE_ROOT.glob("*/v*/*") if p.name.endswith(GENERATED_SUFFIXES)}
    )


def stale_files(out_dir: Path) -> list[Path]:
    """List files in ``services/`` that differ from, lack or outlive a fresh run."""
    expected = _expected_outputs(out_dir)
    stale = [
        target
        for target, src in expected.items()
        if not target.exists() or not filecmp.cmp(target, src, shallow=False)
    ]
    # Each generated folder must be a package; its __init__.py is only
    # required to exist (its docstring is free).
    stale += sorted(
        {t.parent / "__init__.py" for t in expected} - {p for p in _existing_inits(expected)}
    )
    for folder in _generated_dirs():
        for existing in folder.iterdir():
            if existing.name.endswith(GENERATED_SUFFIXES) and existing not in expected:
                stale.append(existing)  # generated from a proto that no longer exists
    return sorted(stale)


def generate(out_dir: Path) -> list[Path]:
    """Regenerate into ``services/`` from a fresh run in ``out_dir``.

    Returns:
        The files written or removed.
    """
    changed = stale_files(out_dir)
    expected = _expected_outputs(out_dir)
    for path in changed:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path in expected:
            shutil.copyfile(expected[path], path)
        elif path.name == "__init__.py":
            path.write_text(INIT_TEXT, encoding="utf-8")
        else:
            path.unlink()  # generated from a proto that no longer exists
    return changed


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="do not write; exit 1 and list the files that are stale",
    )
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="hoso-proto-") as tmp:
        out_dir = Path(tmp)
        run_protoc(out_dir)
        if options.check:
            stale = stale_files(out_dir)
            for path in stale:
                print(f"stale: {path.relative_to(ROOT)}", file=sys.stderr)
            if stale:
                print("run `make proto` to regenerate", file=sys.stderr)
                return 1
            print(f"generated code is fresh ({len(proto_files())} protos)")
            return 0
        changed = generate(out_dir)
        for path in changed:
            print(f"wrote: {path.relative_to(ROOT)}")
        print(f"{len(changed)} file(s) updated from {len(proto_files())} protos")
    return 0


if __name__ == "__main__":
    sys.exit(main())

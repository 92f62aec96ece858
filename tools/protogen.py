"""`make proto`: generates the Python code of Warden's gRPC APIs and of the vendored Envoy protos
into `shared/grpc/gen/` with `python -m grpc_tools.protoc`.

protoc names generated modules after the .proto paths (`envoy.config.core.v3.base_pb2`,
`warden.session.v1.session_pb2`), which would clash with Warden's own `warden` package and with any
other copy of Envoy's protos; so every generated import of a vendored or Warden path is rewritten to
live under `shared.grpc.gen`. The descriptors keep their .proto names, which is what gRPC reflection
and the wire use. The output is committed; a test regenerates it and compares.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROTO = ROOT / "proto"
THIRD_PARTY = PROTO / "third_party"
OUTPUT = ROOT / "shared" / "grpc" / "gen"
PACKAGE = "shared.grpc.gen"
SERVICES = (
    "warden/session/v1/session.proto",
    "warden/identity/v1/identity.proto",
    "envoy/service/auth/v3/external_auth.proto",
)
_TOP_LEVEL = ("envoy", "udpa", "xds", "validate", "warden", "google.rpc")
_IMPORT = re.compile(rf"^(from|import) ({'|'.join(re.escape(t) for t in _TOP_LEVEL)})(\.|\s)", re.M)


def sources() -> list[str]:
    found = [p.relative_to(THIRD_PARTY).as_posix() for p in THIRD_PARTY.rglob("*.proto")]
    found += [p.relative_to(PROTO).as_posix() for p in (PROTO / "warden").rglob("*.proto")]
    return sorted(found)


def generate(into: Path) -> None:
    """Writes the generated package (modules, `__init__.py` files) into `into`."""
    with tempfile.TemporaryDirectory() as raw:
        command = [sys.executable, "-m", "grpc_tools.protoc", f"-I{PROTO}", f"-I{THIRD_PARTY}", f"--python_out={raw}"]
        subprocess.run([*command, *sources()], check=True, cwd=ROOT)
        subprocess.run([*command, f"--grpc_python_out={raw}", *SERVICES], check=True, cwd=ROOT)
        for module in sorted(Path(raw).rglob("*.py")):
            target = into / module.relative_to(raw)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(_IMPORT.sub(rf"\1 {PACKAGE}.\2\3", module.read_text(encoding="utf-8")), encoding="utf-8")
    for directory in [into, *(d for d in into.rglob("*") if d.is_dir())]:
        (directory / "__init__.py").touch()


def main() -> int:
    shutil.rmtree(OUTPUT, ignore_errors=True)
    generate(OUTPUT)
    print(f"generated {sum(1 for _ in OUTPUT.rglob('*_pb2*.py'))} modules into {OUTPUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

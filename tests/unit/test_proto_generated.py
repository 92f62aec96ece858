"""The committed gRPC code is what `make proto` generates from proto/ now."""

from __future__ import annotations

from pathlib import Path

from tools.protogen import OUTPUT, generate


def _tree(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_text(encoding="utf-8") for p in sorted(root.rglob("*.py"))}


def test_regenerating_changes_nothing(tmp_path: Path) -> None:
    generate(tmp_path)
    assert _tree(tmp_path) == _tree(OUTPUT), "shared/grpc/gen/ is stale: run `make proto` and commit the result"

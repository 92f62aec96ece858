"""`warden identities import|validate|list|get|delete`: identities through the admin API, as Kratos's
`kratos identities …` manages them.

Same verbs and flags as Kratos's command line: `--endpoint`/`-e` (or `KRATOS_ADMIN_URL`, Kratos's
name, then `KRATOS_ADMIN_ENDPOINT`, its older one; Warden's default is the embedded admin port,
`http://127.0.0.1:4434`; the key a guarded admin API asks for, `serve.admin.api_keys`, comes from
`WARDEN_ADMIN_API_KEY`), `--format table|json|json-pretty` and `--quiet` (ids only, one a line).
One identity prints as Kratos prints one (a field a line), several as a table; `list` adds the
next page's token (a last row, or `next_page_token` beside `identities` in JSON).

`import` reads files holding one identity or a list of them (`-`, or no file, is standard input),
creates them one by one with `POST /admin/identities` as Kratos's does, shows a progress bar on
standard error, and goes on past an identity the server refuses; any refusal makes the exit code 1,
after the rest were tried. `validate` checks such files without creating anything
(`warden/identities_validate.py`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from warden.admin_client import AdminApi, AdminApiError
from warden.identity_files import InputError, read_identities
from warden.table import table

DEFAULT_ENDPOINT = "http://127.0.0.1:4434"
# Kratos reads KRATOS_ADMIN_URL; KRATOS_ADMIN_ENDPOINT is what its command line read before, kept
# so that older scripts still work. When both are set, Kratos's current name wins, as in Kratos.
ENDPOINT_VARIABLES = ("KRATOS_ADMIN_URL", "KRATOS_ADMIN_ENDPOINT")
IDENTITIES = "/admin/identities"
# The key for a Warden whose admin API asks for one (`serve.admin.api_keys`): from the environment,
# never a flag, so that it shows in no process list or shell history.
API_KEY_VARIABLE = "WARDEN_ADMIN_API_KEY"
HEADER = ("ID", "VERIFIED ADDRESSES", "RECOVERY ADDRESSES", "SCHEMA ID", "SCHEMA URL")
PAGE_SIZE = 100  # Kratos's command line asks for 100 a page (the API's own default is 250)


def add_parser(commands: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    identities = commands.add_parser("identities", help="import, validate, list, get and delete identities (admin API)")
    verbs = identities.add_subparsers(dest="verb", required=True, metavar="VERB", parser_class=parser_class)
    imports = verbs.add_parser("import", help="create identities from JSON files (one or a list each)")
    imports.add_argument("files", nargs="*", metavar="FILE", help="JSON files; '-' or none: standard input")
    validate = verbs.add_parser("validate", help="check identity files against the server, creating nothing")
    validate.add_argument("files", nargs="*", metavar="FILE", help="JSON files; '-' or none: standard input")
    listing = verbs.add_parser("list", aliases=["ls"], help="list identities, a page at a time")
    listing.add_argument(
        "legacy_paging", nargs="*", metavar="PAGE PER_PAGE", help="Kratos's older paging (both or neither)"
    )
    listing.add_argument("--page-size", type=int, default=None, help=f"identities per page (default {PAGE_SIZE})")
    listing.add_argument("--page-token", default="", help="the page to show (printed with the previous one)")
    listing.add_argument("--consistency", default="", help="strong or eventual (Warden always reads strongly)")
    get = verbs.add_parser("get", help="show identities by id")
    get.add_argument("ids", nargs="+", metavar="ID")
    # Only "oidc", as in Kratos's command: the social sign-in tokens are the credential worth showing.
    get.add_argument("-i", "--include-credentials", action="append", default=[], choices=["oidc"], metavar="oidc")
    delete = verbs.add_parser("delete", help="delete identities by id")
    delete.add_argument("ids", nargs="+", metavar="ID")
    for verb in (imports, validate, listing, get, delete):
        verb.add_argument("-e", "--endpoint", default="", help=f"the admin API's URL (default {DEFAULT_ENDPOINT})")
        verb.add_argument("-f", "--format", default="table", choices=("table", "json", "json-pretty"))
        verb.add_argument("-q", "--quiet", action="store_true", help="print only ids, one a line")


def endpoint(flag: str) -> str:
    """`-e`, else the first of ENDPOINT_VARIABLES set, else Warden's embedded admin port."""
    return flag or next((os.environ[name] for name in ENDPOINT_VARIABLES if os.environ.get(name)), DEFAULT_ENDPOINT)


def run(args: argparse.Namespace) -> int:
    api = AdminApi(endpoint(args.endpoint), os.environ.get(API_KEY_VARIABLE, ""))
    verb = "list" if args.verb == "ls" else args.verb
    try:
        if verb == "import":
            return _import(api, args)
        if verb == "validate":
            from warden.identities_validate import validate

            return validate(api, args)
        if verb == "list":
            return _list(api, args)
        if verb == "get":
            query = {"include_credential": args.include_credentials} if args.include_credentials else None
            return _each(args.ids, lambda i: api.call("GET", f"{IDENTITIES}/{i}", query=query)[0], args)
        return _each(args.ids, lambda i: api.call("DELETE", f"{IDENTITIES}/{i}")[0] or {"id": i}, args, ids_only=True)
    except (AdminApiError, InputError) as exc:
        print(f"warden: identities {verb}: {exc}", file=sys.stderr)
        return 1


def _list(api: AdminApi, args: argparse.Namespace) -> int:
    query: dict[str, Any] = {"consistency": args.consistency} if args.consistency else {}
    if args.legacy_paging:
        # Kratos's `list [<page> <per-page>]`, before keyset paging: sent as the API's deprecated
        # `page` and `per_page`, which the API answers as Kratos's does (`per_page` is the size).
        if len(args.legacy_paging) != 2 or not all(a.isdigit() for a in args.legacy_paging):
            raise InputError(f"expected zero or two whole numbers (page, per page), got {args.legacy_paging}")
        query.update(page=args.legacy_paging[0], per_page=args.legacy_paging[1])
    else:
        query.update(page_size=args.page_size or PAGE_SIZE, page_token=args.page_token)
    page, token = api.call("GET", IDENTITIES, query=query)
    if args.quiet:
        _print_ids(page)
    elif args.format != "table":
        _print_json({"identities": page, "next_page_token": token}, args)
    else:
        # As Kratos's table: a blank row, then the token to pass as --page-token ("" on the last page).
        ending = [("",) * len(HEADER), ("NEXT PAGE TOKEN", token, *("",) * (len(HEADER) - 2))]
        print(table(HEADER, [*(_row(identity) for identity in page), *ending]), end="")
    return 0


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
        _print_ids(done)
    elif done:  # as Kratos: what was found, one as one, several as a table
        _print(done, args)
    return 1 if failed else 0


def _import(api: AdminApi, args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    items = read_identities(args.files)
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
    _print(created, args)
    return 1 if failed else 0


def _stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True)


def _print(identities: list[dict[str, Any]], args: argparse.Namespace) -> None:
    """One identity as Kratos prints one (JSON: the object; a table: a field a line), else a list."""
    one = identities[0] if len(identities) == 1 else None
    if args.quiet:
        _print_ids(identities)
    elif args.format != "table":
        _print_json(identities if one is None else one, args)
    elif one is not None:
        fields = list(zip(HEADER, _row(one)))
        print(table(fields[0], fields[1:]), end="")  # the first field's line stands as the header
    else:
        print(table(HEADER, [_row(identity) for identity in identities]), end="")


def _print_ids(identities: list[dict[str, Any]]) -> None:
    print("".join(f"{identity['id']}\n" for identity in identities), end="")


def _print_json(data: Any, args: argparse.Namespace) -> None:
    print(json.dumps(data, indent=2 if args.format == "json-pretty" else None))


def _row(identity: dict[str, Any]) -> tuple[str, ...]:
    def values(addresses: list[dict[str, Any]] | None) -> str:
        return ", ".join(str(a["value"]) for a in addresses or [] if a.get("value"))

    return (
        str(identity.get("id", "")),
        values(identity.get("verifiable_addresses")),
        values(identity.get("recovery_addresses")),
        str(identity.get("schema_id", "")),
        str(identity.get("schema_url", "")),
    )

"""`warden identities validate [FILE…]`: are these identity files what a running Warden would take,
checked without creating anything, as `kratos identities validate` checks them.

Each identity is checked twice, as Kratos's command does: against the admin API's create payload
(`services.identity.api.create_body_schema`: a missing `schema_id`, a misspelt field, a wrong type)
and against the identity schema its `schema_id` names, fetched from the server (`GET /schemas/{id}`,
which the admin port sends on to the public one). Both checks are the identity service's own
(`services.identity.schemas`), so a problem reads as the server would word it, one line each with
the JSON pointer of the field: `people.json[1]: #/traits/email: "ada" is not valid "email"`.

One difference from Kratos, on purpose: the identity schema is checked against `{"traits": …}`, as
the server checks it, not against the whole file (Kratos's command would fail `schema_id` under a
schema whose root says `"additionalProperties": false`, though its server takes the identity).
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from warden.admin_client import AdminApi, AdminApiError
from warden.identity_files import read_identities

ALL_VALID = "All identity files are valid."  # Kratos's closing line


@dataclass
class Verdict:
    source: str  # `people.json[1]`
    problems: list[tuple[str, str]] = field(default_factory=list)  # (JSON pointer, message)

    def report(self) -> dict[str, Any]:
        errors = [{"instance_ptr": at, "message": message} for at, message in self.problems]
        return {"source": self.source, "valid": not self.problems, "errors": errors}


def validate(api: AdminApi, args: argparse.Namespace) -> int:
    verdicts = check(api, read_identities(args.files))
    if args.format in ("json", "json-pretty") and not args.quiet:
        print(json.dumps([v.report() for v in verdicts], indent=2 if args.format == "json-pretty" else None))
    for verdict in verdicts:
        for at, message in verdict.problems:
            print(f"{verdict.source}: {at}: {message}", file=sys.stderr)
    invalid = [v for v in verdicts if v.problems]
    if args.format == "table" and not args.quiet:
        print("".join(f"{v.source}: {'not valid' if v.problems else 'valid'}\n" for v in verdicts), end="")
        if not invalid:
            print(ALL_VALID)
    if invalid:
        print(f"warden: identities validate: {len(invalid)} of {len(verdicts)} not valid", file=sys.stderr)
    return 1 if invalid else 0


def check(api: AdminApi, items: list[tuple[str, dict[str, Any]]]) -> list[Verdict]:
    # Imported here: only this command needs the identity service's validator (jsonschema, RE2).
    from services.identity.api.create_body_schema import CreateBodySchema

    payload = CreateBodySchema.load()
    schemas = _SchemaCache(api)
    verdicts = []
    for source, body in items:
        verdict = Verdict(source, [(p.instance_ptr, p.message) for p in payload.problems(body)])
        schema_id, traits = body.get("schema_id"), body.get("traits")
        if isinstance(schema_id, str):
            schema = schemas.get(schema_id)
            if isinstance(schema, str):
                verdict.problems.append(("#/schema_id", schema))
            elif isinstance(traits, dict):  # otherwise the payload check has said what is wrong
                verdict.problems.extend((p.instance_ptr, p.message) for p in schema.problems(traits))
        verdicts.append(verdict)
    return verdicts


class _SchemaCache:
    """The identity schemas fetched so far, by id, or why one could not be (said once per id)."""

    def __init__(self, api: AdminApi) -> None:
        self._api = api
        self._found: dict[str, Any] = {}

    def get(self, schema_id: str) -> Any:
        """The IdentitySchema, or a one-line reason. A server that cannot be reached at all raises
        AdminApiError: every identity would fail the same way, so the command stops."""
        from services.identity.schemas import IdentitySchema

        if schema_id not in self._found:
            path = "/schemas/" + urllib.parse.quote(schema_id, safe="")
            try:
                document, _ = self._api.call("GET", path)
            except AdminApiError as exc:
                if exc.status is None:
                    raise
                self._found[schema_id] = f'could not fetch schema with ID "{schema_id}": {exc}'
            else:
                if isinstance(document, dict):
                    self._found[schema_id] = IdentitySchema(schema_id, self._api.endpoint + path, document)
                else:
                    self._found[schema_id] = f'schema with ID "{schema_id}" is not a JSON Schema object'
        return self._found[schema_id]

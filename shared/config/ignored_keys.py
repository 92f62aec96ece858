"""Start-up warnings for keys Warden accepts but does not act on, so nobody believes them in force.

Warden validates a `kratos.yml` against Kratos's whole schema, so that an existing file loads
unchanged; `shared.config.coverage` says which of those keys Warden ignores. A key is warned about
when the config the user wrote (files and environment, before Warden's own defaults are laid under
it) sets it to something other than Kratos's default and other than what Warden does anyway. The
warning names the key as written (`…hooks[0].config.recipients`), never its value.
"""

from __future__ import annotations

from typing import Any

from shared.config.coverage import IMPLEMENTED_HOOKS, NOT_SUPPORTED, row_for
from shared.config.leaves import schema_leaves, set_leaves


def ignored_key_warnings(written: dict[str, Any]) -> list[str]:
    """One line per not-supported key `written` sets to a value that would change Kratos's behaviour."""
    leaves = schema_leaves()
    found = []
    for leaf, path, value in set_leaves(written, leaves):
        row = row_for(leaf)
        if row is None or row.fate != NOT_SUPPORTED or value == leaves[leaf] or _same(value, row.same_as):
            continue
        found.append(f"{path} has no effect in Warden ({row.note})")
    return found + _unimplemented_hooks(written, leaves) + _flow_wide_interrupting_hooks(written) + _tracing(written)


def _unimplemented_hooks(written: dict[str, Any], leaves: dict[str, Any]) -> list[str]:
    """`hooks[].hook` is honoured for the hooks Warden has; Kratos's schema admits a few more
    (`verification` after login, `verify_new_address`, B2B SSO's), which a flow would skip. The
    name is said: it is one of the schema's constants, never a secret."""
    return [
        f"{path} has no effect in Warden (the `{name}` hook is not implemented: it is skipped)"
        for leaf, path, name in set_leaves(written, leaves)
        if leaf.startswith("selfservice.flows.") and leaf.endswith(".hooks[].hook") and name not in IMPLEMENTED_HOOKS
    ]


def _flow_wide_interrupting_hooks(written: dict[str, Any]) -> list[str]:
    """Registration and settings take the web hooks that run before they save the identity from the
    method's own `after.<method>.hooks` only, as Kratos does (services/selfservice/config.py,
    SAVED_BETWEEN_PHASES): one that can interrupt in the flow-wide `after.hooks` never runs there."""
    flows = _object(_object(written.get("selfservice")).get("flows"))
    found = []
    for kind in ("registration", "settings"):
        entries = _object(_object(flows.get(kind)).get("after")).get("hooks")
        for index, entry in enumerate(entries if isinstance(entries, list) else []):
            if _object(entry).get("hook") == "web_hook" and _interrupts(_object(_object(entry).get("config"))):
                found.append(
                    f"selfservice.flows.{kind}.after.hooks[{index}] has no effect (as in Kratos, a web_hook "
                    f"that can interrupt runs in {kind} only from after.<method>.hooks, never the flow-wide list)"
                )
    return found


def _interrupts(config: dict[str, Any]) -> bool:
    """As services/selfservice/hooks/web_hook_calls.py reads a web hook's config."""
    response = _object(config.get("response"))
    return bool(config.get("can_interrupt") or response.get("parse")) and not response.get("ignore")


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _tracing(written: dict[str, Any]) -> list[str]:
    """`tracing` is one leaf of Kratos's schema (its shape is ory/x's), so the table cannot say that
    of its providers only `otel` is implemented: any other turns tracing off."""
    tracing = written.get("tracing")
    provider = tracing.get("provider") if isinstance(tracing, dict) else None
    if provider in (None, "", "otel"):
        return []
    return ["tracing.provider has no effect in Warden (only `otel`, over OTLP, is implemented: tracing is off)"]


def _same(value: Any, values: tuple[Any, ...]) -> bool:
    # By type as well: `1 == True` must not pass a number off as a switch.
    return any(type(value) is type(v) and value == v for v in values)

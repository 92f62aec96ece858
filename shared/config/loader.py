"""`load_settings`: config files, then the environment, then secrets, then validation.

Order, as in Kratos: files merge in the order given (mappings deep-merged, everything else replaced by
the later file), environment variables override them, and the result is validated as a whole
against Kratos's schema plus Warden's keys. Under the files lies a layer of defaults
(shared.config.defaults): with no file at all, a complete development config; with files, the
built-in UI's URLs and identity schema, so no browser is sent to Kratos's fallback pages, and in dev
mode the development database too, so a partial file works. Flow and method switches a file leaves
out keep Kratos's defaults even in dev mode: a kratos.yml run with `--dev` behaves as Kratos runs it. In dev mode and in that default the admin port, which has no authentication, listens
on 127.0.0.1 unless `serve.admin.host` says otherwise. Secret references are resolved before
validation, so length and format rules apply to the real values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from shared.config.defaults import (
    builtin_ui_config,
    dev_config,
    dev_database,
    has_secret,
    with_dev_secret,
    with_dev_sender,
    with_local_admin,
)
from shared.config.env import env_overrides
from shared.config.ignored_keys import ignored_key_warnings
from shared.config.locations import check_identity_schemas
from shared.config.schema import validate
from shared.config.secrets import resolve_secrets
from shared.config.settings import PUBLIC_PORT, Settings, build_settings, default_base_url
from shared.config.tree import deep_merge, read_config_file
from shared.errors import ConfigError

# Kratos's own floor for its secrets (`secrets.*` items: minLength 16).
MIN_SECRET_LENGTH = 16


def load_settings(config_paths: Sequence[Path], environ: Mapping[str, str], *, dev: bool = False) -> Settings:
    """Raises shared.errors.ConfigError, with a one-line message naming the key, on any problem."""
    paths = [Path(path) for path in config_paths]
    tree: dict[str, Any] = {}
    for path in paths:
        tree = deep_merge(tree, read_config_file(path))
    tree = deep_merge(tree, env_overrides(environ))
    ignored = ignored_key_warnings(tree)  # what the user wrote, before Warden's defaults go under it
    cwd = Path.cwd()
    dev = dev or tree.get("dev") is True
    if paths:
        tree = deep_merge(builtin_ui_config(_public_base_url(tree)), tree)
        if dev:
            tree = deep_merge(dev_database(cwd), tree)
    else:
        tree = deep_merge(dev_config(_public_base_url(tree), cwd, codes=dev or has_secret(tree)), tree)
    config_dir = paths[0].resolve().parent if paths else cwd
    if dev:
        tree = with_dev_sender(with_dev_secret(tree))
    if dev or not paths:
        tree = with_local_admin(tree)
    tree = resolve_secrets(tree, environ, config_dir)
    validate(tree)
    check_internal_token(tree)
    check_identity_schemas(tree, config_dir)
    return build_settings(tree, dev=dev, config_dir=config_dir, ignored_keys=ignored)


def _public_base_url(tree: dict[str, Any]) -> str:
    public = (tree.get("serve") or {}).get("public") or {}
    return public.get("base_url") or default_base_url(public.get("port", PUBLIC_PORT))


def check_internal_token(tree: dict[str, Any]) -> None:
    """`services.internal_token` guards the internal API (which issues sessions for any identity) and
    the gRPC port (which reads identities): a short one could be guessed by anyone who can reach them.
    Empty means none is set."""
    token = (tree.get("services") or {}).get("internal_token") or ""
    if 0 < len(token) < MIN_SECRET_LENGTH:
        raise ConfigError(f"config: services.internal_token: shorter than {MIN_SECRET_LENGTH} characters")

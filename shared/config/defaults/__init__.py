"""What Warden runs with when it is given no config file, and the dev-mode placeholder secret.

With no config file the tree is a complete development setup: a SQLite file in the working
directory, the built-in email + password identity schema shipped beside this module, and every
self-service UI URL pointing at the built-in UI under `<public base_url>ui/`, TOTP and backup codes
as second factors, and recovery and verification on with the code method: with no mail server configured the courier writes each
message to `./.warden/mail/`, so a laptop can walk every flow. The environment still overrides any
of it.

Cookie secrets are never generated at start-up (sessions would not survive a restart, and replicas
would disagree). In dev mode only, a fixed, public placeholder fills `secrets.cookie` when neither
`secrets.cookie` nor `secrets.default` is set; outside dev mode nothing is filled in, and the
features that sign cookies decide what an empty list means.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from shared.config.tree import MISSING, deep_merge, get_path

HERE = Path(__file__).parent
DEFAULT_IDENTITY_SCHEMA = HERE / "identity.default.schema.json"
DEV_DATABASE_FILE = "warden.sqlite"
# Public on purpose: anyone can forge cookies signed with it. Dev mode only.
DEV_COOKIE_SECRET = "WARDEN-DEV-ONLY-INSECURE-COOKIE-SECRET"
UI_PAGES = ("login", "registration", "settings", "recovery", "verification", "error")
# Development mails' sender: a name under .localhost (RFC 6761) reaches nobody and says where it is from.
DEV_SENDER = "no-reply@warden.localhost"


def builtin_ui_config(public_base_url: str) -> dict[str, Any]:
    """The layer under every config: each self-service UI URL on the built-in UI (`<public
    base_url>ui/`), its welcome page as the default return URL, and the built-in identity schema.
    Without it a config that names no UI URLs would send browsers to Kratos's fallback pages on
    ory.com. Any value a config file or the environment sets wins."""
    ui = public_base_url.rstrip("/") + "/ui/"
    flows: dict[str, Any] = {page: {"ui_url": ui + page} for page in UI_PAGES}
    return {
        "identity": {
            "default_schema_id": "default",
            "schemas": [{"id": "default", "url": f"file://{DEFAULT_IDENTITY_SCHEMA.resolve()}"}],
        },
        "selfservice": {"default_browser_return_url": ui + "welcome", "flows": flows},
    }


def dev_database(cwd: Path) -> dict[str, Any]:
    """The development database, a SQLite file in the working directory: under a `--dev` config file
    that names no `dsn` (Kratos's one required key a partial file would otherwise fail on). The
    path is escaped, as in any URL: a directory named `a#b?c` or `50%` stays that (shared/storage/dsn.py
    decodes it)."""
    return {"dsn": f"sqlite://{quote(str((cwd / DEV_DATABASE_FILE).resolve()))}?_fk=true"}


def dev_config(public_base_url: str, cwd: Path, *, codes: bool = True) -> dict[str, Any]:
    """The whole config used when no file is given; `public_base_url` locates the built-in UI.
    `codes` turns recovery, verification and backup codes on: they need a secret to protect their
    codes, which only dev mode's placeholder or a configured secret provides."""
    config = deep_merge(
        deep_merge(builtin_ui_config(public_base_url), dev_database(cwd)),
        {
            "courier": {"smtp": {"from_address": DEV_SENDER}},
            "selfservice": {
                "allowed_return_urls": [public_base_url],
                # The second factors too, so that a first run's settings page offers them.
                "methods": {
                    "password": {"enabled": True},
                    "code": {"enabled": True},
                    "totp": {"enabled": True, "config": {"issuer": "Warden"}},
                    "lookup_secret": {"enabled": True},
                },
                "flows": {
                    "registration": {"after": {"password": {"hooks": [{"hook": "session"}]}}},
                    "recovery": {"enabled": True, "use": "code"},
                    "verification": {"enabled": True, "use": "code"},
                    "logout": {"after": {"default_browser_return_url": public_base_url.rstrip("/") + "/ui/login"}},
                },
            },
        },
    )
    if not codes:
        for flow in ("recovery", "verification"):
            config["selfservice"]["flows"][flow]["enabled"] = False
        config["selfservice"]["methods"]["lookup_secret"]["enabled"] = False  # its codes are sealed too
    return config


def has_secret(tree: dict[str, Any]) -> bool:
    """Whether a cookie or default secret is configured."""
    return any(get_path(tree, ("secrets", kind)) not in (MISSING, None, []) for kind in ("cookie", "default"))


def with_dev_secret(tree: dict[str, Any]) -> dict[str, Any]:
    """`tree` with the placeholder cookie secret when no cookie or default secret is configured."""
    if has_secret(tree):
        return tree
    return deep_merge(tree, {"secrets": {"cookie": [DEV_COOKIE_SECRET]}})


def with_dev_sender(tree: dict[str, Any]) -> dict[str, Any]:
    """`tree` with development mails sent from DEV_SENDER unless `courier.smtp.from_address` is set
    (Kratos's own default, no-reply@ory.kratos.sh, is someone else's domain)."""
    if get_path(tree, ("courier", "smtp", "from_address")) not in (MISSING, None, ""):
        return tree
    return deep_merge(tree, {"courier": {"smtp": {"from_address": DEV_SENDER}}})


def with_local_admin(tree: dict[str, Any]) -> dict[str, Any]:
    """`tree` with the admin port on 127.0.0.1 when `serve.admin.host` is not set: the admin API has
    no authentication, so a laptop's must not be reachable from the network by default."""
    if get_path(tree, ("serve", "admin", "host")) not in (MISSING, None):
        return tree
    return deep_merge(tree, {"serve": {"admin": {"host": "127.0.0.1"}}})

"""Warden's configuration: Kratos's `kratos.yml` keys plus Warden's own (`bus`, `cache`, `services`).

    settings = load_settings([Path("kratos.yml")], os.environ, dev=False)

Everything is read once, by `load_settings`, from the files and the mapping it is given; nothing is
global. See `loader` for the order of layers, `defaults` for what runs with no config file,
`secrets` for `env://` and `file://` references and `locations` for identity schema URLs.
"""

from shared.config.loader import load_settings
from shared.config.locations import read_schema_document, resolve_schema_location
from shared.config.settings import Settings

__all__ = ["Settings", "load_settings", "read_schema_document", "resolve_schema_location"]

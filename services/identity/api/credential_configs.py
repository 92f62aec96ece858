"""The credential configs an import carries (create, full update, batch), typed as Kratos binds
them into Go structs (its `AdminIdentityImportCredentials*` types): a string where a string is
meant, a boolean where a boolean is, a list of objects where a list of objects is. Kratos answers
anything else with a 400; stored as given, a number for a password was hashed as its digits, a
number for a social subject made an identifier no sign-in could ever match, and a string "false"
made a security key passwordless.

Only the types are checked here, at the edge: the values are stored as they were given (fields
these models do not name included), and what the types alone do not say (a hash format, a provider
and subject both set) is `services.identity.credentials`'s to check."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, ValidationError

from services.identity.domain import CredentialType
from services.identity.errors import MalformedBody


def _uuid(value: str) -> str:
    UUID(value)  # ValueError: not a UUID
    return value


def _timestamp(value: str) -> str:
    datetime.fromisoformat(value)  # ValueError: not a date and time
    return value


def _bytes(value: Any) -> Any:
    """Go's []byte: base64 text (as Warden stores it, in base64url) or, as api.json describes it and
    Go decodes it too, an array of byte values."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(type(b) is int and 0 <= b <= 255 for b in value):
        return value
    raise ValueError("must be base64 text or an array of byte values")


UuidText = Annotated[StrictStr, AfterValidator(_uuid)]
Timestamp = Annotated[StrictStr, AfterValidator(_timestamp)]
Bytes = Annotated[Any, AfterValidator(_bytes)]


class _Config(BaseModel):
    model_config = ConfigDict(extra="allow")


class PasswordConfig(_Config):
    password: StrictStr | None = None
    hashed_password: StrictStr | None = None
    use_password_migration_hook: StrictBool | None = None


class FederatedProvider(_Config):
    provider: StrictStr
    subject: StrictStr
    use_auto_link: StrictBool | None = None
    organization: UuidText | None = None


class FederatedConfig(_Config):
    providers: list[FederatedProvider] | None = None


class TotpConfig(_Config):
    totp_url: StrictStr | None = None


class LookupCode(_Config):
    code: StrictStr | None = None
    used_at: Timestamp | None = None


class LookupSecretConfig(_Config):
    codes: list[LookupCode] | None = None


class Authenticator(_Config):
    aaguid: Bytes | None = None
    sign_count: Annotated[StrictInt, Field(ge=0, le=2**32 - 1)] | None = None  # Go's uint32
    clone_warning: StrictBool | None = None


class SecurityKey(_Config):
    """One key of a WebAuthn or passkey credential."""

    id: Bytes | None = None
    public_key: Bytes | None = None
    display_name: StrictStr | None = None
    is_passwordless: StrictBool | None = None
    authenticator: Authenticator | None = None


class SecurityKeysConfig(_Config):
    credentials: list[SecurityKey] | None = None
    user_handle: Bytes | None = None


CONFIGS: dict[str, type[_Config]] = {
    CredentialType.PASSWORD: PasswordConfig,
    CredentialType.OIDC: FederatedConfig,
    CredentialType.SAML: FederatedConfig,
    CredentialType.TOTP: TotpConfig,
    CredentialType.LOOKUP_SECRET: LookupSecretConfig,
    CredentialType.WEBAUTHN: SecurityKeysConfig,
    CredentialType.PASSKEY: SecurityKeysConfig,
}


def check_types(kind: str, config: dict[str, Any] | None) -> None:
    """MalformedBody naming the first field of `credentials.<kind>.config` of the wrong type. A
    type Warden does not import is `import_credentials`'s to refuse."""
    model = CONFIGS.get(kind)
    if model is None or config is None:
        return
    try:
        model.model_validate(config)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(["credentials", kind, "config", *(str(p) for p in first["loc"])])
        raise MalformedBody(f"{where}: {first['msg']}") from exc

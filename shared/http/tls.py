"""HTTPS on the public and admin ports: Kratos's `serve.<port>.tls` (`cert` and `key`, each as a
`path` to a PEM file or as the `base64` of one).

With neither set a port serves plain HTTP, as in Kratos. Kratos also serves plain HTTP, saying so
only in an info line, when the pair is half given (a cert without a key) or given in two forms (the
cert by path, the key in base64); an operator who set either believes the port encrypted. Warden
stops at start-up on a half-given pair, with one line naming what is missing, and serves a pair
given in two forms as given. When one half is given in both forms, `base64` wins (as in Kratos when
both pairs are complete).

Everything is checked before the port opens, so that start-up stops with one line naming the
setting: a file that cannot be read, a PEM that holds no certificate or no key, a key that is
encrypted (Kratos cannot read one either; OpenSSL would otherwise ask for its password on the
terminal), a key that does not belong to the certificate. No message carries key material.

The server context is Python's modern one: TLS 1.2 and later, no compression, no renegotiation,
OpenSSL's default ciphers. It offers HTTP/1.1 only in ALPN (Kratos's Go server offers h2 too; aiohttp
speaks HTTP/1.1, and a client that asks for h2 falls back to it). Plain HTTP sent to a TLS port
fails the handshake and the connection closes: no redirect to HTTPS, as in Kratos.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import ssl
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from shared.errors import ConfigError

PORTS = ("public", "admin")


@dataclass(frozen=True)
class PemSource:
    """Where one half (the certificate or the key) comes from: `setting` names it in messages."""

    setting: str  # serve.public.tls.cert
    path: str = ""
    base64: str = ""

    @property
    def given(self) -> bool:
        return bool(self.path or self.base64)

    @property
    def used(self) -> str:
        """The setting the PEM is read from: `.base64` wins when both are set."""
        return f"{self.setting}.{'base64' if self.base64 else 'path'}"


@dataclass(frozen=True)
class TlsPair:
    cert: PemSource
    key: PemSource

    @classmethod
    def from_settings(cls, settings: Any, port: str) -> TlsPair | None:
        """The port's certificate and key, or None when neither is given (plain HTTP)."""
        cert, key = (_source(settings, f"serve.{port}.tls.{half}") for half in ("cert", "key"))
        if not cert.given and not key.given:
            return None
        if not (cert.given and key.given):
            missing, given = ("key", "cert") if cert.given else ("cert", "key")
            raise ConfigError(
                f"config: serve.{port}.tls: {given} is set but {missing} is not; "
                f"give both (each as path or base64), or neither for plain HTTP"
            )
        return cls(cert, key)

    def certificate_pem(self) -> str:
        """The certificate (chain) as PEM, checked and without the text around it: what clients of
        this port may be told to trust."""
        certificates = _certificates(_read(self.cert), self.cert)
        return "".join(c.public_bytes(serialization.Encoding.PEM).decode("ascii") for c in certificates)

    def server_context(self) -> ssl.SSLContext:
        """A server context holding the pair, after checking that each half reads and that they match."""
        cert_pem, key_pem = _read(self.cert), _read(self.key)
        _check_pair(self, cert_pem, key_pem)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION
        context.set_alpn_protocols(["http/1.1"])
        with _files(self, cert_pem, key_pem) as (cert_file, key_file):
            try:
                context.load_cert_chain(cert_file, key_file, password=_no_password)
            except ssl.SSLError as exc:  # e.g. a key too small for OpenSSL's security level
                prefix = self.cert.setting.removesuffix(".cert")
                reason = exc.reason or "refused"
                raise ConfigError(f"config: {prefix}: OpenSSL refused the certificate and key ({reason})") from None
        return context


def internal_client_context(settings: Any) -> ssl.SSLContext | None:
    """What the internal clients trust when the admin port (which serves `/internal/`) has TLS: the
    system's CAs, and the certificate this process serves there, since the processes of one
    deployment usually share one config and so one certificate (a private CA, or a self-signed one,
    then needs no other setting). None (aiohttp's default verification) when the admin port has none."""
    pair = TlsPair.from_settings(settings, "admin")
    if pair is None:
        return None
    context = ssl.create_default_context()
    context.load_verify_locations(cadata=pair.certificate_pem())
    # The served certificate itself is a trust anchor, even when a CA that is not here issued it.
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    return context


def tls_warnings(settings: Any) -> list[str]:
    """Start-up warnings about URLs that still say `http://` for a port that now serves HTTPS: the
    links and redirects Warden sends, or the internal calls another process makes, would fail."""
    warnings = []
    https = {port for port in PORTS if TlsPair.from_settings(settings, port) is not None}
    for port in sorted(https):
        base_url = getattr(settings.serve, port).base_url
        if base_url.startswith("http://"):
            given = settings.get(f"serve.{port}.base_url") == base_url
            warnings.append(
                f"serve.{port}.base_url {'is' if given else 'is not set; its default is'} {base_url} while "
                f"serve.{port}.tls makes the port HTTPS: the links and redirects that use it point at plain HTTP"
            )
    if "admin" in https:
        for name, override in sorted(settings.services.items()):
            if (override.internal_url or "").startswith("http://"):
                warnings.append(
                    f"services.{name}.internal_url is {override.internal_url} while serve.admin.tls makes "
                    "the admin port, which serves the internal API, HTTPS"
                )
    return warnings


def _source(settings: Any, setting: str) -> PemSource:
    section = settings.get(setting) or {}
    return PemSource(setting, path=str(section.get("path") or ""), base64=str(section.get("base64") or ""))


def _read(source: PemSource) -> bytes:
    if source.base64:
        try:  # `base64` wraps its output at 76 columns: line breaks are not part of the value
            return base64.b64decode("".join(source.base64.split()), validate=True)
        except (binascii.Error, ValueError):
            raise ConfigError(f"config: {source.used}: not valid base64") from None
    try:
        return Path(source.path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"config: {source.used}: cannot read {source.path}: {exc.strerror}") from None


def _certificates(pem: bytes, source: PemSource) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(pem)
    except ValueError:
        raise ConfigError(f"config: {source.used}: holds no PEM certificate") from None


def _check_pair(pair: TlsPair, cert_pem: bytes, key_pem: bytes) -> None:
    leaf = _certificates(cert_pem, pair.cert)[0]
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except TypeError:  # it is encrypted: say so without a word of what the PEM holds
        raise ConfigError(f"config: {pair.key.used}: the private key is encrypted; give it unencrypted") from None
    except (ValueError, UnsupportedAlgorithm):
        raise ConfigError(f"config: {pair.key.used}: holds no PEM private key") from None
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(*spki) != leaf.public_key().public_bytes(*spki):
        raise ConfigError(
            f"config: {pair.key.setting.removesuffix('.key')}: the key does not belong to the certificate "
            f"({pair.cert.used}, {pair.key.used})"
        )


@contextlib.contextmanager
def _files(pair: TlsPair, cert_pem: bytes, key_pem: bytes) -> Iterator[tuple[str, str]]:
    """Files OpenSSL can load the pair from: the configured paths, or, for a half given in base64, a
    file in a directory only this user may enter, removed as soon as it is loaded (Python's ssl
    loads a certificate and key from files only)."""
    with tempfile.TemporaryDirectory(prefix="warden-tls-") as directory:  # mode 0700
        files = []
        for source, pem in ((pair.cert, cert_pem), (pair.key, key_pem)):
            if not source.base64:
                files.append(source.path)
                continue
            name = os.path.join(directory, source.setting.rsplit(".", 1)[-1] + ".pem")
            descriptor = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "wb") as file:
                file.write(pem)
            files.append(name)
        yield files[0], files[1]


def _no_password() -> bytes:
    """Never let OpenSSL prompt for a pass phrase on the terminal (the key was checked unencrypted)."""
    raise ConfigError("config: the TLS private key asks for a password")

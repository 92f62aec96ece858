"""`serve.<port>.tls` read from a config: which pair a port serves, and the one line start-up stops
with when a half is missing, unreadable, not PEM, encrypted or not the other half's match; never a
byte of the key in it."""

from __future__ import annotations

import base64
import ssl
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from shared.config import Settings
from shared.errors import ConfigError
from shared.http.tls import TlsPair, internal_client_context, tls_warnings
from tests.certificates import ServerPair, handshake, self_signed_pair
from tests.unit.test_config import load


def _b64(pem: bytes) -> str:
    return base64.b64encode(pem).decode()


def _files(pair: ServerPair) -> dict[str, Any]:
    return {"cert": {"path": str(pair.cert_path)}, "key": {"path": str(pair.key_path)}}


def _settings(tmp_path: Path, port: str, tls: dict[str, Any], environ: dict[str, str] | None = None) -> Settings:
    return load(tmp_path, {"serve": {port: {"tls": tls}}}, environ)


def _refusal(tmp_path: Path, port: str, tls: dict[str, Any]) -> str:
    settings = _settings(tmp_path, port, tls)
    with pytest.raises(ConfigError) as caught:
        pair = TlsPair.from_settings(settings, port)
        assert pair is not None
        pair.server_context()
    return str(caught.value)


def _key_lines(pem: bytes) -> list[str]:
    """The lines of a PEM key that are key material (not the BEGIN/END armour)."""
    return [line for line in pem.decode().splitlines() if line and not line.startswith("-----")]


def test_no_tls_section_means_plain_http(tmp_path: Path) -> None:
    settings = load(tmp_path)
    assert TlsPair.from_settings(settings, "public") is None and TlsPair.from_settings(settings, "admin") is None
    assert TlsPair.from_settings(_settings(tmp_path, "public", {"cert": {}, "key": {}}), "public") is None


@pytest.mark.parametrize(
    ("tls", "given", "missing"),
    [
        ({"cert": {"path": "/etc/tls/cert.pem"}}, "cert", "key"),
        ({"key": {"base64": "AAAA"}}, "key", "cert"),
        ({"cert": {"path": "/etc/tls/cert.pem"}, "key": {"path": ""}}, "cert", "key"),
    ],
)
def test_half_a_pair_stops_start_up_rather_than_serving_plain_http(
    tmp_path: Path, tls: dict[str, Any], given: str, missing: str
) -> None:
    message = _refusal(tmp_path, "admin", tls)
    assert message.startswith(f"config: serve.admin.tls: {given} is set but {missing} is not")


def test_an_unreadable_file_is_named_with_its_setting(tmp_path: Path) -> None:
    pair = self_signed_pair(tmp_path)
    tls = {"cert": {"path": str(pair.cert_path)}, "key": {"path": str(tmp_path / "missing.key")}}
    message = _refusal(tmp_path, "public", tls)
    assert (
        message
        == f"config: serve.public.tls.key.path: cannot read {tmp_path / 'missing.key'}: No such file or directory"
    )


def test_a_key_of_another_certificate_is_refused_without_a_byte_of_either_key(tmp_path: Path) -> None:
    ours, other = self_signed_pair(tmp_path, "ours"), self_signed_pair(tmp_path, "other")
    tls = {"cert": {"path": str(ours.cert_path)}, "key": {"base64": _b64(other.key_pem)}}
    message = _refusal(tmp_path, "public", tls)
    assert message.startswith("config: serve.public.tls: the key does not belong to the certificate")
    assert "serve.public.tls.key.base64" in message
    for line in _key_lines(other.key_pem) + _key_lines(ours.key_pem) + [_b64(other.key_pem)[:40]]:
        assert line not in message


@pytest.mark.parametrize(
    ("tls", "message"),
    [
        ({"cert": {"base64": "not base64!"}}, "config: serve.public.tls.cert.base64: not valid base64"),
        (
            {"cert": {"base64": _b64(b"no certificate here")}},
            "config: serve.public.tls.cert.base64: holds no PEM certificate",
        ),
    ],
)
def test_a_certificate_that_is_no_certificate_is_named(tmp_path: Path, tls: dict[str, Any], message: str) -> None:
    pair = self_signed_pair(tmp_path)
    assert _refusal(tmp_path, "public", {**tls, "key": {"path": str(pair.key_path)}}) == message


def test_a_key_that_is_no_key_or_is_encrypted_is_named(tmp_path: Path) -> None:
    pair = self_signed_pair(tmp_path)
    not_a_key = pair.key_path.with_name("broken.key")
    not_a_key.write_bytes(pair.key_pem.replace(b"PRIVATE KEY", b"PUBLIC KEY"))
    message = _refusal(tmp_path, "public", {"cert": {"path": str(pair.cert_path)}, "key": {"path": str(not_a_key)}})
    assert message == "config: serve.public.tls.key.path: holds no PEM private key"
    for line in _key_lines(pair.key_pem):
        assert line not in message

    key = serialization.load_pem_private_key(pair.key_pem, password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    encrypted = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"a pass phrase"),
    )
    message = _refusal(tmp_path, "public", {"cert": {"path": str(pair.cert_path)}, "key": {"base64": _b64(encrypted)}})
    assert message == "config: serve.public.tls.key.base64: the private key is encrypted; give it unencrypted"


def test_base64_wins_over_a_path_given_beside_it_and_line_breaks_are_allowed(tmp_path: Path) -> None:
    pair = self_signed_pair(tmp_path)
    wrapped = "\n".join(_b64(pair.cert_pem)[i : i + 76] for i in range(0, len(_b64(pair.cert_pem)), 76))
    tls = {
        "cert": {"path": str(tmp_path / "nowhere.crt"), "base64": wrapped},  # the path would fail
        "key": {"path": str(pair.key_path)},
    }
    found = TlsPair.from_settings(_settings(tmp_path, "public", tls), "public")
    assert found is not None
    context = found.server_context()
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert context.options & ssl.OP_NO_COMPRESSION


def test_the_inline_key_may_come_from_the_environment_like_other_secrets(tmp_path: Path) -> None:
    pair = self_signed_pair(tmp_path)
    tls = {"cert": {"path": str(pair.cert_path)}, "key": {"base64": "env://WARDEN_TLS_KEY"}}
    found = TlsPair.from_settings(_settings(tmp_path, "admin", tls, {"WARDEN_TLS_KEY": _b64(pair.key_pem)}), "admin")
    assert found is not None and found.server_context()


def test_http_urls_that_point_at_an_https_port_are_warned_about(tmp_path: Path) -> None:
    pair = self_signed_pair(tmp_path)
    public: dict[str, Any] = {"base_url": "http://id.example/", "tls": _files(pair)}
    admin: dict[str, Any] = {"port": 4434, "tls": _files(pair)}
    identity = {"internal_url": "http://identity:4434"}
    config = {"serve": {"public": public, "admin": admin}, "services": {"identity": identity}}
    assert tls_warnings(load(tmp_path, config)) == [
        "serve.admin.base_url is not set; its default is http://127.0.0.1:4434/ while serve.admin.tls makes the "
        "port HTTPS: the links and redirects that use it point at plain HTTP",
        "serve.public.base_url is http://id.example/ while serve.public.tls makes the port HTTPS: the links and "
        "redirects that use it point at plain HTTP",
        "services.identity.internal_url is http://identity:4434 while serve.admin.tls makes the admin port, which "
        "serves the internal API, HTTPS",
    ]
    public["base_url"], admin["base_url"] = "https://id.example/", "https://admin.example/"
    identity["internal_url"] = "https://identity:4434"
    assert tls_warnings(load(tmp_path, config)) == []
    assert tls_warnings(load(tmp_path)) == []


def test_internal_calls_trust_the_admin_certificate_this_process_serves(tmp_path: Path) -> None:
    pair = self_signed_pair(tmp_path)
    assert internal_client_context(load(tmp_path)) is None  # no TLS: aiohttp's default verification
    context = internal_client_context(_settings(tmp_path, "admin", _files(pair)))
    assert context is not None and context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    served = TlsPair.from_settings(_settings(tmp_path, "admin", _files(pair)), "admin")
    assert served is not None
    assert handshake(served.server_context(), context).subject.rfc4514_string() == "CN=server"
    trusting_another = internal_client_context(_settings(tmp_path, "admin", _files(self_signed_pair(tmp_path, "x"))))
    assert trusting_another is not None
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(served.server_context(), trusting_another)

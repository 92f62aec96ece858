"""Throwaway certificates for tests that speak TLS: a CA, certificates it signs, self-signed ones,
written as PEM files where a config can name them."""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

# The names a server certificate answers to: what tests dial.
LOCAL_NAMES = ("localhost", "127.0.0.1")


def pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def certificate(
    name: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[str, ec.EllipticCurvePrivateKey] | None,
    *,
    ca: bool,
    names: tuple[str, ...] = ("localhost",),
) -> x509.Certificate:
    """A certificate for `key`, signed by `issuer` (a name and its key) or by itself; a server
    certificate (not `ca`) answers to `names` (DNS names or IP addresses)."""
    now = datetime.datetime.now(datetime.UTC)
    issuer_name, issuer_key = issuer or (name, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(x509.SubjectAlternativeName([_general_name(n) for n in names]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


@dataclass(frozen=True)
class ServerPair:
    """A self-signed server certificate and its key, as PEM and as files."""

    cert_pem: bytes
    key_pem: bytes
    cert_path: Path
    key_path: Path


def self_signed_pair(directory: Path, name: str = "server", names: tuple[str, ...] = LOCAL_NAMES) -> ServerPair:
    """A fresh key and a self-signed certificate for `names`, written to `<name>.crt` and `<name>.key`."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert_pem = certificate(name, key, None, ca=False, names=names).public_bytes(serialization.Encoding.PEM)
    cert_path, key_path = directory / f"{name}.crt", directory / f"{name}.key"
    cert_path.write_bytes(cert_pem)
    key_path.write_bytes(pem_key(key))
    return ServerPair(cert_pem, pem_key(key), cert_path, key_path)


def handshake(
    server: ssl.SSLContext, client: ssl.SSLContext, server_name: str | None = "localhost"
) -> x509.Certificate:
    """A TLS handshake between two contexts in memory, no socket: the certificate the client was
    shown (it raises `ssl.SSLError` when either side refuses)."""
    client_in, client_out, server_in, server_out = (ssl.MemoryBIO() for _ in range(4))
    ours = client.wrap_bio(client_in, client_out, server_hostname=server_name)
    theirs = server.wrap_bio(server_in, server_out, server_side=True)
    for _ in range(8):  # TLS 1.3 needs two round trips; 1.2 three
        for side, sent, received in ((ours, client_out, server_in), (theirs, server_out, client_in)):
            with contextlib.suppress(ssl.SSLWantReadError):
                side.do_handshake()
            received.write(sent.read())
    seen = ours.getpeercert(binary_form=True)
    assert seen is not None, "the handshake did not finish"
    return x509.load_der_x509_certificate(seen)


def trusting(pair: ServerPair) -> ssl.SSLContext:
    """A client context that trusts `pair`'s certificate and nothing else."""
    return ssl.create_default_context(cadata=pair.cert_pem.decode("ascii"))

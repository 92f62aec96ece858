"""`serve.grpc.auth: mtls`: the gRPC port speaks TLS and takes only clients whose certificate the
configured CA signed; no internal token is needed then, and none is enough without a certificate."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from shared.grpc.gen.warden.session.v1 import session_pb2, session_pb2_grpc
from tests.certificates import certificate, pem_key
from tests.factories import running_warden, settings_for
from tests.gateway_helpers import INTERNAL_TOKEN, create_identity, gateway_config, sign_in


def _pair(directory: Path, name: str, issuer: tuple[str, ec.EllipticCurvePrivateKey]) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = certificate(name, key, issuer, ca=False).public_bytes(serialization.Encoding.PEM)
    (directory / f"{name}.key").write_bytes(pem_key(key))
    (directory / f"{name}.crt").write_bytes(cert)
    return pem_key(key), cert


def test_mtls_takes_certified_clients_only(tmp_path: Path) -> None:
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = certificate("warden-test-ca", ca_key, None, ca=True).public_bytes(serialization.Encoding.PEM)
    (tmp_path / "ca.crt").write_bytes(ca)
    _pair(tmp_path, "server", ("warden-test-ca", ca_key))
    client_key, client_cert = _pair(tmp_path, "client", ("warden-test-ca", ca_key))
    rogue_key = ec.generate_private_key(ec.SECP256R1())
    rogue = certificate("rogue", rogue_key, None, ca=False).public_bytes(serialization.Encoding.PEM)

    tls = {
        "cert": str(tmp_path / "server.crt"),
        "key": str(tmp_path / "server.key"),
        "client_ca": str(tmp_path / "ca.crt"),
    }
    config = gateway_config(serve={"grpc": {"auth": "mtls", "tls": tls}})
    with running_warden(settings_for(tmp_path, f"sqlite:///{tmp_path}/db.sqlite", config)) as warden:
        token, session = sign_in(warden.admin_url, create_identity(warden.admin_url))
        address = f"localhost:{warden.process.grpc_port}"
        request = session_pb2.CheckRequest(token=token)

        trusted = grpc.ssl_channel_credentials(ca, client_key, client_cert)
        with grpc.secure_channel(address, trusted) as channel:
            answer = session_pb2_grpc.SessionServiceStub(channel).Check(request, timeout=10)  # no token needed
            assert answer.session.id == session["id"]

        for credentials in (
            grpc.ssl_channel_credentials(ca),
            grpc.ssl_channel_credentials(ca, pem_key(rogue_key), rogue),
        ):
            with grpc.secure_channel(address, credentials) as channel:
                with pytest.raises(grpc.RpcError) as refused:
                    session_pb2_grpc.SessionServiceStub(channel).Check(
                        request, metadata=(("authorization", f"Bearer {INTERNAL_TOKEN}"),), timeout=10
                    )
                assert refused.value.code() == grpc.StatusCode.UNAVAILABLE  # the handshake fails

        with grpc.insecure_channel(address) as channel:
            with pytest.raises(grpc.RpcError):
                session_pb2_grpc.SessionServiceStub(channel).Check(request, timeout=10)

"""A certificate renewed in its files is what new handshakes see, without a restart; files that do not
load leave the previous certificate in service and are said once in the log."""

from __future__ import annotations

import base64
import logging
import shutil
from pathlib import Path

import pytest

from shared.http.tls import PemSource, TlsPair
from shared.http.tls_reload import ReloadingContext
from tests.certificates import ServerPair, handshake, self_signed_pair, trusting


def _pair_from(files: ServerPair) -> TlsPair:
    return TlsPair(
        PemSource("serve.public.tls.cert", path=str(files.cert_path)),
        PemSource("serve.public.tls.key", path=str(files.key_path)),
    )


def _replace(served: ServerPair, renewed: ServerPair) -> None:
    shutil.copyfile(renewed.cert_path, served.cert_path)
    shutil.copyfile(renewed.key_path, served.key_path)


def test_new_handshakes_get_the_renewed_certificate(tmp_path: Path) -> None:
    served, renewed = self_signed_pair(tmp_path, "served"), self_signed_pair(tmp_path, "renewed")
    tls = ReloadingContext(_pair_from(served))
    assert handshake(tls.listener, trusting(served)).subject.rfc4514_string() == "CN=served"
    assert tls.reload_if_changed() is False  # nothing changed

    _replace(served, renewed)
    assert tls.reload_if_changed() is True
    for name in ("localhost", None):  # with and without SNI
        assert handshake(tls.listener, trusting(renewed), name).subject.rfc4514_string() == "CN=renewed"


def test_files_that_do_not_load_leave_the_previous_certificate_served(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    served, renewed = self_signed_pair(tmp_path, "served"), self_signed_pair(tmp_path, "renewed")
    tls = ReloadingContext(_pair_from(served))
    shutil.copyfile(renewed.cert_path, served.cert_path)  # the certificate is written before its key
    with caplog.at_level(logging.ERROR, logger="shared.http.tls_reload"):
        assert tls.reload_if_changed() is False
        assert tls.reload_if_changed() is False  # the same files: not said again
    assert [r.getMessage() for r in caplog.records] == [
        "serve.public.tls: the key does not belong to the certificate (serve.public.tls.cert.path, "
        "serve.public.tls.key.path); serving the previous certificate until the files load"
    ]
    assert handshake(tls.listener, trusting(served)).subject.rfc4514_string() == "CN=served"

    shutil.copyfile(renewed.key_path, served.key_path)  # and then the key
    assert tls.reload_if_changed() is True
    assert handshake(tls.listener, trusting(renewed)).subject.rfc4514_string() == "CN=renewed"


def test_a_pair_given_inline_is_not_watched(tmp_path: Path) -> None:
    files = self_signed_pair(tmp_path)
    inline = TlsPair(
        PemSource("serve.admin.tls.cert", base64=base64.b64encode(files.cert_pem).decode()),
        PemSource("serve.admin.tls.key", base64=base64.b64encode(files.key_pem).decode()),
    )
    assert ReloadingContext(inline).watched is False
    assert ReloadingContext(_pair_from(files)).watched is True

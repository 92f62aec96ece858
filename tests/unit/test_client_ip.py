"""Finding 14: who the client is, from the socket's peer and X-Forwarded-For."""

from __future__ import annotations

import socket
from unittest.mock import Mock

from aiohttp.test_utils import make_mocked_request
from multidict import CIMultiDict

from shared.http.client_ip import TrustedProxies


def _request(peer: str, forwarded: list[str], family: socket.AddressFamily = socket.AF_INET):  # type: ignore[no-untyped-def]
    headers = CIMultiDict(("X-Forwarded-For", value) for value in forwarded)
    extra = {"peername": (peer, 40000) if family != socket.AF_UNIX else peer, "socket": Mock(family=family)}
    transport = Mock()
    transport.get_extra_info.side_effect = lambda name, default=None: extra.get(name, default)
    return make_mocked_request("GET", "/", headers=headers, transport=transport)


def test_finding_14_the_header_is_ignored_unless_the_peer_is_a_trusted_proxy() -> None:
    assert TrustedProxies().client_of(_request("198.51.100.1", ["1.2.3.4"])) == "198.51.100.1"
    assert TrustedProxies(["10.0.0.0/8"]).client_of(_request("198.51.100.1", ["1.2.3.4"])) == "198.51.100.1"


def test_finding_14_the_client_is_the_last_address_no_trusted_proxy_added() -> None:
    proxies = TrustedProxies(["10.0.0.0/8", "127.0.0.1"])
    # The client claimed 1.2.3.4; the edge proxy saw 203.0.113.9; an inner proxy 10.1.1.1 forwarded it.
    assert proxies.client_of(_request("127.0.0.1", ["1.2.3.4, 203.0.113.9", "10.1.1.1"])) == "203.0.113.9"
    assert proxies.client_of(_request("10.2.2.2", ["garbage"])) == "10.2.2.2", "not an address: the peer"
    assert proxies.client_of(_request("10.2.2.2", [])) == "10.2.2.2"
    assert proxies.client_of(_request("10.2.2.2", ["2001:db8::1"])) == "2001:db8::1"


def test_a_unix_socket_peer_is_the_trusted_proxy_the_file_let_in() -> None:
    unix = socket.AF_UNIX
    assert TrustedProxies().client_of(_request("", ["1.2.3.4, 203.0.113.9"], unix)) == "203.0.113.9"
    assert TrustedProxies(["10.0.0.0/8"]).client_of(_request("", ["203.0.113.9, 10.1.1.1"], unix)) == "203.0.113.9"
    assert TrustedProxies().client_of(_request("", [], unix)) == "", "no header: no address, as before"
    assert TrustedProxies().client_of(_request("", ["garbage"], unix)) == ""

"""The suite runs offline: tests/conftest.py blocks every non-loopback connection."""
from __future__ import annotations

import socket
import urllib.request

import pytest


def _blocked() -> type[BaseException]:
    """The guard's exception class (conftest.NetworkBlocked, a RuntimeError).

    Found through the patched function rather than ``import conftest``, which depends on
    pytest's import mode.
    """
    try:
        socket.getaddrinfo("guard-probe.invalid", 80)
    except RuntimeError as e:
        assert type(e).__name__ == "NetworkBlocked", type(e)
        return type(e)
    raise AssertionError("the network guard of tests/conftest.py is not installed")


def test_dns_lookup_is_blocked():
    with pytest.raises(_blocked(), match="resolve"):
        socket.getaddrinfo("pypi.org", 443)


def test_tcp_connect_to_a_public_address_is_blocked():
    # 192.0.2.0/24 is TEST-NET-1 (RFC 5737): never routed, so nothing is sent even if the
    # guard were missing; the guard must refuse before the kernel is asked.
    with pytest.raises(_blocked(), match="connect"):
        socket.create_connection(("192.0.2.1", 80), timeout=0.5)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        with pytest.raises(_blocked()):
            s.connect(("192.0.2.1", 80))
        with pytest.raises(_blocked()):
            s.connect_ex(("192.0.2.1", 80))
    finally:
        s.close()


def test_http_request_is_blocked():
    with pytest.raises((_blocked(), OSError)) as info:
        urllib.request.urlopen("http://example.com", timeout=1)
    # urllib wraps the guard's error in URLError; the cause is still the guard.
    err = info.value
    assert isinstance(err, _blocked()) or isinstance(getattr(err, "reason", None), _blocked())


def test_loopback_stays_open():
    """torch.distributed (gloo) tests talk over 127.0.0.1; the guard must let them."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    try:
        client = socket.create_connection(server.getsockname(), timeout=2)
        conn, _ = server.accept()
        client.sendall(b"ping")
        assert conn.recv(4) == b"ping"
        conn.close()
        client.close()
        assert socket.getaddrinfo("localhost", 80)
    finally:
        server.close()

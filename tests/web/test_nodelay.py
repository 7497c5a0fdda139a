"""TCP_NODELAY on the listening sockets, handed on to accepted connections (no timing here:
bench/api.py measures the 40 ms it saves per keep-alive answer)."""

from __future__ import annotations

import socket
import sys

import pytest

from lib.web import nodelay

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/self/fd")


def test_a_listening_socket_made_as_streamlit_makes_it_gets_nodelay_and_hands_it_on() -> None:
    listener = socket.socket(family=socket.AF_INET)  # protocol 0: asyncio would skip it
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    client = socket.create_connection(listener.getsockname())
    try:
        assert listener.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0
        assert nodelay.on_listening_sockets() >= 1
        assert listener.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        other = socket.create_connection(listener.getsockname())
        early, later = (listener.accept()[0] for _ in range(2))
        # a connection made after: Linux copies the option into it (one made before, at its
        # handshake, keeps what the listener had then)
        assert later.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        for c in (early, later, other):
            c.close()
    finally:
        client.close()
        listener.close()


def test_connected_and_closed_sockets_are_left_alone() -> None:
    a, b = socket.socketpair()  # Unix sockets: not TCP
    try:
        before = nodelay.on_listening_sockets()
        assert before >= 0 and a.fileno() >= 0  # still open, untouched
    finally:
        a.close()
        b.close()

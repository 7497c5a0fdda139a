"""TCP_NODELAY on the server's connections (Streamlit 1.67 leaves Nagle's algorithm on).

Streamlit's Starlette server binds its listening socket itself, as ``socket.socket(family)``:
protocol 0, not ``IPPROTO_TCP``, so asyncio's check (``base_events._set_nodelay``) never turns
Nagle off on accepted connections. uvicorn writes a response's headers and body in two
writes; with Nagle on, the body waits for the client's ACK of the headers, which Linux delays
up to 40 ms. So every answer on a reused (keep-alive) connection took ~44 ms, ``/healthz``
and Streamlit's own ``/_stcore/health`` included (2.4 ms on a new connection): a browser
loading 24 thumbnails, or a script polling the API, waited 40 ms per response for nothing.

:func:`on_listening_sockets` sets the option on the process's listening TCP sockets;
Linux hands it on to every connection they accept. serve.py
calls it from the app's lifespan, once the server is listening. Nothing else changes; where
no listening socket is found, it does nothing and says so in the log.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket

log = logging.getLogger(__name__)


def on_listening_sockets() -> int:
    """Set TCP_NODELAY on every listening TCP socket of this process (found through
    ``/proc/self/fd``, so Linux only); returns how many."""
    done = 0
    with contextlib.suppress(OSError):
        fds = [int(name) for name in os.listdir("/proc/self/fd")]
        for fd in fds:
            with contextlib.suppress(OSError):
                # a duplicate of the descriptor: its options are the socket's own
                sock = socket.socket(fileno=os.dup(fd))
                try:
                    listening = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
                    if listening and sock.family in (socket.AF_INET, socket.AF_INET6) \
                            and sock.type == socket.SOCK_STREAM:
                        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                        done += 1
                finally:
                    sock.close()
    if not done:
        log.warning("no listening socket found to set TCP_NODELAY on; keep-alive answers "
                    "may wait up to 40 ms (Nagle and delayed ACK)")
    return done

"""Listen sockets as admins and clients see them: each worker accepts on
its own socket of every chat address, so connections spread over the
workers; every connection is served whatever the number of workers after
a reload; and a second chatd cannot take a running one's port.
"""

import asyncio
import os
import signal
import socket
import subprocess

import chatd_harness as h
from test_operations import Pair


def sockets_of(pid):
    n = 0
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            if os.readlink("/proc/%d/fd/%s" % (pid, fd)).startswith("socket:"):
                n += 1
        except OSError:
            pass
    return n


def test_connections_spread_over_workers(chatd_factory):
    """64 connections at once: each of two workers takes a fair part, where
    a shared socket let whichever worker woke first take nearly all."""
    s = chatd_factory(workers=2)
    pids = s.worker_pids()
    assert len(pids) == 2
    base = [sockets_of(p) for p in pids]
    conns = [socket.create_connection(("127.0.0.1", s.port), 5) for _ in range(64)]
    try:
        held = h.wait_for(lambda: (lambda d: d if sum(d) == 64 else None)(
            [sockets_of(p) - b for p, b in zip(pids, base)]), 10,
            what="workers to accept 64 connections")
        # By hash of the client ports: fewer than 12 of 64 on one side is
        # about a one-in-a-million draw.
        assert min(held) >= 12, held
    finally:
        for c in conns:
            c.close()


def set_workers(s, n):
    with open(s.config_path, "a") as f:
        f.write("workers %d\n" % n)
    os.kill(s.pid, signal.SIGHUP)
    h.wait_for(lambda: len(s.worker_pids()) == n, 15, what="%d workers" % n)


def test_every_connection_served_after_reloads(chatd_factory, db):
    """Three workers, then one, then four: new connections are all
    admitted, none left waiting on a socket no worker accepts on."""
    s = chatd_factory(workers=3)
    p = Pair(db)

    async def connect_many(n):
        for _ in range(n):
            ws, hello = await asyncio.wait_for(h.open_chat(s, p.room, p.a), 5)
            assert hello["type"] == "connection_established"
            await ws.close()

    h.run(connect_many(30))
    set_workers(s, 1)
    h.run(connect_many(30))
    set_workers(s, 4)
    h.run(connect_many(40))
    assert s.running()


def test_second_chatd_cannot_take_the_port(chatd_factory):
    """A second chatd configured for a running one's address stops with an
    error instead of sharing the port; the first keeps serving."""
    s = chatd_factory(workers=2)
    d = h.make_tempdir("chatd-second-")
    try:
        with open(s.config_path) as f:
            text = f.read()
        conf = os.path.join(d, "chatd.conf")
        with open(conf, "w") as f:
            f.write(text.replace(s.dir, d))
        r = subprocess.run([h.chatd_binary(), "-f", "-c", conf],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode != 0
        assert "Address already in use" in r.stderr, r.stderr
        assert s.running()
        c = socket.create_connection(("127.0.0.1", s.port), 5)
        c.sendall(b"GET /api/v1.0/chat/rooms/ HTTP/1.1\r\nHost: x\r\n\r\n")
        assert c.recv(12).startswith(b"HTTP/1.1 401"), "the first chatd answers"
        c.close()
    finally:
        h.remove_tempdir(d)

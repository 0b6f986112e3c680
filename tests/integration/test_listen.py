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
import time

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


def listening_inodes(port):
    """Inodes of the sockets listening on port (IPv4 and IPv6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            col = row.split()
            if col[3] == "0A" and int(col[1].rsplit(":", 1)[1], 16) == port:
                found.add(col[9])
    return found


def socket_inodes(pid):
    found = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if link.startswith("socket:["):
            found.add(link[8:-1])
    return found


def test_each_worker_has_its_own_socket(chatd_factory):
    """Each worker listens on a socket of its own for the chat address, so
    the kernel spreads connections over them: 64 at once all find a
    worker, each of two taking a fair part."""
    s = chatd_factory(workers=2)
    pids = s.worker_pids()
    assert len(pids) == 2
    listening = listening_inodes(s.port)
    mine = [socket_inodes(p) & listening for p in pids]
    assert len(listening) == 2 and all(len(m) == 1 for m in mine) and \
        not (mine[0] & mine[1]), (listening, mine)
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


async def connect_many(s, p, n):
    """n connections one after another, each admitted within 5 s."""
    for _ in range(n):
        ws, hello = await asyncio.wait_for(h.open_chat(s, p.room, p.a), 5)
        assert hello["type"] == "connection_established"
        await ws.close()


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

    h.run(connect_many(s, p, 30))
    set_workers(s, 1)
    h.run(connect_many(s, p, 30))
    set_workers(s, 4)
    h.run(connect_many(s, p, 40))
    assert s.running()


def test_reload_while_a_worker_waits_to_restart(chatd_factory, db):
    """A worker that dies right after starting waits a second before it is
    started again; a reload in that second must leave a full set of
    workers that are restarted when they die and serve every connection."""
    s = chatd_factory(workers=2)
    p = Pair(db)
    time.sleep(1.2)
    first = s.worker_pids()
    os.kill(first[0], signal.SIGKILL)
    fresh = h.wait_for(lambda: [w for w in s.worker_pids() if w not in first], 5,
                       what="the worker to be started again")
    os.kill(fresh[0], signal.SIGKILL)     # under a second old: restarted later
    time.sleep(0.3)                       # chatd has seen it die
    os.kill(s.pid, signal.SIGHUP)
    h.wait_for(lambda: "reloaded" in s.log_text(), 10, what="the reload")
    h.wait_for(lambda: len(s.worker_pids()) == 2, 10, what="two workers")
    time.sleep(1.2)
    for w in s.worker_pids():
        before = s.worker_pids()
        os.kill(w, signal.SIGKILL)
        h.wait_for(lambda: len(s.worker_pids()) == 2 and w not in s.worker_pids()
                   and set(s.worker_pids()) != set(before), 5,
                   what="worker %d to be started again" % w)
    time.sleep(1.2)

    h.run(connect_many(s, p, 30))


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

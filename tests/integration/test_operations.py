"""Running chatd as an admin does: checking the config, reloading and
stopping it under traffic, dropping root, connection limits and /metrics.
"""

import asyncio
import http.client
import json
import os
import pwd
import re
import signal
import socket
import stat
import subprocess
import time

import pytest

import chatd_harness as h


class Pair:
    def __init__(self, db):
        self.a = h.make_user(db, h.unique_name("alice"))
        self.b = h.make_user(db, h.unique_name("bob"))
        self.room = h.make_room(db, self.a, self.b)


async def send(ws, content, temp_id):
    await ws.send(json.dumps({"type": "message", "content": content, "temp_id": temp_id}))


def http_request(port, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request(method, path, body=body, headers=headers or {})
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r.status, r.getheader("Content-Type"), data


# ---------------------------------------------------------------------------
# chatd -t

def test_check_config_names_the_bad_line(chatd_factory):
    s = chatd_factory(start=False)
    res = s.run("-t")
    assert res.returncode == 0, res.stderr
    assert "configuration OK" in res.stderr
    with open(s.config_path) as f:
        lines = f.read().splitlines()
    for bad, why in (("listne 127.0.0.1:1", 'unknown keyword "listne"'),
                     ("max_connections lots", "max_connections"),
                     ("listen 127.0.0.1:99999", "bad listen address"),
                     ("user", "missing value")):
        with open(s.config_path, "w") as f:
            f.write("\n".join(lines[:3] + [bad] + lines[3:]) + "\n")
        res = s.run("-t")
        assert res.returncode == 1, (bad, res.stderr)
        assert "%s:4:" % s.config_path in res.stderr, (bad, res.stderr)
        assert why in res.stderr, (bad, res.stderr)


# ---------------------------------------------------------------------------
# SIGHUP and SIGTERM under traffic

async def chat_traffic(server, pairs, rounds, between=None, pause=0.02):
    """Each pair's Alice sends `rounds` messages; every one must reach both
    sides.  between(i) runs after round i.  Returns the number of messages
    delivered to both ends."""
    socks = []
    for p in pairs:
        wa, _ = await h.open_chat(server, p.room, p.a)
        wb, _ = await h.open_chat(server, p.room, p.b)
        socks.append((wa, wb))
    delivered = 0
    for i in range(rounds):
        for wa, wb in socks:
            await send(wa, "round %d" % i, "r%d" % i)
        for wa, wb in socks:
            for ws in (wa, wb):
                got = await h.recv_type(ws, "message")
                assert got["message"]["content"] == "round %d" % i, got
            delivered += 1
        if between:
            await between(i)
        await asyncio.sleep(pause)
    for wa, wb in socks:
        assert wa.open and wb.open
        await wa.close()
        await wb.close()
    return delivered


def test_reload_under_traffic_drops_nobody(chatd_factory, db):
    """SIGHUP twice while clients chat: every client stays connected, every
    message arrives, new workers take over and the old ones leave once
    their clients are gone; the new settings reach new connections."""
    s = chatd_factory(workers=2)
    pairs = [Pair(db) for _ in range(6)]
    first = set(s.worker_pids())

    async def between(i):
        if i in (5, 12):
            if i == 12:
                # A new setting, seen by connections made after the reload.
                with open(s.config_path) as f:
                    text = f.read()
                with open(s.config_path, "w") as f:
                    f.write(text.replace("heartbeat_interval %d" % h.HEARTBEAT_INTERVAL,
                                         "heartbeat_interval 17"))
            os.kill(s.pid, signal.SIGHUP)
            await asyncio.sleep(0.3)
            # New connections are served during and after the reload.
            p = Pair(db)
            ws, hello = await h.open_chat(s, p.room, p.a)
            if i == 12:
                assert hello["heartbeat_interval"] == 17, hello
            await ws.close()

    delivered = h.run(chat_traffic(s, pairs, 20, between))
    assert delivered == 20 * len(pairs)
    assert s.running()
    # Old workers finish once their clients left; two remain.
    h.wait_for(lambda: len(s.worker_pids()) == 2, 10, what="old workers to exit")
    assert not (set(s.worker_pids()) & first), (first, s.worker_pids())
    assert "reloaded" in s.log_text()


def test_reload_with_a_bad_config_keeps_serving(chatd_factory, db):
    s = chatd_factory()
    before = set(s.worker_pids())
    with open(s.config_path, "a") as f:
        f.write("workers many\n")
    os.kill(s.pid, signal.SIGHUP)
    h.wait_for(lambda: "reload failed" in s.log_text(), 10, what="the reload error")
    assert 'workers: "many" is not a number' in s.log_text()
    assert set(s.worker_pids()) == before
    p = Pair(db)

    async def main():
        ws, _ = await h.open_chat(s, p.room, p.a)
        await ws.close()
    h.run(main())


def test_sigterm_under_traffic_keeps_acknowledged_messages(chatd_factory, db):
    """Clients send as fast as they can; SIGTERM; chatd exits 0, clients
    see 1001, and every message a sender saw confirmed is in the database."""
    s = chatd_factory(workers=2)
    pairs = [Pair(db) for _ in range(4)]
    acked = set()
    codes = []

    async def sender(p, stop):
        ws, _ = await h.open_chat(s, p.room, p.a)
        n = 0
        try:
            while True:
                if not stop.is_set():
                    await send(ws, "burst %d" % n, "%d-%d" % (p.room, n))
                    n += 1
                try:
                    msg = json.loads(await asyncio.wait_for(ws.recv(), 0.01 if not stop.is_set()
                                                            else 10))
                except asyncio.TimeoutError:
                    continue
                if msg.get("type") == "message" and msg["message"].get("temp_id"):
                    acked.add(msg["message"]["id"])
        except Exception as e:  # the close after SIGTERM
            codes.append(getattr(e, "code", None))

    async def main():
        stop = asyncio.Event()
        tasks = [asyncio.create_task(sender(p, stop)) for p in pairs]
        await asyncio.sleep(1.0)
        os.kill(s.pid, signal.SIGTERM)
        await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 20)

    h.run(main())
    assert s.wait_exit(20) == 0
    assert codes and all(c == 1001 for c in codes), codes
    assert len(acked) > 20, "too little traffic to mean anything: %d" % len(acked)
    ids = ",".join(str(i) for i in sorted(acked))
    stored = {int(r[0]) for r in db.sql("SELECT id FROM messages WHERE id IN (%s)" % ids)}
    assert acked <= stored, "acknowledged but not stored: %s" % sorted(acked - stored)[:10]


# ---------------------------------------------------------------------------
# privileges

def proc_uids(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Uid:"):
                return [int(x) for x in line.split()[1:]]
    return None


@pytest.fixture
def reachable_db_socket(db):
    """Let other users reach the private MariaDB's socket for this test."""
    changed = []
    d = os.path.dirname(db.socket)
    while d.startswith(db.dir) and d != "/":
        mode = os.stat(d).st_mode
        os.chmod(d, mode | stat.S_IXOTH)
        changed.append((d, mode))
        if d == db.dir:
            break
        d = os.path.dirname(d)
    yield
    for d, mode in changed:
        os.chmod(d, stat.S_IMODE(mode))


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch users")
def test_runs_as_the_configured_user(chatd_factory, db, reachable_db_socket):
    nobody = pwd.getpwnam("nobody")
    s = chatd_factory(user="nobody", group="nogroup")
    assert proc_uids(s.pid) == [nobody.pw_uid] * 4
    workers = s.worker_pids()
    assert len(workers) == 2
    for w in workers:
        assert proc_uids(w) == [nobody.pw_uid] * 4
    # Still serves, and the database is reachable.
    p = Pair(db)

    async def main():
        wa, _ = await h.open_chat(s, p.room, p.a)
        await send(wa, "as nobody", "n1")
        assert (await h.recv_type(wa, "message"))["message"]["content"] == "as nobody"
        await wa.close()
    h.run(main())
    assert "running as user nobody" in s.log_text()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to start as another user")
def test_refuses_to_run_when_it_cannot_switch_user(chatd_factory):
    """Started as an ordinary user but told to be another one: exit 1."""
    s = chatd_factory(start=False, user="daemon")
    os.chmod(s.dir, 0o755)
    os.chmod(s.config_path, 0o644)
    res = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                          s.binary, "-f", "-c", s.config_path],
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 1
    assert "must be started as root to become user daemon" in res.stderr


def test_unknown_user_is_refused(chatd_factory):
    s = chatd_factory(start=False, user="no-such-user-here")
    s.start(wait=False)
    assert s.wait_exit(20) == 1
    assert "unknown user no-such-user-here" in s.log_text()


# ---------------------------------------------------------------------------
# limits

def test_per_address_limit(chatd_factory, db):
    """With max_connections_per_ip 2 (one worker), the third connection
    from 127.0.0.1 gets HTTP 429 with a JSON reason, and a slot freed is a
    slot usable again."""
    import websockets
    s = chatd_factory(workers=1, max_connections_per_ip=2)
    p = Pair(db)

    async def main():
        w1, _ = await h.open_chat(s, p.room, p.a)
        w2, _ = await h.open_chat(s, p.room, p.b)
        with pytest.raises(websockets.exceptions.InvalidStatusCode) as e:
            await h.connect(s.ws_url(p.room, h.token(p.a)))
        assert e.value.status_code == 429
        status, ctype, body = http_request(s.port, "GET", "/api/v1.0/chat/x")
        assert status == 429 and ctype == "application/json"
        assert "Too many connections" in json.loads(body)["detail"]
        await w1.close()
        await asyncio.sleep(0.3)
        w3, _ = await h.open_chat(s, p.room, p.a)
        await w3.close()
        await w2.close()
    h.run(main())


def test_worker_connection_limit(chatd_factory, db):
    import websockets
    s = chatd_factory(workers=1, max_connections=1)
    p = Pair(db)

    async def main():
        w1, _ = await h.open_chat(s, p.room, p.a)
        with pytest.raises(websockets.exceptions.InvalidStatusCode) as e:
            await h.connect(s.ws_url(p.room, h.token(p.b)))
        assert e.value.status_code == 503
        await w1.close()
    h.run(main())


def test_oversized_body_and_header(chatd_factory):
    s = chatd_factory(max_body_size=1000, max_header_size=2048)
    status, ctype, body = http_request(s.port, "POST", "/api/v1.0/chat/rooms/",
                                       body=b"x" * 5000,
                                       headers={"Content-Type": "application/json"})
    assert status == 413 and ctype == "application/json", (status, body)
    assert json.loads(body)["detail"] == "Request body too large."
    status, _, _ = http_request(s.port, "POST", "/api/v1.0/chat/rooms/", body=b"x" * 900)
    assert status != 413
    status, _, _ = http_request(s.port, "GET", "/api/v1.0/chat/x",
                                headers={"X-Big": "y" * 20000})
    assert status == 431
    assert s.running()


def read_until_closed(sock, limit):
    """Seconds until the server closed sock (None if it did not within limit)."""
    start = time.monotonic()
    sock.settimeout(0.2)
    while time.monotonic() - start < limit:
        try:
            if sock.recv(4096) == b"":
                return time.monotonic() - start
        except socket.timeout:
            continue
        except ConnectionResetError:
            return time.monotonic() - start
    return None


def trickle_until_closed(sock, data):
    """Send data a byte every 0.3 s; seconds until the server closed the
    connection, or None if all of it went."""
    start = time.monotonic()
    sock.settimeout(0.3)
    for i in range(len(data)):
        try:
            sock.sendall(data[i:i + 1])
            if sock.recv(4096) == b"":
                return time.monotonic() - start
        except socket.timeout:
            continue
        except (BrokenPipeError, ConnectionResetError):
            return time.monotonic() - start
    return None


def test_slow_headers_are_cut_off(chatd_factory):
    """A client trickling its request head (one byte every 0.3 s, never
    silent long enough for an idle timeout) is closed after header_timeout,
    and so is a client that connects and says nothing."""
    admin = h.free_port()
    s = chatd_factory(header_timeout=2, admin_listen="127.0.0.1:%d" % admin)
    slow = socket.create_connection(("127.0.0.1", s.port))
    silent = socket.create_connection(("127.0.0.1", s.port))
    slow.sendall(b"GET /api/v1.0/chat/x HTTP/1.1\r\n")
    closed = trickle_until_closed(slow, b"X" * 27)
    assert closed is not None and 1.5 <= closed < 5, closed
    assert read_until_closed(silent, 5) is not None
    slow.close()
    silent.close()
    status, _, _ = http_request(s.port, "GET", "/api/v1.0/chat/x")
    assert status == 404
    key = 'chatd_refused_total{reason="header_timeout"}'
    h.wait_for(lambda: scrape(admin)[key] == 2, 5, what="two header timeouts counted")


def test_slow_bodies_are_cut_off(chatd_factory, db):
    """A request body trickled a byte at a time gets header_timeout from
    the end of its head, like the head; a body that arrives in time, and
    the broker's answer to it, are not cut off."""
    s = chatd_factory(header_timeout=2)
    a, b = h.make_user(db, h.unique_name("a")), h.make_user(db, h.unique_name("b"))
    room = h.make_room(db, a, b)
    tok = h.token(a, secret=s.jwt_secret)
    body = json.dumps({"room": room, "content": "slowly"}).encode()
    head = ("POST /api/v1.0/chat/messages/ HTTP/1.1\r\nHost: x\r\n"
            "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
            "Content-Length: %d\r\n\r\n" % (tok, len(body))).encode()
    slow = socket.create_connection(("127.0.0.1", s.port))
    slow.sendall(head)
    closed = trickle_until_closed(slow, body[:-1])
    slow.close()
    assert closed is not None and 1.5 <= closed < 5, closed
    assert db.scalar("SELECT COUNT(*) FROM messages WHERE room_id = ?", room) == "0"
    # Within the time, the same request is stored and answered.
    fast = socket.create_connection(("127.0.0.1", s.port), timeout=10)
    fast.sendall(head + body[:10])
    time.sleep(1)
    fast.sendall(body[10:])
    assert fast.recv(65536).startswith(b"HTTP/1.1 201"), "not answered 201"
    fast.close()


# ---------------------------------------------------------------------------
# /metrics

METRIC_LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (-?[0-9.eE+]+)$')


def scrape(port):
    status, ctype, body = http_request(port, "GET", "/metrics")
    assert status == 200 and ctype.startswith("text/plain"), (status, ctype)
    values = {}
    for line in body.decode().splitlines():
        if line.startswith("#") or not line:
            continue
        m = METRIC_LINE.match(line)
        assert m, "not Prometheus text: %r" % line
        values[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return values


def test_metrics_endpoint(chatd_factory, db):
    admin = h.free_port()
    s = chatd_factory(admin_listen="127.0.0.1:%d" % admin, max_body_size=100)
    before = scrape(admin)
    for k in ("chatd_messages_stored_total", "chatd_websocket_connections",
              "chatd_write_batches_total", "chatd_commit_seconds_sum",
              "chatd_worker_restarts_total", 'chatd_refused_total{reason="auth"}'):
        assert k in before, k
    p = Pair(db)

    async def main():
        wa, _ = await h.open_chat(s, p.room, p.a)
        for i in range(5):
            await send(wa, "count me %d" % i, "m%d" % i)
            await h.recv_type(wa, "message")
        mid = scrape(admin)
        assert mid["chatd_websocket_connections"] >= 1
        await wa.close()
        code, _ = await h.expect_refused(s.ws_url(p.room, "not-a-token"))
        assert code == 4001
        return mid

    mid = h.run(main())
    assert mid["chatd_messages_stored_total"] - before["chatd_messages_stored_total"] == 5
    assert mid["chatd_write_batches_total"] > before["chatd_write_batches_total"]
    http_request(s.port, "POST", "/api/v1.0/x", body=b"y" * 500)
    # Workers report refusals to the broker as they happen: the figures
    # are right a moment later, whichever worker answers the scrape.
    auth = 'chatd_refused_total{reason="auth"}'
    body = 'chatd_refused_total{reason="body_too_large"}'
    after = h.wait_for(lambda: (lambda m: m if m[auth] == before[auth] + 1 and m[body] == 1
                                else None)(scrape(admin)), 5, what="refusal counters")
    assert after[auth] == before[auth] + 1 and after[body] == 1
    # Only /metrics on the admin listener; no /metrics on the chat port.
    status, _, _ = http_request(admin, "GET", "/")
    assert status == 404
    status, _, _ = http_request(s.port, "GET", "/metrics")
    assert status == 404


def test_metrics_status_counters(chatd_factory, db):
    """Receipts are counted as the changes stored, the message rows they
    updated and the UPDATEs that wrote them."""
    admin = h.free_port()
    s = chatd_factory(admin_listen="127.0.0.1:%d" % admin)
    p = Pair(db)
    names = ("chatd_status_changes_total", "chatd_status_rows_total",
             "chatd_status_batches_total")
    before = scrape(admin)

    async def main():
        wa, _ = await h.open_chat(s, p.room, p.a)
        wb, _ = await h.open_chat(s, p.room, p.b)
        ids = []
        for i in range(3):
            await send(wa, "receipt me %d" % i, "r%d" % i)
            ids.append((await h.recv_type(wa, "message"))["message"]["id"])
            await h.recv_type(wb, "message")
        # One change alone, then a burst: delivered and read of one
        # message may share a row.
        await wb.send(json.dumps({"type": "message_delivered", "message_id": ids[0]}))
        await h.recv_type(wa, "message_status_update")
        for mid, kind in ((ids[0], "message_read"), (ids[1], "message_read"),
                          (ids[2], "message_delivered"), (ids[2], "message_read")):
            await wb.send(json.dumps({"type": kind, "message_id": mid}))
        for _ in range(4):
            await h.recv_type(wa, "message_status_update")
        await wa.close()
        await wb.close()

    h.run(main())
    after = scrape(admin)
    d = dict((k, after[k] - before[k]) for k in names)
    assert d["chatd_status_changes_total"] == 5, d
    # Rows: message 0 twice (two batches), 1 once, 2 once or twice.
    assert 4 <= d["chatd_status_rows_total"] <= 5, d
    assert 2 <= d["chatd_status_batches_total"] <= d["chatd_status_rows_total"], d
    assert db.sql("SELECT status FROM messages WHERE room_id = ? ORDER BY id", p.room) == \
        [("3",)] * 3


# ---------------------------------------------------------------------------
# open-file limit

def nofile(pid):
    with open("/proc/%d/limits" % pid) as f:
        for line in f:
            if line.startswith("Max open files"):
                return int(line.split()[3]), int(line.split()[4])
    return None


def test_open_file_limit_raised(chatd_factory):
    s = chatd_factory(max_connections=3000)
    soft, _ = nofile(s.pid)
    assert soft >= 6000
    for w in s.worker_pids():
        assert nofile(w)[0] >= 6000


@pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists("/usr/bin/prlimit"),
                    reason="needs root and prlimit")
def test_open_file_limit_too_low_is_logged(chatd_factory):
    """Without the right to raise the hard limit, chatd says so at start,
    takes what it may, and serves."""
    s = chatd_factory(start=False, max_connections=3000)
    real = s.binary
    wrapper = os.path.join(s.dir, "chatd-limited")
    with open(wrapper, "w") as f:
        f.write("#!/bin/sh\nexec prlimit --nofile=300:1000 setpriv "
                "--bounding-set=-sys_resource %s \"$@\"\n" % real)
    os.chmod(wrapper, 0o755)
    s.binary = wrapper
    s.start()
    assert "open file limit is 1000, below the 6064 that max_connections 3000 needs" \
        in s.log_text()
    assert nofile(s.worker_pids()[0]) == (1000, 1000)
    status, _, _ = http_request(s.port, "GET", "/api/v1.0/chat/x")
    assert status == 404

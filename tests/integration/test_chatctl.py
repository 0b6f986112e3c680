"""chatctl against a running chatd and a real MariaDB, as an admin uses it.

Every command is run as a separate chatctl process over the control
socket; both the human output and --json are checked.
"""

import asyncio
import json
import os
import re
import signal
import socket
import stat
import struct
import subprocess
import time

import pytest

import chatd_harness as h


def chatctl_binary():
    return os.path.join(h.build_dir(), "chatctl")


def chatctl(server, *args, socket_path=None, timeout=60, user=None):
    """Run chatctl against server (by its config, or socket_path);
    CompletedProcess with text output."""
    cmd = [chatctl_binary()]
    if socket_path is not None:
        cmd += ["-s", socket_path]
    elif server is not None:
        cmd += ["-c", server.config_path]
    cmd += list(args)
    if user is not None:
        cmd = ["setpriv", "--reuid=%s" % user, "--regid=nogroup", "--clear-groups"] + cmd
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def ok(server, *args, **kw):
    res = chatctl(server, *args, **kw)
    assert res.returncode == 0, "chatctl %s failed (%d): %s%s" % (
        " ".join(args), res.returncode, res.stdout, res.stderr)
    assert res.stderr == "", res.stderr
    return res.stdout


def ok_json(server, *args, **kw):
    return json.loads(ok(server, "--json", *args, **kw))


def fails(server, *args, code=1, **kw):
    res = chatctl(server, *args, **kw)
    assert res.returncode == code, "chatctl %s: exit %d, wanted %d: %s%s" % (
        " ".join(args), res.returncode, code, res.stdout, res.stderr)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("chatctl: "), res.stderr
    return lines[0]


def control_socket(server):
    return os.path.join(server.dir, "control.sock")


def table(text):
    """Rows of a human table as lists of columns (split on 2+ spaces)."""
    lines = [l for l in text.splitlines() if l.strip()]
    return [re.split(r"\s{2,}", l.strip()) for l in lines]


class Pair:
    def __init__(self, db):
        self.a_name = h.unique_name("ctla")
        self.b_name = h.unique_name("ctlb")
        self.a = h.make_user(db, self.a_name, "Ann")
        self.b = h.make_user(db, self.b_name, "Ben")
        self.room = h.make_room(db, self.a, self.b, match=77)


@pytest.fixture
def pair(db):
    return Pair(db)


# ---------------------------------------------------------------------------
# connecting

def test_no_chatd_gives_one_line_error(tmp_path):
    path = str(tmp_path / "control.sock")
    for cmd in (["status"], ["check"], ["--json", "status"]):
        res = chatctl(None, *cmd, socket_path=path)
        assert res.returncode != 0
        assert res.stdout == ""
        assert res.stderr == "chatctl: cannot connect to chatd at %s: No such file or directory\n" % path


def test_no_chatd_found_through_config(chatd_factory):
    s = chatd_factory(start=False)
    res = chatctl(s, "status")
    assert res.returncode == 1
    assert res.stderr == "chatctl: cannot connect to chatd at %s: No such file or directory\n" \
        % control_socket(s)


def test_socket_mode_and_cleanup(chatd_factory):
    s = chatd_factory()
    st = os.stat(control_socket(s))
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o660
    s.stop()
    assert not os.path.exists(control_socket(s))


def test_second_chatd_on_same_socket_refused(chatd_factory, chatd_shared):
    other = chatd_factory(start=False, control_socket=control_socket(chatd_shared))
    res = other.run("-f", timeout=30)
    assert res.returncode != 0
    assert "is in use: is chatd already running?" in res.stdout + res.stderr
    assert ok(chatd_shared, "check")


def test_other_uid_is_refused(chatd_shared):
    os.chmod(chatd_shared.dir, 0o711)
    os.chmod(control_socket(chatd_shared), 0o666)
    try:
        res = chatctl(None, "status", socket_path=control_socket(chatd_shared), user="nobody")
    finally:
        os.chmod(control_socket(chatd_shared), 0o660)
        os.chmod(chatd_shared.dir, 0o700)
    assert res.returncode == 1, res
    assert res.stderr == ("chatctl: permission denied: uid 65534 is neither root nor "
                          "chatd's uid %d\n" % os.geteuid())
    assert res.stdout == ""
    assert "control: refused uid 65534" in chatd_shared.log_text()


def _frame(msg_type, payload=b"", ident=0):
    return struct.pack(">IHHQ", 16 + len(payload), msg_type, 0, ident) + payload


def _read_frame(sock):
    hdr = b""
    while len(hdr) < 16:
        chunk = sock.recv(16 - len(hdr))
        if not chunk:
            return None
        hdr += chunk
    length, msg_type, _, _ = struct.unpack(">IHHQ", hdr)
    body = b""
    while len(body) < length - 16:
        body += sock.recv(length - 16 - len(body))
    return msg_type, body


def test_wire_version_mismatch_is_refused_clearly(chatd_shared):
    """A chatctl of another wire version gets a FAIL naming both versions."""
    msg_hello = 1
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(10)
        sock.connect(control_socket(chatd_shared))
        sock.sendall(_frame(msg_hello, struct.pack(">III", 999, 0, os.getpid())))
        msg_type, body = _read_frame(sock)
        (n,) = struct.unpack(">I", body[:4])
        reason = body[4:4 + n].decode()
        assert "wire version 1, this chatctl 999" in reason, reason
        # Anything after is dropped: the connection closes.
        sock.sendall(_frame(msg_hello, struct.pack(">III", 1, 0, 0)))
        assert _read_frame(sock) is None
    assert ok(chatd_shared, "check")


def test_bad_usage(chatd_shared):
    for args in (["frobnicate"], ["room", "show", "abc"], ["kick"], ["user", "add"],
                 ["monitor", "--interval", "0"], ["status", "--bogus", "1"],
                 ["health-check", "x"], ["token", "u", "--ttl", "-5"],
                 ["status", "--room", "1"], ["provision", "--user", "5"],
                 ["connections", "--room"], ["kick", "--conn=abc"]):
        line = fails(chatd_shared, *args, code=2)
        assert line.startswith("chatctl: "), line


# ---------------------------------------------------------------------------
# status, monitor, check

def test_status_human_and_json(chatd_shared):
    out = ok(chatd_shared, "status")
    assert re.match(r"^chatd \d+\.\d+\.\d+ pid %d, up \d+ s \(since \S+Z\)$" % chatd_shared.pid,
                    out.splitlines()[0]), out
    assert re.search(r"^MariaDB writer +connected$", out, re.M), out
    assert re.search(r"^MariaDB reader +connected$", out, re.M), out
    assert re.search(r"^workers +2 of 2 running, \d+ restarts$", out, re.M), out
    assert re.search(r"^cached rooms +\d+ \(\d+ dropped since start\)$", out, re.M), out
    assert re.search(r"^cached profiles +\d+$", out, re.M), out
    assert re.search(r"^status lookups +\d+ in \d+ queries$", out, re.M), out
    rows = table(out.split("\n\n", 1)[1])
    assert rows[0] == ["WORKER", "PID", "CONNECTIONS", "RESTARTS", "RUNNING"]
    assert sorted(int(r[1]) for r in rows[1:]) == chatd_shared.worker_pids()

    st = ok_json(chatd_shared, "status")
    assert st["pid"] == chatd_shared.pid
    assert re.match(r"^\d+\.\d+\.\d+$", st["version"]), st
    for k in ("uptime_seconds", "connections", "online_users", "active_rooms",
              "messages_stored", "deliveries", "pending_writes", "workers_running",
              "cached_rooms", "cached_rooms_dropped", "cached_profiles", "status_lookups",
              "status_lookup_queries"):
        assert type(st[k]) is int and st[k] >= 0, (k, st)
    for k in ("stored_per_second", "delivered_per_second"):
        assert isinstance(st[k], (int, float)), (k, st)
    assert st["db_writer_connected"] is True and st["db_reader_connected"] is True
    assert st["worker_count"] == 2
    assert [w["index"] for w in st["workers"]] == [0, 1]


def test_status_json_lists_workers(chatd_shared):
    raw = ok(chatd_shared, "status", "--json")
    st = json.loads(raw)
    assert isinstance(st["workers"], list)
    assert sorted(w["pid"] for w in st["workers"]) == chatd_shared.worker_pids()
    assert all(w["running"] is True and w["restarts"] == 0 for w in st["workers"])


async def _chat(server, pair, n):
    a, _ = await h.open_chat(server, pair.room, pair.a)
    b, _ = await h.open_chat(server, pair.room, pair.b)
    for i in range(n):
        await a.send(json.dumps({"type": "message", "content": "m%d" % i, "temp_id": "t%d" % i}))
    for i in range(n):
        await h.recv_type(b, "message")
    return a, b


def test_status_and_monitor_move_after_messages(chatd, pair):
    before = ok_json(chatd, "status")
    assert before["connections"] == 0

    async def go():
        a, b = await _chat(chatd, pair, 20)
        # Rates need samples 100 ms apart; a fresh chatd may have chatted
        # all 20 messages sooner than that.
        await asyncio.sleep(0.2)
        st = ok_json(chatd, "status")
        mon = ok(chatd, "monitor", "--interval", "1", "--count", "2")
        monj = ok(chatd, "--json", "monitor", "--interval", "1", "--count", "2")
        await a.close()
        await b.close()
        return st, mon, monj
    st, mon, monj = h.run(go())
    assert ok_json(chatd, "room", "show", str(pair.room))["messages"] == 20
    assert st["messages_stored"] - before["messages_stored"] == 20
    assert st["deliveries"] > before["deliveries"]
    assert st["stored_per_second"] > 0 and st["delivered_per_second"] > 0
    assert st["connections"] == 2 and st["online_users"] == 2 and st["active_rooms"] == 1

    lines = mon.splitlines()
    assert len(lines) == 3 and lines[0].split()[:4] == ["TIME", "CONNS", "USERS", "ROOMS"], mon
    for line in lines[1:]:
        f = line.split()
        h.parse_iso_utc(f[0])
        assert f[1:4] == ["2", "2", "1"], line
        assert float(f[4]) > 0, line
        assert f[7] == "2/2" and f[8] == "up/up", line
    samples = [json.loads(l) for l in monj.splitlines()]
    assert len(samples) == 2 and all(s["connections"] == 2 for s in samples)


def test_check_ok(chatd_shared):
    out = ok(chatd_shared, "check")
    rows = [l.split(None, 2) for l in out.splitlines()]
    assert [r[:2] for r in rows] == [["broker", "ok"], ["database", "ok"], ["workers", "ok"]], out
    assert rows[1][2] == "schema version %d, want %d" % ((h.current_schema_version(),) * 2)
    assert rows[2][2] == "2 of 2 running"
    j = ok_json(chatd_shared, "check")
    assert j["ok"] is True
    assert [c["check"] for c in j["checks"]] == ["broker", "database", "workers"]
    assert all(c["ok"] is True for c in j["checks"])


def test_check_fails_when_a_worker_is_missing(chatd_factory, tmp_path):
    """A worker that cannot be restarted makes check fail, naming it."""
    os.chmod(str(tmp_path), 0o755)
    flag = tmp_path / "no-more-workers"
    wrapper = tmp_path / "worker-wrapper"
    wrapper.write_text("#!/bin/sh\n[ -e %s ] && exit 1\nexec %s \"$@\"\n"
                       % (flag, h.worker_binary() or os.path.join(h.build_dir(), "chatd-worker")))
    wrapper.chmod(0o755)
    s = chatd_factory(worker_path=str(wrapper))
    # Workers count once they have said hello.
    h.wait_for(lambda: chatctl(s, "check").returncode == 0, 10, what="check to pass")
    flag.write_text("")
    victim = s.worker_pids()[0]
    os.kill(victim, signal.SIGKILL)
    h.wait_for(lambda: victim not in s.worker_pids(), 10, what="worker to die")
    res = chatctl(s, "check")
    assert res.returncode == 1, res
    assert re.search(r"^workers +FAILED +1 of 2 running$", res.stdout, re.M), res.stdout
    assert re.search(r"^broker +ok", res.stdout, re.M)
    j = json.loads(chatctl(s, "check", "--json").stdout)
    assert j["ok"] is False
    assert [c["ok"] for c in j["checks"]] == [True, True, False]
    st = ok_json(s, "status")
    assert st["workers_running"] == 1 and st["worker_restarts"] >= 1
    flag.unlink()


def test_check_fails_when_mariadb_does_not_answer(chatd):
    """A MariaDB that hangs fails the check in seconds; chatctl never hangs."""
    with chatd.mariadb.session() as sess:
        sess.execute("LOCK TABLES schema_version WRITE")
        t0 = time.monotonic()
        res = chatctl(chatd, "check")
        took = time.monotonic() - t0
        sess.execute("UNLOCK TABLES")
    assert res.returncode == 1, res
    assert re.search(r"^database +FAILED +no answer from MariaDB within 5 s$", res.stdout, re.M), \
        res.stdout
    assert took < 15
    h.wait_for(lambda: chatctl(chatd, "check").returncode == 0, 10, what="check to pass again")


# ---------------------------------------------------------------------------
# users, rooms, tokens

def test_user_add_list_show(chatd_shared):
    name = h.unique_name("ctluser")
    out = ok(chatd_shared, "user", "add", name, "--display-name", "Zoë O'Neil",
             "--image-url", "https://example.com/a.jpg", "--image-url", "https://example.com/b.jpg")
    m = re.match(r"^added user %s \(id (\d+)\)$" % name, out.strip())
    assert m, out
    uid = int(m.group(1))
    rows = chatd_shared.mariadb.sql("SELECT username, display_name, image_urls FROM users WHERE id = ?", uid)
    assert rows[0][0] == name and rows[0][1] == "Zoë O'Neil"
    assert json.loads(rows[0][2]) == ["https://example.com/a.jpg", "https://example.com/b.jpg"]

    lst = table(ok(chatd_shared, "user", "list", "--match", name))
    assert lst[0][:3] == ["ID", "USERNAME", "DISPLAY NAME"]
    assert lst[1][:4] == [str(uid), name, "Zoë O'Neil", "no"], lst
    lj = ok_json(chatd_shared, "user", "list", "--match", name)
    assert [u["id"] for u in lj] == [uid]
    assert lj[0]["imageUrls"] == ["https://example.com/a.jpg", "https://example.com/b.jpg"]
    assert lj[0]["is_online"] is False and lj[0]["last_seen"] is None

    for who in (name, str(uid)):
        show = ok(chatd_shared, "user", "show", who)
        assert re.search(r"^id +%d$" % uid, show, re.M), show
        assert re.search(r"^display name +Zoë O'Neil$", show, re.M), show
        assert re.search(r"^rooms +0$", show, re.M), show
        sj = ok_json(chatd_shared, "user", "show", who)
        assert sj["id"] == uid and sj["username"] == name and sj["rooms"] == 0

    # Second add with the same name, and other bad input: clear errors.
    assert fails(chatd_shared, "user", "add", name) == \
        "chatctl: a user with that username already exists"
    assert "may not be all digits" in fails(chatd_shared, "user", "add", "12345")
    assert "1 to 150 characters" in fails(chatd_shared, "user", "add", "x" * 151)
    assert fails(chatd_shared, "user", "show", "nobody-" + name) == "chatctl: no such user"
    assert ok_json(chatd_shared, "user", "list", "--match", "no-such-" + name) == []
    # A username that is SQL-ish is stored as written.
    odd = h.unique_name("o'x\\y%_")
    ok(chatd_shared, "user", "add", odd)
    assert ok_json(chatd_shared, "user", "show", odd)["username"] == odd
    assert [u["username"] for u in ok_json(chatd_shared, "user", "list", "--match", odd)] == [odd]


def test_user_list_limit(chatd_shared, db):
    for i in range(3):
        h.make_user(db, h.unique_name("lim"))
    assert len(ok_json(chatd_shared, "user", "list", "--limit", "2")) == 2


def test_room_create_token_and_connect(chatd_shared):
    a = h.unique_name("rc_a")
    b = h.unique_name("rc_b")
    ida = int(ok_json(chatd_shared, "user", "add", a)["id"])
    idb = int(ok_json(chatd_shared, "user", "add", b, "--display-name", "Bee")["id"])
    out = ok(chatd_shared, "room", "create", a, str(idb), "--match", "1234")
    m = re.match(r"^created room (\d+) for %s and %s$" % (a, b), out.strip())
    assert m, out
    room = int(m.group(1))
    r = ok_json(chatd_shared, "room", "show", str(room))
    assert (r["id"], r["participant1"], r["participant2"], r["match"]) == (room, ida, idb, 1234)
    assert r["messages"] == 0 and r["connections"] == 0
    h.parse_iso_utc(r["created_at"])
    show = ok(chatd_shared, "room", "show", str(room))
    assert re.search(r"^participant1 name +%s$" % a, show, re.M), show
    assert re.search(r"^match +1234$", show, re.M), show
    lst = ok_json(chatd_shared, "room", "list", "--user", b)
    assert [x["id"] for x in lst] == [room]
    tab = table(ok(chatd_shared, "room", "list", "--user", a))
    assert tab[0][:4] == ["ID", "USER1", "USER2", "MATCH"] and tab[1][:4] == [str(room), a, b, "1234"]

    tok = ok(chatd_shared, "token", a).strip()
    assert tok.count(".") == 2
    hdr, claims = h.jwt_decode_unverified(tok)
    assert hdr["alg"] == "HS256" and claims["user_id"] == ida
    assert 3590 <= claims["exp"] - time.time() <= 3610
    tj = ok_json(chatd_shared, "token", str(idb), "--ttl", "120")
    assert tj["user_id"] == idb and tj["username"] == b
    assert h.jwt_decode_unverified(tj["token"])[1]["exp"] - h.jwt_decode_unverified(tj["token"])[1]["iat"] == 120

    async def go():
        ws = await h.connect(chatd_shared.ws_url(room, tok))
        hello = await h.recv_json(ws)
        assert hello["type"] == "connection_established" and hello["user_id"] == ida
        assert ok_json(chatd_shared, "room", "show", str(room))["connections"] == 1
        assert ok_json(chatd_shared, "user", "show", a)["is_online"] is True
        await ws.close()
    h.run(go())

    # One room per pair and match; another match makes another room.
    assert fails(chatd_shared, "room", "create", b, a, "--match", "1234") == \
        "chatctl: room %d already joins these users with this match" % room
    other = ok_json(chatd_shared, "room", "create", b, a)
    assert other["id"] != room and other["match"] is None
    assert other["participant1"] == idb and other["participant2"] == ida
    assert "already joins" in fails(chatd_shared, "room", "create", a, b)

    # Bad input.
    assert fails(chatd_shared, "room", "create", a, a) == \
        "chatctl: a room joins two different users, not %s twice" % a
    assert fails(chatd_shared, "room", "create", a, "no-" + b) == "chatctl: no user no-%s" % b
    assert fails(chatd_shared, "room", "show", "999999999") == "chatctl: no such room"
    assert fails(chatd_shared, "token", "no-" + a) == "chatctl: no user no-%s" % a


# ---------------------------------------------------------------------------
# connections, kick, health checks

def test_connections_and_kick(chatd, pair):
    async def go():
        a, _ = await h.open_chat(chatd, pair.room, pair.a)
        b, _ = await h.open_chat(chatd, pair.room, pair.b)
        b2, _ = await h.open_chat(chatd, pair.room, pair.b)
        conns = ok_json(chatd, "connections")
        assert sorted(c["user_id"] for c in conns) == sorted([pair.a, pair.b, pair.b])
        for c in conns:
            assert c["room_id"] == pair.room and c["worker"] in (0, 1)
            h.parse_iso_utc(c["since"])
        tab = table(ok(chatd, "connections", "--user", pair.a_name))
        assert tab[0] == ["ID", "WORKER", "USER", "USERNAME", "ROOM", "SINCE"]
        assert len(tab) == 2 and tab[1][2:5] == [str(pair.a), pair.a_name, str(pair.room)], tab
        assert len(ok_json(chatd, "connections", "--room", str(pair.room))) == 3
        assert ok_json(chatd, "connections", "--room", str(pair.room + 100000)) == []
        assert len(ok_json(chatd, "connections", "--user", str(pair.b))) == 2

        # Kick one connection by id: only that one closes.
        a_id = [c["id"] for c in conns if c["user_id"] == pair.a][0]
        assert ok(chatd, "kick", "--conn", str(a_id)).strip() == "kicked 1 connection"
        with pytest.raises(Exception) as e:
            await h.recv_type(a, "message", timeout=10)
        assert a.close_code == 4000 and a.close_reason == "Kicked by administrator", e.value
        # Kick a user: both of b's connections close.
        assert ok_json(chatd, "kick", pair.b_name, "--reason", "Maintenance") == {"kicked": 2}
        for ws in (b, b2):
            with pytest.raises(Exception):
                await h.recv_type(ws, "message", timeout=10)
            assert ws.close_code == 4000 and ws.close_reason == "Maintenance"
        h.wait_for(lambda: ok_json(chatd, "connections") == [], 10, what="connections gone")
        assert fails(chatd, "kick", "--conn", str(a_id)) == "chatctl: no connection %d" % a_id
        assert ok(chatd, "kick", pair.a_name).strip() == "kicked 0 connections"
    h.run(go())
    assert fails(chatd, "kick", pair.a_name, "--code", "1000", code=2).startswith(
        "chatctl: --code must be a number from 3000 to 4999")
    assert fails(chatd, "kick", "no-" + pair.a_name) == "chatctl: no user no-%s" % pair.a_name


def test_health_check(chatd, pair):
    async def go():
        a, _ = await h.open_chat(chatd, pair.room, pair.a)
        b, _ = await h.open_chat(chatd, pair.room, pair.b)
        out = ok(chatd, "health-check", str(pair.room))
        assert out.strip() == "room %d: health check sent to 2 connection(s)" % pair.room
        for ws, uid in ((a, pair.a), (b, pair.b)):
            msg = await h.recv_type(ws, "health_check_response")
            assert msg["room_id"] == pair.room and msg["user_id"] == uid and msg["is_alive"] is True
        allj = ok_json(chatd, "health-check")
        assert allj == [{"room_id": pair.room, "health_check_sent": True, "connections": 2}]
        for ws in (a, b):
            await h.recv_type(ws, "health_check_response")
        one = ok_json(chatd, "health-check", str(pair.room + 100000))
        assert one == {"room_id": pair.room + 100000, "health_check_sent": False, "connections": 0}
        await a.close()
        await b.close()
    h.run(go())
    h.wait_for(lambda: ok_json(chatd, "connections") == [], 10, what="connections gone")
    assert ok(chatd, "health-check").strip() == "no rooms with live connections"


# ---------------------------------------------------------------------------
# provision

def check_fixture(fx, server, n_users, n_rooms):
    assert set(fx) == {"http_base", "ws_base", "jwt_secret", "jwt_alg", "user_id_claim",
                       "users", "rooms"}
    assert fx["http_base"] == "http://127.0.0.1:%d" % server.port
    assert fx["ws_base"] == "ws://127.0.0.1:%d" % server.port
    assert fx["jwt_secret"] == server.jwt_secret and fx["jwt_alg"] == "HS256"
    assert fx["user_id_claim"] == "user_id"
    users, rooms = fx["users"], fx["rooms"]
    assert len(users) == n_users and len(rooms) == n_rooms
    ids = [u["id"] for u in users]
    assert len(set(ids)) == n_users and len({u["username"] for u in users}) == n_users
    for u in users:
        assert set(u) == {"id", "username", "display_name", "token"}
        assert type(u["id"]) is int
    idset = set(ids)
    in_room = set()
    pairs = set()
    for r in rooms:
        assert set(r) == {"id", "participant1", "participant2", "match"}
        assert r["participant1"] != r["participant2"]
        assert r["participant1"] in idset and r["participant2"] in idset
        pairs.add(frozenset((r["participant1"], r["participant2"])))
        in_room.update((r["participant1"], r["participant2"]))
    assert len(pairs) == n_rooms, "a pair of users has two rooms"
    assert len({r["id"] for r in rooms}) == n_rooms
    assert idset - in_room, "every user is in a room"
    return users, rooms


def test_provision_fixture_and_tokens_work(chatd_shared):
    res = chatctl(chatd_shared, "provision", "--users", "1000", "--rooms", "400", timeout=120)
    assert res.returncode == 0, res.stderr
    fx = json.loads(res.stdout)
    users, rooms = check_fixture(fx, chatd_shared, 1000, 400)
    # The database agrees.
    db = chatd_shared.mariadb
    lo, hi = min(u["id"] for u in users), max(u["id"] for u in users)
    names = dict(db.sql("SELECT id, username FROM users WHERE id BETWEEN ? AND ?", lo, hi))
    assert all(names[str(u["id"])] == u["username"] for u in users)
    r0 = rooms[0]
    assert db.sql("SELECT participant1, participant2, match_id FROM rooms WHERE id = ?", r0["id"]) == \
        [(str(r0["participant1"]), str(r0["participant2"]), str(r0["match"]))]
    # --json gives the same document shape.
    fx2 = json.loads(ok(chatd_shared, "--json", "provision", "--users", "3", "--rooms", "1"))
    check_fixture(fx2, chatd_shared, 3, 1)

    by_id = {u["id"]: u for u in users}
    outsider = next(u for u in users if u["id"] not in (r0["participant1"], r0["participant2"]))

    async def go():
        ws = await h.connect(fx["ws_base"] + "/ws/chat/%d/?token=%s"
                             % (r0["id"], by_id[r0["participant1"]]["token"]))
        hello = await h.recv_json(ws)
        assert hello["type"] == "connection_established" and hello["user_id"] == r0["participant1"]
        await ws.close()
        code, _ = await h.expect_refused(fx["ws_base"] + "/ws/chat/%d/?token=%s"
                                         % (r0["id"], outsider["token"]))
        assert code == 4003
    h.run(go())


def test_provision_bad_input(chatd_shared):
    assert fails(chatd_shared, "provision", "--users", "2", "--rooms", "5") == \
        "chatctl: 2 users make at most 1 rooms of two different users"
    assert "at most" in fails(chatd_shared, "provision", "--users", "1", "--rooms", "1")
    assert "needs --users" in fails(chatd_shared, "provision", code=2)
    assert "base URL" in fails(chatd_shared, "provision", "--users", "1", "--base-url", "ftp://x")
    fx = json.loads(ok(chatd_shared, "provision", "--users", "2", "--rooms", "1",
                       "--base-url", "https://chat.example.com/"))
    assert fx["http_base"] == "https://chat.example.com"
    assert fx["ws_base"] == "wss://chat.example.com"


def test_provision_dense_rooms(chatd_shared):
    """As many rooms as the users allow: every pair of the first five."""
    fx = json.loads(ok(chatd_shared, "provision", "--users", "6", "--rooms", "10"))
    users, rooms = check_fixture(fx, chatd_shared, 6, 10)
    assert users[5]["id"] not in {p for r in rooms for p in (r["participant1"], r["participant2"])}
    assert fails(chatd_shared, "provision", "--users", "6", "--rooms", "11") == \
        "chatctl: 6 users make at most 10 rooms of two different users"
    check_fixture(json.loads(ok(chatd_shared, "provision", "--users", "3", "--rooms", "1")),
                  chatd_shared, 3, 1)
    fx = json.loads(ok(chatd_shared, "provision", "--users", "2", "--rooms", "1"))
    assert len(fx["rooms"]) == 1 and fx["rooms"][0]["participant1"] != fx["rooms"][0]["participant2"]
    fx = json.loads(ok(chatd_shared, "provision", "--users", "0", "--rooms", "0"))
    assert fx["users"] == [] and fx["rooms"] == []


def test_provision_100000_users(chatd_shared):
    """The size the load tool uses; timings belong in BENCHMARKS."""
    t0 = time.monotonic()
    res = chatctl(chatd_shared, "provision", "--users", "100000", "--rooms", "50000", timeout=120)
    took = time.monotonic() - t0
    assert res.returncode == 0, res.stderr
    fx = json.loads(res.stdout)
    assert len(fx["users"]) == 100000 and len(fx["rooms"]) == 50000
    assert len({u["id"] for u in fx["users"]}) == 100000
    print("provision 100000/50000 took %.1f s, %.1f MB" % (took, len(res.stdout) / 1e6))
    # chatd kept serving meanwhile.
    assert ok(chatd_shared, "check")


# ---------------------------------------------------------------------------
# reload and shutdown

def test_reload(chatd_shared):
    res = chatctl(chatd_shared, "reload")
    if res.returncode == 0:
        assert res.stdout == "reload requested\n"
    else:
        # This chatd has no SIGHUP handler: say so, and do not die.
        assert res.returncode == 1
        assert res.stderr == "chatctl: this chatd has no SIGHUP handler: reload is not supported\n"
    assert chatd_shared.running()
    # New workers replace the old ones: check passes once they are up.
    h.wait_for(lambda: chatctl(chatd_shared, "check").returncode == 0, 15,
               what="chatctl check after reload")


def test_shutdown(chatd_factory, pair):
    s = chatd_factory()

    async def go():
        ws, _ = await h.open_chat(s, pair.room, pair.a)
        out = ok(s, "shutdown")
        assert out == "chatd stopped\n"
        with pytest.raises(Exception):
            await h.recv_type(ws, "message", timeout=10)
        assert ws.close_code == 1001
    h.run(go())
    assert s.wait_exit(15) == 0
    assert "control: shutdown requested" in s.log_text()
    assert not os.path.exists(control_socket(s))


def test_man_page_is_lint_clean():
    page = os.path.join(h.REPO_ROOT, "man", "chatctl.8")
    res = subprocess.run(["mandoc", "-Tlint", "-W", "warning", page], capture_output=True, text=True)
    assert res.returncode == 0 and res.stdout == "" and res.stderr == "", res.stdout + res.stderr


def test_man_page_examples_work(chatd):
    """The EXAMPLES of chatctl(8), with fresh names and smaller sizes."""
    page = open(os.path.join(h.REPO_ROOT, "man", "chatctl.8")).read()
    examples = page.split(".Sh EXAMPLES", 1)[1].split(".Sh ", 1)[0]
    cmds = [l[2:] for l in examples.splitlines() if l.startswith("# chatctl")]
    assert len(cmds) >= 8, cmds
    alice, bob = h.unique_name("exa"), h.unique_name("exb")
    h.wait_for(lambda: chatctl(chatd, "check").returncode == 0, 10, what="workers up")
    binary = chatctl_binary() + " -c " + chatd.config_path
    room = None
    for cmd in cmds:
        cmd = cmd.replace("alice", alice).replace("bob", bob)
        cmd = cmd.replace("--interval 60", "--interval 1 --count 1")
        cmd = cmd.replace("--users 100000 --rooms 50000", "--users 10 --rooms 3")
        cmd = cmd.replace("> fixture.json", "> %s/fixture.json" % chatd.dir)
        if room is not None:
            cmd = cmd.replace("--room 1", "--room %d" % room)
        res = subprocess.run(cmd.replace("chatctl", binary, 1), shell=True,
                             capture_output=True, text=True, timeout=60)
        assert res.returncode == 0 and "needs attention" not in res.stdout, (cmd, res)
        if " room create " in cmd:
            room = int(re.match(r"created room (\d+)", res.stdout).group(1))
    assert room is not None
    with open(os.path.join(chatd.dir, "fixture.json")) as f:
        assert len(json.load(f)["users"]) == 10


def test_stale_socket_after_a_crash(chatd_factory):
    """chatd killed outright leaves its socket: chatctl says it is refused,
    and the next chatd takes the socket over."""
    s = chatd_factory()
    s.stop(signal.SIGKILL)
    assert os.path.exists(control_socket(s))
    res = chatctl(s, "status")
    assert res.returncode == 1
    assert res.stderr == "chatctl: cannot connect to chatd at %s: Connection refused\n" \
        % control_socket(s)
    h.wait_for(lambda: not s.leftover_workers(grace=0), 10, what="old workers to exit")
    s.start()
    assert ok_json(s, "status")["pid"] == s.pid

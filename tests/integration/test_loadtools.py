"""The load tools against a real chatd: chat-loadtest's modes and
chat-bench driven by a fixture file, as a benchmark run uses them."""

import json
import os
import subprocess
import time

import pytest

import chatd_harness as h


def tool(name):
    path = os.path.join(h.build_dir(), name)
    if not os.access(path, os.X_OK):
        pytest.fail("%s not built at %s" % (name, path))
    return path


def run(args, timeout=60):
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def room_and_token(db, chatd):
    a = h.make_user(db, h.unique_name("lt_a"))
    b = h.make_user(db, h.unique_name("lt_b"))
    room = h.make_room(db, a, b)
    return chatd, room, h.token(a)


def stress_counts(out):
    line = [l for l in out.splitlines() if l.startswith("messages acknowledged")]
    assert line, out
    acked, _, sent = line[0].split()[2:5]
    errors = [l for l in out.splitlines() if l.startswith("held ")][0]
    return int(acked), int(sent), int(errors.rsplit("errors ", 1)[1])


def test_loadtest_stress_counts_acknowledged_messages(db, chatd_factory):
    server = chatd_factory(rate_limit_messages=1000000)
    a = h.make_user(db, h.unique_name("lt_a"))
    room = h.make_room(db, a, h.make_user(db, h.unique_name("lt_b")))
    url = "ws://127.0.0.1:%d/ws/chat/%d/" % (server.port, room)
    r = run([tool("chat-loadtest"), url, h.token(a), "stress", "2"])
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip().endswith("PASS"), r.stdout
    acked, sent, errors = stress_counts(r.stdout)
    assert acked > 0 and acked == sent and errors == 0, r.stdout


def test_loadtest_stress_reports_the_rate_limit(room_and_token):
    server, room, tok = room_and_token
    url = "ws://127.0.0.1:%d/ws/chat/%d/" % (server.port, room)
    r = run([tool("chat-loadtest"), url, tok, "stress", "2"])
    acked, sent, errors = stress_counts(r.stdout)
    # The default limit (a burst of 300, then 30 a second) refuses the rest,
    # each with an error.
    assert 300 <= acked <= 300 + 30 * 3 and errors > 0 and acked + errors == sent, r.stdout


def test_loadtest_long_holds_the_connection(room_and_token):
    server, room, tok = room_and_token
    url = "ws://127.0.0.1:%d/ws/chat/%d/" % (server.port, room)
    r = run([tool("chat-loadtest"), url, tok, "long", "2"])
    assert r.returncode == 0, r.stdout + r.stderr
    assert "held 2." in r.stdout, r.stdout


def test_loadtest_reports_a_refused_token(room_and_token):
    server, room, _ = room_and_token
    url = "ws://127.0.0.1:%d/ws/chat/%d/" % (server.port, room)
    r = run([tool("chat-loadtest"), url, "not-a-token", "basic", "2"])
    assert r.returncode == 1
    assert "code 4001" in r.stdout and r.stdout.strip().endswith("FAIL"), r.stdout


def test_loadtest_rejects_bad_arguments():
    r = run([tool("chat-loadtest"), "http://x/", "t", "basic", "1"])
    assert r.returncode == 2 and "bad URL" in r.stderr
    r = run([tool("chat-loadtest"), "ws://127.0.0.1:1/", "t", "sideways", "1"])
    assert r.returncode == 2 and "unknown mode" in r.stderr


def bench_fixture(db, chatd, tmp_path, pairs, ws_base=None):
    """A fixture file of pairs new rooms, as chatctl provision writes it."""
    users, rooms = [], []
    for i in range(pairs):
        a = h.make_user(db, h.unique_name("bn_a"))
        b = h.make_user(db, h.unique_name("bn_b"))
        rooms.append({"id": h.make_room(db, a, b), "participant1": a, "participant2": b,
                      "match": None})
        users += [{"id": u, "username": "u%d" % u, "display_name": "", "token": h.token(u)}
                  for u in (a, b)]
    fx = {"http_base": "http://127.0.0.1:%d" % chatd.port,
          "ws_base": ws_base or "ws://127.0.0.1:%d" % chatd.port, "jwt_secret": h.DEFAULT_SECRET,
          "jwt_alg": "HS256", "user_id_claim": "user_id", "users": users, "rooms": rooms}
    path = tmp_path / "fixture.json"
    path.write_text(json.dumps(fx))
    return path, [r["id"] for r in rooms]


def test_bench_delivers_every_message(db, chatd, tmp_path):
    path, _ = bench_fixture(db, chatd, tmp_path, 20)
    before = int(db.scalar("SELECT COUNT(*) FROM messages"))
    r = run([tool("chat-bench"), "-f", str(path), "-p", "20", "-r", "400", "-d", "3",
             "-W", "1", "-i", "10", "-J"])
    assert r.returncode == 0, r.stdout + r.stderr
    res = json.loads(r.stdout.strip().splitlines()[-1])
    assert res["conn_ok"] == 50 and res["conn_fail"] == 0, res
    assert res["sent"] > 800 and res["undelivered"] == 0 and res["errors"] == 0, res
    assert res["other_errors"] == 0, res
    assert res["p50_us"] > 0 and res["p99_us"] >= res["p50_us"], res
    assert res["receipts"] == 0, res
    stored = int(db.scalar("SELECT COUNT(*) FROM messages")) - before
    assert stored == res["sent"], (stored, res)


def test_bench_receipts_mark_every_message_read(db, chatd, tmp_path):
    path, room_ids = bench_fixture(db, chatd, tmp_path, 10)
    r = run([tool("chat-bench"), "-f", str(path), "-p", "10", "-r", "200", "-d", "2",
             "-W", "1", "-R", "-J"])
    assert r.returncode == 0, r.stdout + r.stderr
    res = json.loads(r.stdout.strip().splitlines()[-1])
    assert res["undelivered"] == 0 and res["errors"] == 0, res
    assert res["other_errors"] == 0, res
    assert res["receipts"] == 2 * res["delivered"], res
    rooms = ",".join(str(i) for i in room_ids)
    unread = None
    for _ in range(50):
        unread = int(db.scalar("SELECT COUNT(*) FROM messages WHERE room_id IN (%s)"
                               " AND (status <> 3 OR read_at IS NULL)" % rooms))
        if unread == 0:
            break
        time.sleep(0.1)
    assert unread == 0, "%d messages not marked read" % unread
    assert int(db.scalar("SELECT COUNT(*) FROM messages WHERE room_id IN (%s)"
                         % rooms)) == res["sent"]


def test_bench_over_wss_delivers_every_message(db, chatd_factory, cert, tmp_path):
    """chat-bench's TLS connections, which libevent writes itself, against
    a chatd terminating TLS."""
    port = h.free_port()
    s = chatd_factory(port=port, listen="127.0.0.1:%d tls" % port,
                      tls_certificate=cert[0], tls_key=cert[1])
    path, _ = bench_fixture(db, s, tmp_path, 10, ws_base="wss://127.0.0.1:%d" % port)
    before = int(db.scalar("SELECT COUNT(*) FROM messages"))
    r = run([tool("chat-bench"), "-f", str(path), "-p", "10", "-r", "200", "-d", "2",
             "-W", "1", "-J"])
    assert r.returncode == 0, r.stdout + r.stderr
    res = json.loads(r.stdout.strip().splitlines()[-1])
    assert res["conn_ok"] == 20 and res["conn_fail"] == 0, res
    assert res["sent"] > 300 and res["undelivered"] == 0 and res["errors"] == 0, res
    assert res["other_errors"] == 0 and res["dropped"] == 0, res
    assert int(db.scalar("SELECT COUNT(*) FROM messages")) - before == res["sent"]

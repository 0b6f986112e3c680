"""End-to-end behaviour of chatd's WebSocket chat, as a client sees it.

Each test talks to a real chatd (two workers) backed by a private MariaDB,
over real sockets, with the `websockets` client library.
"""

import asyncio
import datetime
import json
import os
import re
import signal

import pytest

import chatd_harness as h


# ---------------------------------------------------------------------------
# helpers

class Pair:
    """Two users (alice_N, bob_N) and their room."""

    def __init__(self, db):
        self.a_name = h.unique_name("alice")
        self.b_name = h.unique_name("bob")
        self.a = h.make_user(db, self.a_name, "Alice")
        self.b = h.make_user(db, self.b_name, "Bob")
        self.room = h.make_room(db, self.a, self.b, match=4242)


@pytest.fixture
def pair(db):
    return Pair(db)


def is_int(v):
    return type(v) is int


def check_timestamp(value, what):
    t = h.parse_iso_utc(value)
    now = datetime.datetime.now(datetime.timezone.utc)
    assert abs((now - t).total_seconds()) < 300, "%s %r is far from now (%s)" % (what, value, now)


def check_established(msg, room, user):
    assert set(msg) == {"type", "room_id", "user_id", "timestamp", "heartbeat_interval",
                        "connection_timeout"}, "connection_established keys: %r" % (msg,)
    assert msg["type"] == "connection_established"
    assert is_int(msg["room_id"]) and msg["room_id"] == room, msg
    assert is_int(msg["user_id"]) and msg["user_id"] == user, msg
    check_timestamp(msg["timestamp"], "connection_established timestamp")
    assert is_int(msg["heartbeat_interval"]) and msg["heartbeat_interval"] == h.HEARTBEAT_INTERVAL, msg
    assert is_int(msg["connection_timeout"]) and msg["connection_timeout"] == h.CONNECTION_TIMEOUT, msg


MESSAGE_KEYS = {"id", "content", "sender_id", "sender_username", "status", "created_at", "room_id"}


def check_message(msg, room, sender, sender_username, content, temp_id=None):
    """Check a delivered `message` against the contract; returns its id.
    temp_id: the sender's temp_id that this copy must carry (None: not
    checked)."""
    assert msg.get("type") == "message", msg
    assert set(msg) - {"temp_id"} == {"type", "message", "delivery_id"}, \
        "message envelope keys: %r" % (sorted(msg),)
    m = msg["message"]
    assert isinstance(m, dict), msg
    assert set(m) - {"temp_id"} == MESSAGE_KEYS, "message keys: %r" % (sorted(m),)
    assert is_int(m["id"]) and m["id"] > 0, m
    assert m["content"] == content, "content %r != sent %r" % (m["content"], content)
    assert is_int(m["sender_id"]) and m["sender_id"] == sender, m
    assert m["sender_username"] == sender_username, m
    assert m["status"] == "sent", m
    check_timestamp(m["created_at"], "message created_at")
    assert is_int(m["room_id"]) and m["room_id"] == room, m
    # "msg_<id>_<unix seconds>.<milliseconds>" of the message's created_at.
    created_ms = round(h.parse_iso_utc(m["created_at"]).timestamp() * 1000)
    assert msg["delivery_id"] == "msg_%d_%d.%03d" % (m["id"], created_ms // 1000,
                                                     created_ms % 1000), msg
    if temp_id is not None:
        assert h.message_temp_id(msg) == temp_id, "sender's copy lacks temp_id %r: %r" % (temp_id, msg)
    return m["id"]


async def send(ws, content, temp_id=None, escape=False, **more):
    """Send a chat message; escape=True writes non-ASCII as \\uXXXX escapes
    (surrogate pairs beyond the BMP), as many JSON encoders do."""
    body = {"type": "message", "content": content}
    if temp_id is not None:
        body["temp_id"] = temp_id
    body.update(more)
    await ws.send(json.dumps(body, ensure_ascii=escape))


async def connect_pair(server, pair):
    wa, hello_a = await h.open_chat(server, pair.room, pair.a)
    wb, hello_b = await h.open_chat(server, pair.room, pair.b)
    return wa, wb, hello_a, hello_b


def message_row(db, mid):
    rows = db.sql("SELECT room_id, sender_id, content, status, temp_id FROM messages WHERE id = ?", mid)
    if not rows:
        return None
    r = rows[0]
    return (int(r[0]), int(r[1]), r[2], int(r[3]), r[4])


# ---------------------------------------------------------------------------
# schema installation

def test_install_is_repeatable(db, chatd_factory):
    """`chatd -i` on an installed database succeeds again and leaves it at
    the current version."""
    s = chatd_factory(start=False)
    res = s.run("-i")
    assert res.returncode == 0, res.stdout + res.stderr
    assert int(db.scalar("SELECT MAX(version) FROM schema_version")) == h.current_schema_version()
    tables = {r[0] for r in db.sql("SHOW TABLES")}
    assert {"users", "rooms", "messages", "schema_version"} <= tables


# ---------------------------------------------------------------------------
# connecting and chatting

def test_connection_established(chatd, pair):
    async def main():
        wa = await h.connect(chatd.ws_url(pair.room, h.token(pair.a)))
        check_established(await h.recv_json(wa), pair.room, pair.a)
        wb = await h.connect(chatd.ws_url(pair.room, h.token(pair.b)))
        check_established(await h.recv_json(wb), pair.room, pair.b)
        await wa.close()
        await wb.close()

    h.run(main())


def test_message_exchange(chatd, pair):
    async def main():
        wa, wb, _, _ = await connect_pair(chatd, pair)

        await send(wa, "hello", "t1")
        got_a = await h.recv_type(wa, "message")
        got_b = await h.recv_type(wb, "message")
        id1 = check_message(got_a, pair.room, pair.a, pair.a_name, "hello", temp_id="t1")
        assert check_message(got_b, pair.room, pair.a, pair.a_name, "hello") == id1
        assert got_a["message"]["created_at"] == got_b["message"]["created_at"]

        await send(wb, "hi alice", "b1")
        got_b2 = await h.recv_type(wb, "message")
        got_a2 = await h.recv_type(wa, "message")
        id2 = check_message(got_a2, pair.room, pair.b, pair.b_name, "hi alice")
        assert check_message(got_b2, pair.room, pair.b, pair.b_name, "hi alice", temp_id="b1") == id2
        assert id2 > id1, "ids must increase: %d then %d" % (id1, id2)

        await wa.close()
        await wb.close()

    h.run(main())


NON_ASCII = [
    "héllo wörld, naïve café — ¿qué tal? Ærøskøbing",
    "emoji 😀👍🏽 family 👩‍👩‍👧 flag 🇵🇹 and ZWJ 👩‍💻",
    "中文 日本語 한국어 עברית العربية ελληνικά кириллица",
    "combining e\u0301 vs \u00e9, quotes \" ' \\ back\\slash, <tag> & {json}",
    "two\nlines\tand a tab",
]


def test_non_ascii_round_trip(chatd, pair, db):
    """Content comes back exactly as sent, to both sides and in the DB,
    whether the client wrote it as raw UTF-8 or as \\u escapes."""
    texts = NON_ASCII + NON_ASCII

    async def main():
        wa, wb, _, _ = await connect_pair(chatd, pair)
        ids = []
        for i, text in enumerate(texts):
            sender_ws, sender, name = (wa, pair.a, pair.a_name) if i % 2 == 0 else (wb, pair.b, pair.b_name)
            await send(sender_ws, text, "u%d" % i, escape=i >= len(NON_ASCII))
            ma = await h.recv_type(wa, "message")
            mb = await h.recv_type(wb, "message")
            mid = check_message(ma, pair.room, sender, name, text)
            assert check_message(mb, pair.room, sender, name, text) == mid
            ids.append(mid)
        await wa.close()
        await wb.close()
        return ids

    ids = h.run(main())
    for mid, text in zip(ids, texts):
        hexed = db.scalar("SELECT HEX(content) FROM messages WHERE id = ?", mid)
        assert hexed == text.encode("utf-8").hex().upper(), \
            "stored bytes of message %d differ from the UTF-8 that was sent" % mid


def test_messages_are_stored(chatd, pair, db):
    async def main():
        wa, wb, _, _ = await connect_pair(chatd, pair)
        await send(wa, "stored please", "s1")
        ida = check_message(await h.recv_type(wa, "message"), pair.room, pair.a, pair.a_name,
                            "stored please", temp_id="s1")
        await h.recv_type(wb, "message")
        await send(wb, "me too", "s2")
        idb = check_message(await h.recv_type(wb, "message"), pair.room, pair.b, pair.b_name,
                            "me too", temp_id="s2")
        await h.recv_type(wa, "message")
        await wa.close()
        await wb.close()
        return ida, idb

    ida, idb = h.run(main())
    assert message_row(db, ida) == (pair.room, pair.a, "stored please", 1, "s1")
    assert message_row(db, idb) == (pair.room, pair.b, "me too", 1, "s2")
    rows = db.sql("SELECT id FROM messages WHERE room_id = ? ORDER BY id", pair.room)
    assert [int(r[0]) for r in rows] == [ida, idb]
    stamps = db.sql("SELECT created_at IS NOT NULL, updated_at IS NOT NULL FROM messages WHERE id = ?", ida)
    assert stamps == [("1", "1")]


def test_delivered_only_after_stored(chatd, pair, db):
    """Whenever a client receives a message, its row is already in MariaDB;
    while the messages table is locked, nothing is delivered."""
    async def main():
        wa, wb, _, _ = await connect_pair(chatd, pair)

        # 1. Right after each receipt, the row exists.
        for i in range(10):
            await send(wa if i % 2 == 0 else wb, "check %d" % i, "c%d" % i)
            for ws in (wb, wa) if i % 2 == 0 else (wa, wb):
                m = await h.recv_type(ws, "message")
                row = message_row(db, m["message"]["id"])
                assert row is not None, "message %d delivered before it was stored" % m["message"]["id"]
                assert row[2] == "check %d" % i

        # 2. With the table write-locked by another session, the message
        #    cannot be committed, so it must not be delivered to anyone.
        with db.session() as lock:
            lock.execute("LOCK TABLES messages WRITE")
            await send(wa, "held back", "held")
            early = []
            for ws in (wa, wb):
                try:
                    early.append(await h.recv_type(ws, ("message", "error"), timeout=2))
                except asyncio.TimeoutError:
                    pass
            assert not early, "delivered while the row could not be written: %r" % (early,)
            lock.execute("UNLOCK TABLES")

        for ws in (wa, wb):
            m = await h.recv_type(ws, "message", timeout=20)
            assert m["message"]["content"] == "held back"
            assert message_row(db, m["message"]["id"]) is not None
        await wa.close()
        await wb.close()

    h.run(main())


# ---------------------------------------------------------------------------
# refusals

def _refusal_cases():
    # (name, function(server, db, pair) -> url, expected close code)
    def url(room_of, tok_of):
        return lambda s, db, p: s.ws_url(room_of(db, p), tok_of(s, db, p))

    room = lambda db, p: p.room  # noqa: E731
    good = lambda s, db, p: h.token(p.a)  # noqa: E731
    return [
        ("no token", lambda s, db, p: s.ws_url(p.room), 4001),
        ("empty token", url(room, lambda s, db, p: ""), 4001),
        ("garbage token", url(room, lambda s, db, p: "not-a-jwt"), 4001),
        ("three garbage parts", url(room, lambda s, db, p: "abc.def.ghi"), 4001),
        ("wrong secret", url(room, lambda s, db, p: h.token(p.a, secret="not-the-secret")), 4001),
        ("expired", url(room, lambda s, db, p: h.token(p.a, exp_offset=-3600)), 4001),
        ("alg none", url(room, lambda s, db, p: h.token(p.a, alg="none")), 4001),
        ("alg none, no signature part",
         url(room, lambda s, db, p: h.token(p.a, alg="none").rstrip(".")), 4001),
        ("other HMAC alg", url(room, lambda s, db, p: h.token(p.a, alg="HS512")), 4001),
        ("missing user claim", url(room, lambda s, db, p: h.token(None)), 4001),
        ("tampered payload", url(room, lambda s, db, p: _tampered(p)), 4001),
        ("unknown user", url(room, lambda s, db, p: h.token(h.missing_user_id(db))), 4001),
        ("not a participant", url(room, lambda s, db, p: h.token(p.outsider)), 4003),
        ("no such room", url(lambda db, p: h.missing_room_id(db), good), 4004),
        ("non-numeric room", url(lambda db, p: "abc", good), 4004),
    ]


def _tampered(p):
    """A's valid signature on a payload changed to name B."""
    good = h.token(p.a).split(".")
    _, payload = h.jwt_decode_unverified(h.token(p.a))
    payload["user_id"] = p.b
    return "%s.%s.%s" % (good[0], h.b64url(json.dumps(payload, separators=(",", ":"))), good[2])


REFUSALS = _refusal_cases()


@pytest.mark.parametrize("name,make_url,code", REFUSALS, ids=[c[0] for c in REFUSALS])
def test_refused_connection(chatd_shared, db, name, make_url, code):
    p = Pair(db)
    p.outsider = h.make_user(db, h.unique_name("carol"), "Carol")
    target = make_url(chatd_shared, db, p)

    async def main():
        got, reason = await h.expect_refused(target)
        assert got == code, "%s: close code %s (%r), expected %s" % (name, got, reason, code)
        # The server still serves a legitimate participant afterwards.
        ws, hello = await h.open_chat(chatd_shared, p.room, p.a)
        check_established(hello, p.room, p.a)
        await ws.close()

    h.run(main())


@pytest.mark.parametrize("name,make_token", [
    ("user id as a string of digits", lambda p: h.token(str(p.a))),
    ("exp at the end of time", lambda p: h.token(p.a, exp_offset=None,
                                                 extra={"exp": 2 ** 63 - 1})),
    ("nbf at the start of time", lambda p: h.token(p.a, extra={"nbf": -2 ** 63})),
], ids=lambda v: v if isinstance(v, str) else "")
def test_accepted_token_shapes(chatd_shared, db, name, make_token):
    p = Pair(db)

    async def main():
        ws = await h.connect(chatd_shared.ws_url(p.room, make_token(p)))
        hello = await h.recv_json(ws)
        assert hello.get("type") == "connection_established", (name, hello)
        check_established(hello, p.room, p.a)
        await ws.close()

    h.run(main())


# ---------------------------------------------------------------------------
# load

def test_burst_from_both_sides(chatd, pair, db):
    """200 messages from each side at once: every one reaches both clients,
    in the same order at both, once, in id order, and is stored."""
    N = 200
    total = 2 * N

    async def sender(ws, tag):
        for i in range(N):
            await send(ws, "%s says %d" % (tag, i), "%s-%d" % (tag, i))

    async def receiver(ws):
        got = []
        while len(got) < total:
            got.append(await h.recv_type(ws, "message", timeout=30))
        return got

    async def main():
        wa, wb, _, _ = await connect_pair(chatd, pair)
        _, _, got_a, got_b = await asyncio.gather(sender(wa, "A"), sender(wb, "B"),
                                                  receiver(wa), receiver(wb))
        # Nothing more arrives.
        for ws in (wa, wb):
            with pytest.raises(asyncio.TimeoutError):
                extra = await h.recv_type(ws, "message", timeout=1)
                print("extra message:", extra)
        await wa.close()
        await wb.close()
        return got_a, got_b

    got_a, got_b = h.run(main(), timeout=180)
    ids_a = [m["message"]["id"] for m in got_a]
    ids_b = [m["message"]["id"] for m in got_b]
    assert len(set(ids_a)) == total, "duplicates at A"
    assert len(set(ids_b)) == total, "duplicates at B"
    assert ids_a == ids_b, "A and B saw different orders"
    assert ids_a == sorted(ids_a), "delivery order is not id order"

    for got in (got_a, got_b):
        for tag, uid in (("A", pair.a), ("B", pair.b)):
            mine = [m["message"]["content"] for m in got if m["message"]["sender_id"] == uid]
            assert mine == ["%s says %d" % (tag, i) for i in range(N)], \
                "%s's messages not all there, or not in the order sent" % tag

    for m in got_a:
        if m["message"]["sender_id"] == pair.a:
            assert h.message_temp_id(m) == "A-" + m["message"]["content"].split()[-1]
    for m in got_b:
        if m["message"]["sender_id"] == pair.b:
            assert h.message_temp_id(m) == "B-" + m["message"]["content"].split()[-1]

    rows = db.sql("SELECT id, sender_id, content, temp_id, status FROM messages"
                  " WHERE room_id = ? ORDER BY id", pair.room)
    stored = [(int(r[0]), int(r[1]), r[2], r[3], int(r[4])) for r in rows]
    expected = []
    for m in got_a:
        mm = m["message"]
        tag = "A" if mm["sender_id"] == pair.a else "B"
        expected.append((mm["id"], mm["sender_id"], mm["content"],
                         "%s-%s" % (tag, mm["content"].split()[-1]), 1))
    assert stored == expected


# ---------------------------------------------------------------------------
# supervision

def test_worker_respawn(chatd, db):
    before = chatd.worker_pids()
    assert len(before) == 2, "expected 2 workers, found %r" % before
    victim = before[0]
    os.kill(victim, signal.SIGKILL)

    def replaced():
        now = chatd.worker_pids()
        return now if len(now) == 2 and victim not in now else None

    try:
        after = h.wait_for(replaced, timeout=10, what="a replacement worker")
    except TimeoutError:
        pytest.fail("no replacement for killed worker %d within 10 s (workers now %r)"
                    % (victim, chatd.worker_pids()))
    assert chatd.running(), "chatd itself died when a worker was killed"
    assert set(after) - set(before), after

    async def main():
        # Several pairs, so that both workers are most likely used.
        for _ in range(4):
            p = Pair(db)
            wa, wb, _, _ = await connect_pair(chatd, p)
            await send(wa, "still here", "r1")
            check_message(await h.recv_type(wa, "message"), p.room, p.a, p.a_name, "still here",
                          temp_id="r1")
            check_message(await h.recv_type(wb, "message"), p.room, p.a, p.a_name, "still here")
            await wa.close()
            await wb.close()

    h.run(main())


# ---------------------------------------------------------------------------
# start-up checks of the schema

RUN_INSTALL_RE = re.compile(r"(?<![\w-])-i(?![\w-])")


def _refuses_then_installs(chatd_factory, db, dbname):
    s = chatd_factory(start=False, database_name=dbname)
    s.start(wait=False)
    try:
        status = s.wait_exit(20)
    except h.ChatdError as e:
        pytest.fail("chatd kept running against database %s: %s" % (dbname, e))
    log = s.log_text()
    assert status != 0, "chatd exited with status 0 against %s; log:\n%s" % (dbname, log)
    assert RUN_INSTALL_RE.search(log), "the log does not tell to run chatd -i:\n%s" % log

    # Doing what it says makes it start.
    s.install()
    assert int(db.scalar("SELECT MAX(version) FROM schema_version", database=dbname)) \
        == h.current_schema_version()
    s.start()
    s.stop()
    assert s.returncode == 0, s.log_tail()


def test_refuses_database_without_schema(chatd_factory, db):
    dbname = "chatd_empty"
    db.sql("DROP DATABASE IF EXISTS %s; CREATE DATABASE %s CHARACTER SET utf8mb4" % (dbname, dbname),
           database=None)
    try:
        _refuses_then_installs(chatd_factory, db, dbname)
    finally:
        db.sql("DROP DATABASE IF EXISTS %s" % dbname, database=None)


def test_refuses_older_schema_version(chatd_factory, db):
    dbname = "chatd_old"
    db.sql("DROP DATABASE IF EXISTS %s; CREATE DATABASE %s CHARACTER SET utf8mb4" % (dbname, dbname),
           database=None)
    try:
        db.sql("CREATE TABLE schema_version (version INT UNSIGNED NOT NULL PRIMARY KEY,"
               " applied_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3))"
               " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4; INSERT INTO schema_version (version) VALUES (0)",
               database=dbname)
        _refuses_then_installs(chatd_factory, db, dbname)
    finally:
        db.sql("DROP DATABASE IF EXISTS %s" % dbname, database=None)

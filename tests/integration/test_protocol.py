"""The WebSocket chat protocol message by message, as a client sees it:
each client -> server type with its answers and its bad inputs, status
flow, typing, presence, heartbeat and replay.  Real chatd, real MariaDB,
real sockets.
"""

import asyncio
import base64
import json
import os
import socket
import struct

import pytest
import websockets

import chatd_harness as h


class Pair:
    def __init__(self, db):
        self.a_name = h.unique_name("ann")
        self.b_name = h.unique_name("ben")
        self.a = h.make_user(db, self.a_name, "Ann")
        self.b = h.make_user(db, self.b_name, "Ben")
        self.room = h.make_room(db, self.a, self.b)


@pytest.fixture
def pair(db):
    return Pair(db)


def is_int(v):
    return type(v) is int


async def open_pair(server, pair):
    """Both participants connected to their room."""
    wa, _ = await h.open_chat(server, pair.room, pair.a)
    wb, _ = await h.open_chat(server, pair.room, pair.b)
    return wa, wb


async def close_all(*sockets):
    for ws in sockets:
        await ws.close()


async def close_code(ws, timeout=5):
    """Read until the server closes; the code of its close frame."""
    with pytest.raises(websockets.exceptions.ConnectionClosed) as ei:
        while True:
            await h.recv_json(ws, timeout)
    assert ei.value.rcvd is not None, "closed without a close frame: %r" % ei.value
    return ei.value.rcvd.code


async def send_json(ws, **body):
    await ws.send(json.dumps(body))


async def recv_until(ws, wanted, timeout=5):
    """Next message of type `wanted`, skipping every other type."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        left = deadline - loop.time()
        if left <= 0:
            raise asyncio.TimeoutError("no %s within %ss" % (wanted, timeout))
        msg = await h.recv_json(ws, left)
        if msg.get("type") == wanted:
            return msg


async def nothing_of(ws, wanted, timeout=0.8):
    """Assert no message of type `wanted` arrives within timeout."""
    try:
        msg = await recv_until(ws, wanted, timeout)
    except asyncio.TimeoutError:
        return
    raise AssertionError("unexpected %s: %r" % (wanted, msg))


async def still_usable(ws):
    """The connection still answers: a JSON ping gets its pong."""
    await send_json(ws, type="ping", timestamp="2024-12-25T10:30:00Z")
    pong = await recv_until(ws, "pong")
    h.parse_iso_utc(pong["server_time"])


async def post(ws, content, temp_id):
    await send_json(ws, type="message", content=content, temp_id=temp_id)
    while True:
        m = await recv_until(ws, "message")
        if h.message_temp_id(m) == temp_id:
            return m["message"]["id"]


def stored_count(db, room):
    return int(db.scalar("SELECT COUNT(*) FROM messages WHERE room_id = ?", room))


def check_error(msg, text):
    assert msg["type"] == "error", msg
    assert msg["message"] == text, msg
    h.parse_iso_utc(msg["timestamp"])


# ---------------------------------------------------------------------------
# Settings: each test below runs its own chatd.  They come first in this
# file on purpose: the module's shared chatd starts with the first test
# that uses it, and two brokers must never allocate message ids on one
# database at the same time.

def test_message_size_limit_is_configurable(chatd_factory, pair, db):
    s = chatd_factory(message_size_limit=10)

    async def main():
        ws, _ = await h.open_chat(s, pair.room, pair.a)
        await send_json(ws, type="message", content="x" * 11)
        check_error(await recv_until(ws, "error"), "Message too long (max 10 characters)")
        await post(ws, "y" * 10, "ok")
        await ws.close()

    h.run(main())
    assert stored_count(db, pair.room) == 1


def test_rate_limit(chatd_factory, pair, db):
    s = chatd_factory(rate_limit_messages=5, rate_limit_window=60)

    async def main():
        ws, _ = await h.open_chat(s, pair.room, pair.a)
        for i in range(5):
            await send_json(ws, type="message", content="m%d" % i, temp_id="r%d" % i)
        await send_json(ws, type="message", content="one too many", temp_id="r5")
        # The refusal and the stored messages may arrive in either order.
        got, errors = [], []
        while len(got) < 5 or not errors:
            m = await h.recv_json(ws, 5)
            if m["type"] == "message":
                got.append(m["message"]["content"])
            elif m["type"] == "error":
                errors.append(m)
        check_error(errors[0], "Rate limit exceeded (max 5 messages per 60 seconds)")
        assert errors[0]["temp_id"] == "r5" and len(errors) == 1, errors
        assert got == ["m%d" % i for i in range(5)]
        await still_usable(ws)
        await ws.close()

    h.run(main())
    assert stored_count(db, pair.room) == 5


def test_status_of_message_not_in_memory(chatd_factory, pair, db):
    """A message stored before this chatd started is looked up in MariaDB."""
    mid = int(db.scalar("SELECT COALESCE(MAX(id), 0) + 1 FROM messages"))
    db.sql("INSERT INTO messages (id, room_id, sender_id, content, status, created_at, updated_at)"
           " VALUES (?, ?, ?, 'old one', 1, NOW(3), NOW(3))", mid, pair.room, pair.a)
    s = chatd_factory()

    async def main():
        wa, wb = await open_pair(s, pair)
        await send_json(wb, type="message_delivered", message_id=mid)
        check_status_update(await recv_until(wa, "message_status_update"), mid,
                            "delivered", pair.b)
        await close_all(wa, wb)

    h.run(main())
    assert status_row(db, mid) == (2, True, False)


def test_many_old_messages_looked_up_in_batches(chatd_factory, pair, db):
    """2 500 messages stored before chatd started, all marked read at once,
    and 50 ids that exist nowhere: every stored one is moved and
    announced in order, every unknown one is answered "Message not found",
    and lookups that pile up go to MariaDB a thousand to a SELECT."""
    from test_operations import scrape
    n, unknown = 2500, 50
    top = int(db.scalar("SELECT COALESCE(MAX(id), 0) FROM messages"))
    ids = list(range(top + 1, top + 1 + n))
    db.sql("INSERT INTO messages (id, room_id, sender_id, content, status, created_at,"
           " updated_at) SELECT ? + seq, ?, ?, CONCAT('old ', seq), 1, NOW(3), NOW(3)"
           " FROM seq_1_to_%d" % n, top, pair.room, pair.a)
    admin = h.free_port()
    s = chatd_factory(admin_listen="127.0.0.1:%d" % admin)
    missing = [top + 1000000 + k for k in range(unknown)]
    lock = db.session()

    async def main():
        wa, wb = await open_pair(s, pair)
        before = scrape(admin)
        asked = []
        for k, mid in enumerate(ids):
            asked.append(mid)
            if k % 50 == 0:
                asked.append(missing[k // 50])
        # The first SELECT waits for the table lock; the rest pile up.
        lock.execute("LOCK TABLES messages WRITE")
        for mid in asked:
            await send_json(wb, type="message_read", message_id=mid)
        await asyncio.sleep(1.0)
        lock.execute("UNLOCK TABLES")
        # Bob hears of his own changes too; reading them all lets his
        # connection close without a backlog.
        errors = told_bob = 0
        while errors < unknown or told_bob < n:
            m = await h.recv_json(wb, 30)
            if m.get("type") == "error":
                assert m["message"] == "Message not found", m
                errors += 1
            elif m.get("type") == "message_status_update":
                told_bob += 1
        seen = []
        while len(seen) < n:
            m = await h.recv_json(wa, 30)
            if m.get("type") == "message_status_update":
                assert m["status"] == "read", m
                seen.append(m["message_id"])
        after = scrape(admin)
        await close_all(wa, wb)
        return seen, before, after

    try:
        seen, before, after = h.run(main(), timeout=120)
    finally:
        lock.close()
    assert seen == ids, "announced out of order or incompletely"
    looked = after["chatd_status_lookups_total"] - before["chatd_status_lookups_total"]
    queries = (after["chatd_status_lookup_queries_total"]
               - before["chatd_status_lookup_queries_total"])
    assert looked == n + unknown, (looked, queries)
    # One for the first request, then 2 549 a thousand at a time.
    assert queries <= 5, "%d lookups took %d SELECTs" % (looked, queries)
    assert db.scalar("SELECT COUNT(*) FROM messages WHERE room_id = ? AND status = 3",
                     pair.room) == str(n)


def test_lookups_one_connection_may_pile_up_are_bounded(chatd_factory, pair, db):
    """A client that floods status requests for unknown ids while MariaDB
    is slow gets 5 000 of them looked up and "try again" for the rest;
    every request gets an answer and the connection stays usable."""
    s = chatd_factory()
    flood, limit = 5100, 5000
    lock = db.session()

    async def main():
        wa, wb = await open_pair(s, pair)
        lock.execute("LOCK TABLES messages WRITE")
        for k in range(flood):
            await send_json(wb, type="message_read", message_id=10 ** 12 + k)
        await asyncio.sleep(1.0)
        lock.execute("UNLOCK TABLES")
        answers = {}
        while sum(answers.values()) < flood:
            m = await h.recv_json(wb, 30)
            assert m.get("type") == "error", m
            answers[m["message"]] = answers.get(m["message"], 0) + 1
        await still_usable(wb)
        await close_all(wa, wb)
        return answers

    try:
        answers = h.run(main(), timeout=120)
    finally:
        lock.close()
    assert answers == {"Message not found": limit,
                       "Status update failed, try again": flood - limit}, answers


def test_lookups_of_a_closed_connection_are_dropped(chatd_factory, pair, db):
    """Lookups still waiting when their connection closes are never sent to
    MariaDB: a client cannot flood, reconnect and flood again."""
    from test_operations import scrape
    admin = h.free_port()
    s = chatd_factory(admin_listen="127.0.0.1:%d" % admin)
    lock = db.session()

    async def main():
        wa, wb = await open_pair(s, pair)
        before = scrape(admin)
        lock.execute("LOCK TABLES messages WRITE")
        for k in range(3000):
            await send_json(wb, type="message_read", message_id=10 ** 12 + k)
        await still_usable(wb)      # all 3 000 have reached the broker
        await wb.close()
        wb2, _ = await h.open_chat(s, pair.room, pair.b)
        for k in range(10):
            await send_json(wb2, type="message_read", message_id=2 * 10 ** 12 + k)
        await still_usable(wb2)
        lock.execute("UNLOCK TABLES")
        for _ in range(10):
            m = await recv_until(wb2, "error", timeout=30)
            assert m["message"] == "Message not found", m
        after = scrape(admin)
        await close_all(wa, wb2)
        return before, after

    try:
        before, after = h.run(main(), timeout=120)
    finally:
        lock.close()
    # The first of the flood was in flight; the rest went with wb.
    sent = after["chatd_status_lookups_total"] - before["chatd_status_lookups_total"]
    assert sent == 1 + 10, sent


def test_typing_expires(chatd_factory, pair):
    s = chatd_factory(typing_timeout=1)

    async def main():
        wa, wb = await open_pair(s, pair)
        loop = asyncio.get_running_loop()
        await send_json(wa, type="typing_on")
        check_typing(await recv_until(wb, "typing"), pair.a, pair.a_name, True)
        t0 = loop.time()
        check_typing(await recv_until(wb, "typing", timeout=4), pair.a, pair.a_name, False)
        assert loop.time() - t0 >= 0.8, "typing expired too early"
        await close_all(wa, wb)

    h.run(main())


def test_heartbeat_ping_sequence_and_timeout(chatd_factory, pair):
    s = chatd_factory(heartbeat_interval=1, ping_timeout=1, max_reconnect_attempts=2)

    async def main():
        ws, hello = await h.open_chat(s, pair.room, pair.a)
        assert hello["heartbeat_interval"] == 1
        seqs = []
        for _ in range(2):
            ping = await recv_until(ws, "ping", timeout=4)
            assert set(ping) == {"type", "timestamp", "sequence"}, ping
            h.parse_iso_utc(ping["timestamp"])
            seqs.append(ping["sequence"])
            await send_json(ws, type="pong", timestamp=ping["timestamp"],
                            client_time=ping["timestamp"])
        assert all(is_int(x) for x in seqs) and seqs[1] > seqs[0] >= 1, seqs
        # Now stop answering.
        for attempt in (1, 2):
            rs = await recv_until(ws, "reconnect_suggested", timeout=5)
            assert rs == {"type": "reconnect_suggested", "reason": "ping_timeout",
                          "attempts": attempt, "max_attempts": 2}, rs
        assert await close_code(ws) == 4008

    h.run(main())


def test_ws_pong_frames_count_as_pongs(chatd_factory, pair):
    """A client answering with WebSocket pong frames (unsolicited, as a
    keep-alive) is not timed out."""
    s = chatd_factory(heartbeat_interval=1, ping_timeout=1, max_reconnect_attempts=1)

    async def main():
        ws, _ = await h.open_chat(s, pair.room, pair.a)
        for _ in range(3):
            await recv_until(ws, "ping", timeout=4)
            await ws.pong(b"alive")
        await still_usable(ws)
        await ws.close()

    h.run(main())


def test_connection_timeout(chatd_factory, pair):
    s = chatd_factory(connection_timeout=2)

    async def main():
        ws, hello = await h.open_chat(s, pair.room, pair.a)
        assert hello["connection_timeout"] == 2
        rs = await recv_until(ws, "reconnect_suggested", timeout=5)
        assert rs["reason"] == "connection_timeout", rs
        assert set(rs) == {"type", "reason", "attempts", "max_attempts"}, rs
        assert await close_code(ws) == 4009

    h.run(main())


# ---------------------------------------------------------------------------
# ping, pong, connection_check

def test_ping_gets_pong(chatd_shared, pair):
    async def main():
        ws, _ = await h.open_chat(chatd_shared, pair.room, pair.a)
        await send_json(ws, type="ping", timestamp="2024-12-25T10:30:00Z")
        pong = await h.recv_json(ws)
        assert set(pong) == {"type", "timestamp", "server_time"}, pong
        assert pong["type"] == "pong"
        h.parse_iso_utc(pong["timestamp"])
        h.parse_iso_utc(pong["server_time"])
        # A WebSocket-level ping frame is answered with a pong frame.
        waiter = await ws.ping(b"are you there")
        await asyncio.wait_for(waiter, 5)
        await ws.close()

    h.run(main())


def test_connection_check(chatd_shared, pair):
    async def main():
        ws, _ = await h.open_chat(chatd_shared, pair.room, pair.a)
        await asyncio.sleep(1.1)
        await send_json(ws, type="connection_check", timestamp="2024-12-25T10:30:00Z")
        st = await h.recv_json(ws)
        assert set(st) == {"type", "status", "duration_seconds", "last_activity", "timestamp"}, st
        assert st["type"] == "connection_status" and st["status"] == "healthy", st
        assert is_int(st["duration_seconds"]) and st["duration_seconds"] >= 1, st
        assert h.parse_iso_utc(st["last_activity"]) <= h.parse_iso_utc(st["timestamp"])
        await ws.close()

    h.run(main())


# ---------------------------------------------------------------------------
# bad input: an error, nothing stored, the connection stays usable

BAD_INPUTS = [
    ("not json", "hello there", "Invalid JSON format"),
    ("truncated json", '{"type": "message", "content": "x"', "Invalid JSON format"),
    ("json array", '["message"]', "Invalid JSON format"),
    ("no type", '{"content": "x"}', "Message type is required"),
    ("type not a string", '{"type": 5}', "Message type is required"),
    ("unknown type", '{"type": "dance"}', "Unknown message type: dance"),
    ("no content", '{"type": "message", "temp_id": "t"}', "Message content cannot be empty"),
    ("null content", '{"type": "message", "content": null}', "Message content cannot be empty"),
    ("empty content", '{"type": "message", "content": ""}', "Message content cannot be empty"),
    ("blank content", '{"type": "message", "content": " \\n\\t "}', "Message content cannot be empty"),
    ("content a number", '{"type": "message", "content": 42}', "Message content must be a string"),
    ("content an object", '{"type": "message", "content": {"a": 1}}',
     "Message content must be a string"),
    ("temp_id a number", '{"type": "message", "content": "x", "temp_id": 7}',
     "temp_id must be a string of at most 64 bytes"),
    ("too long", json.dumps({"type": "message", "content": "x" * 1001}),
     "Message too long (max 1000 characters)"),
    ("too long in characters", json.dumps({"type": "message", "content": "\u00e9" * 1001}),
     "Message too long (max 1000 characters)"),
    ("read without id", '{"type": "message_read"}', "message_id is required"),
    ("read with null id", '{"type": "message_read", "message_id": null}', "message_id is required"),
    ("read with text id", '{"type": "message_read", "message_id": "abc"}',
     "message_id must be a positive integer"),
    ("read with zero id", '{"type": "message_read", "message_id": 0}',
     "message_id must be a positive integer"),
    ("read with negative id", '{"type": "message_read", "message_id": -4}',
     "message_id must be a positive integer"),
    ("read with fractional id", '{"type": "message_read", "message_id": 1.5}',
     "message_id must be a positive integer"),
    ("delivered with list id", '{"type": "message_delivered", "message_id": [1]}',
     "message_id must be a positive integer"),
]


@pytest.mark.parametrize("name,raw,text", BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_bad_input(chatd_shared, db, name, raw, text):
    p = Pair(db)

    async def main():
        ws, _ = await h.open_chat(chatd_shared, p.room, p.a)
        await ws.send(raw)
        check_error(await recv_until(ws, "error"), text)
        await still_usable(ws)
        await ws.close()

    h.run(main())
    assert stored_count(db, p.room) == 0


def test_refused_message_names_its_temp_id(chatd_shared, pair):
    async def main():
        ws, _ = await h.open_chat(chatd_shared, pair.room, pair.a)
        await send_json(ws, type="message", content="", temp_id="tmp-1")
        err = await recv_until(ws, "error")
        assert err["message"] == "Message content cannot be empty"
        assert err["temp_id"] == "tmp-1" and err["status"] == "failed", err
        await ws.close()

    h.run(main())


def test_limit_counts_characters_not_bytes(chatd_shared, pair, db):
    """1000 four-byte characters are within the limit of 1000."""
    async def main():
        ws, _ = await h.open_chat(chatd_shared, pair.room, pair.a)
        mid = await post(ws, "\U0001F600" * 1000, "long")
        await ws.close()
        return mid

    mid = h.run(main())
    assert int(db.scalar("SELECT CHAR_LENGTH(content) FROM messages WHERE id = ?", mid)) == 1000




def test_several_devices_all_receive(chatd_shared, pair):
    async def main():
        a1, _ = await h.open_chat(chatd_shared, pair.room, pair.a)
        a2, _ = await h.open_chat(chatd_shared, pair.room, pair.a)
        b1, _ = await h.open_chat(chatd_shared, pair.room, pair.b)
        b2, _ = await h.open_chat(chatd_shared, pair.room, pair.b)
        await send_json(b1, type="message", content="to every tab", temp_id="d1")
        for ws in (a1, a2, b1, b2):
            m = await recv_until(ws, "message")
            assert m["message"]["content"] == "to every tab"
            # Only the sending connection gets the temp_id back.
            assert (h.message_temp_id(m) == "d1") == (ws is b1), m
        for ws in (a1, a2, b1, b2):
            await ws.close()

    h.run(main())


# ---------------------------------------------------------------------------
# message status

def status_row(db, mid):
    r = db.sql("SELECT status, delivered_at IS NOT NULL, read_at IS NOT NULL FROM messages"
               " WHERE id = ?", mid)[0]
    return int(r[0]), r[1] == "1", r[2] == "1"


def check_status_update(msg, mid, status, by):
    assert set(msg) == {"type", "message_id", "status", "timestamp", "updated_by"}, msg
    assert msg["message_id"] == mid and is_int(msg["message_id"]), msg
    assert msg["status"] == status, msg
    assert msg["updated_by"] == by and is_int(msg["updated_by"]), msg
    h.parse_iso_utc(msg["timestamp"])


def test_status_flow(chatd_shared, pair, db):
    async def main():
        wa, wb = await open_pair(chatd_shared, pair)
        mid = await post(wa, "did you get this?", "s1")
        await recv_until(wb, "message")

        async def advance(kind, given_id, status, row):
            await send_json(wb, type=kind, message_id=given_id)
            for ws in (wa, wb):
                check_status_update(await recv_until(ws, "message_status_update"), mid,
                                    status, pair.b)
            assert status_row(db, mid) == row

        await advance("message_delivered", mid, "delivered", (2, True, False))
        # Repeated: nothing changes, nobody hears of it.
        await send_json(wb, type="message_delivered", message_id=mid)
        await nothing_of(wa, "message_status_update")
        # Ids as strings of digits are taken too (browsers' data-* values).
        await advance("message_read", str(mid), "read", (3, True, True))

        # Backward: ignored.
        await send_json(wb, type="message_delivered", message_id=mid)
        await nothing_of(wa, "message_status_update")
        assert status_row(db, mid) == (3, True, True)
        await close_all(wa, wb)

    h.run(main())


def test_read_implies_delivered(chatd_shared, pair, db):
    async def main():
        wa, wb = await open_pair(chatd_shared, pair)
        mid = await post(wa, "straight to read", "r1")
        await send_json(wb, type="message_read", message_id=mid)
        check_status_update(await recv_until(wa, "message_status_update"), mid, "read", pair.b)
        await close_all(wa, wb)
        return mid

    mid = h.run(main())
    assert status_row(db, mid) == (3, True, True)


def test_many_status_changes_at_once(chatd_shared, pair, db):
    """A burst of updates (written in batches, some messages delivered and
    read within one batch) ends with every message read, each update
    announced once and in the order sent."""
    N = 30

    async def main():
        wa, wb = await open_pair(chatd_shared, pair)
        ids = [await post(wa, "batch %d" % i, "b%d" % i) for i in range(N)]
        burst = []
        for mid in ids:
            burst.append(json.dumps({"type": "message_delivered", "message_id": mid}))
            burst.append(json.dumps({"type": "message_read", "message_id": mid}))
        await asyncio.gather(*(wb.send(m) for m in burst))
        seen = [await recv_until(wa, "message_status_update") for _ in range(2 * N)]
        await nothing_of(wa, "message_status_update", 0.5)
        await close_all(wa, wb)
        return ids, seen

    ids, seen = h.run(main())
    assert [(m["message_id"], m["status"]) for m in seen] == \
        [(mid, st) for mid in ids for st in ("delivered", "read")]
    rows = db.sql("SELECT status, delivered_at <= read_at, updated_at = read_at FROM messages"
                  " WHERE room_id = ?", pair.room)
    assert rows == [("3", "1", "1")] * N, rows


def test_sender_cannot_move_own_message(chatd_shared, pair, db):
    async def main():
        wa, wb = await open_pair(chatd_shared, pair)
        mid = await post(wa, "mine", "o1")
        await send_json(wa, type="message_read", message_id=mid)
        check_error(await recv_until(wa, "error"),
                    "Only the recipient can update the status of a message")
        await nothing_of(wb, "message_status_update")
        await close_all(wa, wb)
        return mid

    mid = h.run(main())
    assert status_row(db, mid) == (1, False, False)


def test_status_of_unknown_or_foreign_message(chatd_shared, db):
    p, q = Pair(db), Pair(db)

    async def main():
        wq, _ = await h.open_chat(chatd_shared, q.room, q.a)
        foreign = await post(wq, "elsewhere", "f1")
        wb, _ = await h.open_chat(chatd_shared, p.room, p.b)
        missing = int(db.scalar("SELECT COALESCE(MAX(id), 0) + 1000000 FROM messages"))
        for mid in (missing, foreign):
            await send_json(wb, type="message_read", message_id=mid)
            check_error(await recv_until(wb, "error"), "Message not found")
        await still_usable(wb)
        await wq.close()
        await wb.close()
        return foreign

    foreign = h.run(main())
    assert status_row(db, foreign) == (1, False, False)



# ---------------------------------------------------------------------------
# typing

def check_typing(msg, user, username, on):
    assert set(msg) == {"type", "user_id", "username", "is_typing", "timestamp"}, msg
    assert msg["user_id"] == user and msg["username"] == username, msg
    assert msg["is_typing"] is on, msg
    h.parse_iso_utc(msg["timestamp"])


def test_typing_on_off(chatd_shared, pair):
    async def main():
        wa, wb = await open_pair(chatd_shared, pair)
        await send_json(wa, type="typing_on", timestamp="2024-12-25T10:30:00Z")
        check_typing(await recv_until(wb, "typing"), pair.a, pair.a_name, True)
        await send_json(wa, type="typing_off", timestamp="2024-12-25T10:30:00Z")
        check_typing(await recv_until(wb, "typing"), pair.a, pair.a_name, False)
        # Never echoed to the one typing.
        await nothing_of(wa, "typing", 0.5)
        await close_all(wa, wb)

    h.run(main())



def test_typing_toggled_fast_reaches_the_peer_a_few_times_a_second(chatd_shared, pair):
    """A client that toggles typing as fast as it can costs its peer a few
    typing frames a second, and the peer ends with the last state."""
    async def main():
        wa, wb = await open_pair(chatd_shared, pair)
        for _ in range(500):
            await send_json(wa, type="typing_on", timestamp="2024-12-25T10:30:00Z")
            await send_json(wa, type="typing_off", timestamp="2024-12-25T10:30:00Z")
        seen = []
        loop = asyncio.get_running_loop()
        end = loop.time() + 1.5
        while loop.time() < end:
            try:
                m = await h.recv_json(wb, end - loop.time())
            except asyncio.TimeoutError:
                break
            if m.get("type") == "typing":
                seen.append(m["is_typing"])
        assert 1 <= len(seen) <= 20, "%d typing frames for 1 000 toggles" % len(seen)
        assert seen[-1] is False, seen
        await send_json(wa, type="typing_on", timestamp="2024-12-25T10:30:00Z")
        check_typing(await recv_until(wb, "typing"), pair.a, pair.a_name, True)
        await close_all(wa, wb)

    h.run(main())


def test_typing_cleared_on_disconnect(chatd_shared, pair):
    async def main():
        wa, wb = await open_pair(chatd_shared, pair)
        await send_json(wa, type="typing_on")
        check_typing(await recv_until(wb, "typing"), pair.a, pair.a_name, True)
        await wa.close()
        check_typing(await recv_until(wb, "typing", timeout=3), pair.a, pair.a_name, False)
        await wb.close()

    h.run(main())


# ---------------------------------------------------------------------------
# presence

def check_presence(msg, user, username, online):
    assert set(msg) == {"type", "user_id", "username", "is_online", "last_seen"}, msg
    assert msg["user_id"] == user and msg["username"] == username, msg
    assert msg["is_online"] is online, msg
    h.parse_iso_utc(msg["last_seen"])


def test_presence_across_devices(chatd_shared, pair, db):
    async def main():
        wa, _ = await h.open_chat(chatd_shared, pair.room, pair.a)
        b1, _ = await h.open_chat(chatd_shared, pair.room, pair.b)
        check_presence(await recv_until(wa, "user_status_change"), pair.b, pair.b_name, True)
        # The one who came online is not told about itself.
        await nothing_of(b1, "user_status_change", 0.3)
        b2, _ = await h.open_chat(chatd_shared, pair.room, pair.b)
        await b1.close()
        await nothing_of(wa, "user_status_change")
        await b2.close()
        off = await recv_until(wa, "user_status_change", timeout=3)
        check_presence(off, pair.b, pair.b_name, False)
        await wa.close()
        return off

    off = h.run(main())
    stored = db.scalar("SELECT last_seen FROM users WHERE id = ?", pair.b)
    assert stored is not None, "last_seen not stored"
    assert stored.replace(" ", "T")[:19] == off["last_seen"][:19]


def test_presence_in_another_room(chatd_shared, db):
    """Online anywhere counts: B connecting in another room shows B online
    to A in the room they share."""
    p = Pair(db)
    carol = h.make_user(db, h.unique_name("carol"), "Carol")
    other = h.make_room(db, p.b, carol)

    async def main():
        wa, _ = await h.open_chat(chatd_shared, p.room, p.a)
        wc, _ = await h.open_chat(chatd_shared, other, carol)
        # The room A-B must be known to the broker: B's first connection
        # there would announce itself, so use one of A's.
        wb, _ = await h.open_chat(chatd_shared, other, p.b)
        check_presence(await recv_until(wa, "user_status_change"), p.b, p.b_name, True)
        check_presence(await recv_until(wc, "user_status_change"), p.b, p.b_name, True)
        await wb.close()
        check_presence(await recv_until(wa, "user_status_change"), p.b, p.b_name, False)
        await wa.close()
        await wc.close()

    h.run(main())


def raw_ws_connect(server, room, user):
    """A WebSocket client on a plain socket; returns the socket after the
    handshake and the first message."""
    s = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    key = base64.b64encode(os.urandom(16)).decode()
    path = "/ws/chat/%d/?token=%s" % (room, h.token(user))
    s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
               "Sec-WebSocket-Version: 13\r\n\r\n" % (path, key)).encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        assert chunk, "closed during handshake"
        data += chunk
    assert data.startswith(b"HTTP/1.1 101"), data
    return s


def test_vanished_client_goes_offline(chatd_shared, pair):
    """A client whose TCP connection is reset, without a close frame, is
    seen going offline by the other participant."""
    async def main():
        wa, _ = await h.open_chat(chatd_shared, pair.room, pair.a)
        raw = raw_ws_connect(chatd_shared, pair.room, pair.b)
        check_presence(await recv_until(wa, "user_status_change"), pair.b, pair.b_name, True)
        # Reset: SO_LINGER with a zero timeout makes close() send RST.
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        raw.close()
        check_presence(await recv_until(wa, "user_status_change", timeout=5),
                       pair.b, pair.b_name, False)
        await wa.close()

    h.run(main())




# ---------------------------------------------------------------------------
# replay (?since=)

def test_replay_after_reconnect(chatd_shared, pair):
    async def main():
        wa, wb = await open_pair(chatd_shared, pair)
        await post(wa, "before", "p0")
        await recv_until(wb, "message")
        # The last message B saw is its own.
        mine = await post(wb, "ben's own", "p1")
        await recv_until(wa, "message")
        await wb.close()
        # While B is away: new messages, and A reads B's message.
        missed = [await post(wa, "missed %d" % i, "q%d" % i) for i in range(3)]
        await send_json(wa, type="message_read", message_id=mine)
        await recv_until(wa, "message_status_update")

        url = chatd_shared.ws_url(pair.room, h.token(pair.b), since=str(mine))
        wb = await h.connect(url)
        assert (await h.recv_json(wb))["type"] == "connection_established"
        got = []
        while len(got) < 4:
            m = await h.recv_json(wb)
            if m["type"] in ("message", "message_status_update"):
                got.append(m)
        assert got[0]["type"] == "message_status_update", got
        check_status_update(got[0], mine, "read", pair.a)
        assert [m["message"]["id"] for m in got[1:]] == missed
        assert [m["message"]["content"] for m in got[1:]] == ["missed 0", "missed 1", "missed 2"]
        # Live messages follow, once.
        await post(wa, "live", "l1")
        live = await recv_until(wb, "message")
        assert live["message"]["content"] == "live"
        await nothing_of(wb, "message", 0.5)
        await close_all(wa, wb)

    h.run(main())


def test_replay_refusals_are_explicit(chatd_shared, db):
    p, q = Pair(db), Pair(db)

    async def main():
        wq, _ = await h.open_chat(chatd_shared, q.room, q.a)
        foreign = await post(wq, "not yours", "x1")
        missing = int(db.scalar("SELECT COALESCE(MAX(id), 0) + 1000000 FROM messages"))
        cases = [(str(missing), "Cannot replay: message %d is not in this room" % missing),
                 (str(foreign), "Cannot replay: message %d is not in this room" % foreign),
                 ("abc", "Cannot replay: since must be a message id")]
        for since, text in cases:
            ws = await h.connect(chatd_shared.ws_url(p.room, h.token(p.a), since=since))
            assert (await h.recv_json(ws))["type"] == "connection_established"
            check_error(await recv_until(ws, "error"), text)
            # Live traffic still flows.
            await post(ws, "still works", "w-" + since)
            await ws.close()
        await wq.close()

    h.run(main())


def test_replay_with_nothing_missed(chatd_shared, pair):
    async def main():
        wa, _ = await h.open_chat(chatd_shared, pair.room, pair.a)
        last = await post(wa, "latest", "n1")
        ws = await h.connect(chatd_shared.ws_url(pair.room, h.token(pair.b), since=str(last)))
        assert (await h.recv_json(ws))["type"] == "connection_established"
        await still_usable(ws)
        await nothing_of(ws, "message", 0.5)
        await ws.close()
        await wa.close()

    h.run(main())


def test_replay_while_messages_keep_coming(chatd_shared, pair):
    """Messages sent while B reconnects reach B once each, in order: the
    replay and live delivery neither lose nor repeat one."""
    N = 60

    async def main():
        wa, _ = await h.open_chat(chatd_shared, pair.room, pair.a)
        since = await post(wa, "anchor", "z0")

        async def sender():
            for i in range(N):
                await send_json(wa, type="message", content="flow %d" % i, temp_id="z%d" % (i + 1))
                await asyncio.sleep(0.002)

        async def collect():
            ws = await h.connect(chatd_shared.ws_url(pair.room, h.token(pair.b), since=str(since)))
            assert (await h.recv_json(ws))["type"] == "connection_established"
            got = []
            while len(got) < N:
                got.append((await recv_until(ws, "message"))["message"])
            await nothing_of(ws, "message", 0.5)
            await ws.close()
            return got

        _, got = await asyncio.gather(sender(), collect())
        await wa.close()
        return got

    got = h.run(main())
    assert [m["content"] for m in got] == ["flow %d" % i for i in range(N)]
    ids = [m["id"] for m in got]
    assert ids == sorted(set(ids)), ids

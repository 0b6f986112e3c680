"""How messages reach MariaDB, as a client and the table see it: the
times stored with a message, a retry that reaches a restarted chatd, and
the write connection dying under traffic.  Real chatd, real MariaDB,
real sockets.
"""
import asyncio
import datetime
import json
import os
import signal

import pytest

import chatd_harness as h
from test_skeleton import Pair, send
from test_protocol import recv_until


@pytest.fixture
def pair(db):
    return Pair(db)


async def own_copies(ws, count, timeout=15):
    """The sender's copies (those carrying a temp_id) of count messages,
    by temp_id."""
    got = {}
    while len(got) < count:
        msg = await h.recv_type(ws, "message", timeout=timeout)
        temp_id = h.message_temp_id(msg)
        if temp_id is not None:
            got.setdefault(temp_id, []).append(msg["message"])
    return got


def send_all(server, room, user, messages):
    """Send (content, temp_id) pairs on one new connection; the sender's
    copies by temp_id, as own_copies() gives them."""
    async def main():
        ws, _ = await h.open_chat(server, room, user)
        for content, temp_id in messages:
            await send(ws, content, temp_id)
        got = await own_copies(ws, len(messages))
        await ws.close()
        return got

    return h.run(main())


def db_time(text):
    return datetime.datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f").replace(
        tzinfo=datetime.timezone.utc)


def lock_next_ids(db, pair, *offsets):
    """Sessions that each hold, uncommitted, a row with one of the ids
    chatd gives next (the highest stored id + offset), so that chatd's
    INSERT of that id waits.  Returns (top, sessions)."""
    top = int(db.scalar("SELECT COALESCE(MAX(id), 0) FROM messages"))
    locks = []
    for off in offsets:
        lock = db.session()
        lock.execute("BEGIN")
        lock.execute("INSERT INTO messages (id, room_id, sender_id, content, sent_at,"
                     " created_at, updated_at) VALUES (?, ?, ?, 'lock', NOW(3), NOW(3),"
                     " NOW(3))", top + off, pair.room, pair.b)
        locks.append(lock)
    return top, locks


def test_times_stored_to_the_millisecond(chatd, pair, db):
    """sent_at, created_at and updated_at hold the created_at the clients
    were told, to the millisecond, in UTC."""
    async def main():
        wa, _ = await h.open_chat(chatd, pair.room, pair.a)
        stamps = []
        for i in range(5):
            await send(wa, "tick %d" % i, "tick-%d" % i)
            m = (await h.recv_type(wa, "message"))["message"]
            stamps.append((m["id"], m["created_at"]))
            await asyncio.sleep(0.013)
        await wa.close()
        return stamps

    for mid, told in h.run(main()):
        told_t = h.parse_iso_utc(told)
        rows = db.sql("SELECT sent_at, created_at, updated_at, delivered_at, read_at "
                      "FROM messages WHERE id = ?", mid)
        assert len(rows) == 1, "message %d not stored" % mid
        sent, created, updated, delivered, read = rows[0]
        for name, value in (("sent_at", sent), ("created_at", created), ("updated_at", updated)):
            assert value is not None, "%s of message %d is NULL" % (name, mid)
            assert db_time(value) == told_t, \
                "%s of message %d is %s, clients were told %s" % (name, mid, value, told)
        assert delivered is None and read is None, rows[0]


def test_retry_after_restart_is_the_stored_message(chatd_factory, pair, db):
    """A message retried after chatd restarted (so only MariaDB remembers
    its temp_id) is answered with the stored message, not stored twice, and
    a message sent with it is stored as usual."""
    first = chatd_factory()
    original = send_all(first, pair.room, pair.a, [("sent once", "keep-1")])["keep-1"][0]
    first.stop()
    second = chatd_factory()
    got = send_all(second, pair.room, pair.a, [("sent once", "keep-1"),
                                                ("sent after", "keep-2")])
    retry, fresh = got["keep-1"][0], got["keep-2"][0]
    assert retry["id"] == original["id"] and retry["created_at"] == original["created_at"], \
        (original, retry)
    assert retry["content"] == "sent once"
    assert fresh["id"] > original["id"] and fresh["content"] == "sent after", fresh
    # Another retry, over REST this time, is the same stored message too.
    from test_rest import post
    r = post(second, h.token(pair.a), pair.room, "sent once", "keep-1")
    assert r.status == 200 and r.json["id"] == original["id"], r
    counts = db.sql("SELECT temp_id, COUNT(*) FROM messages WHERE sender_id = ? "
                    "GROUP BY temp_id ORDER BY temp_id", pair.a)
    assert counts == [("keep-1", "1"), ("keep-2", "1")], counts
    # The path taken: MariaDB's unique key refused the batch.
    assert "retrying row by row" in second.log_text()


def test_shutdown_waits_for_rows_retried_one_by_one(chatd_factory, pair, db):
    """A batch refused for a retried message is written again row by row;
    SIGTERM then waits for those rows like for any batch, so the message
    sent beside the retry is stored before chatd exits."""
    first = chatd_factory()

    async def before():
        wa, _ = await h.open_chat(first, pair.room, pair.a)
        await send(wa, "sent once", "dup-1")
        await h.recv_type(wa, "message")
        await wa.close()

    h.run(before())
    first.stop()
    s = chatd_factory()
    # Row locks on the ids chatd gives next (top + 1 and top + 3).
    top, locks = lock_next_ids(db, pair, 1, 3)

    async def main():
        wa, _ = await h.open_chat(s, pair.room, pair.a)
        await send(wa, "first", "a-1")            # top + 1: waits for locks[0]
        await asyncio.sleep(0.5)
        await send(wa, "sent once", "dup-1")      # top + 2: a retry
        await send(wa, "beside it", "b-1")        # top + 3: locks[1]
        await asyncio.sleep(0.5)
        locks[0].execute("ROLLBACK")
        # The batch of the retry and b-1 fails on the retry's key; the
        # retry is answered by its stored twin, b-1 waits for locks[1].
        got = await own_copies(wa, 2)
        assert sorted(got) == ["a-1", "dup-1"], got
        os.kill(s.pid, signal.SIGTERM)
        await asyncio.sleep(1.0)
        assert s.running(), "chatd exited with a row still being written"
        locks[1].execute("ROLLBACK")
        try:
            await wa.close()
        except Exception:
            pass

    try:
        h.run(main())
        assert s.wait_exit(20) == 0
    finally:
        for lock in locks:
            lock.close()
    rows = db.sql("SELECT temp_id, COUNT(*) FROM messages WHERE sender_id = ?"
                  " GROUP BY temp_id ORDER BY temp_id", pair.a)
    assert rows == [("a-1", "1"), ("b-1", "1"), ("dup-1", "1")], rows
    assert "retrying row by row" in s.log_text()


def test_batches_fit_a_small_max_allowed_packet(chatd_factory, pair, db):
    """With MariaDB's max_allowed_packet at 64 KiB, messages that pile up
    go in write batches of at most half of it, and a message too large to
    ever fit is refused with an error naming its temp_id, while the
    others are stored.  (A statement over the limit would cost the write
    connection, again on every retry.)"""
    from test_operations import scrape
    old = db.admin_sql("SELECT @@GLOBAL.max_allowed_packet")[0][0]
    db.admin_sql("SET GLOBAL max_allowed_packet = 65536")
    try:
        admin = h.free_port()
        s = chatd_factory(message_size_limit=16383, admin_listen="127.0.0.1:%d" % admin)
    finally:
        db.admin_sql("SET GLOBAL max_allowed_packet = %d" % int(old))
    assert "write batches of at most 32768 bytes" in s.log_text()
    top, (lock,) = lock_next_ids(db, pair, 1)

    async def main():
        wa, _ = await h.open_chat(s, pair.room, pair.a)
        before = scrape(admin)
        for i in range(21):
            await send(wa, "%02d" % i + "x" * 9998, "m-%02d" % i)
        # 32 766 bytes of UTF-8: with the row's other columns, over 32 KiB.
        await send(wa, "\u00e9" * 16383, "too-big")
        err = await recv_until(wa, "error", timeout=30)
        assert err["temp_id"] == "too-big" and err["status"] == "failed", err
        lock.execute("ROLLBACK")
        acks = await own_copies(wa, 21, timeout=60)
        after = scrape(admin)
        await wa.close()
        return acks, before, after

    try:
        acks, before, after = h.run(main(), timeout=120)
    finally:
        lock.close()
    assert sorted(acks) == ["m-%02d" % i for i in range(21)]
    # The first alone, then 20 rows of 10 kB three to a batch of 32 KiB.
    batches = after["chatd_write_batches_total"] - before["chatd_write_batches_total"]
    assert batches == 8, batches
    assert db.scalar("SELECT COUNT(*) FROM messages WHERE sender_id = ?", pair.a) == "21"
    assert "connection lost" not in s.log_text()


def test_a_failed_message_can_be_sent_again(chatd_factory, pair, db):
    """A message that MariaDB refused (here: a row lock held past
    innodb_lock_wait_timeout) is answered as failed, and the client's
    retry with the same temp_id is a new try that is stored, not a copy
    ignored as already on its way."""
    # chatd connects to MariaDB in the background: the setting stays for
    # the whole test, so that its write connection surely has it.
    old = db.admin_sql("SELECT @@GLOBAL.innodb_lock_wait_timeout")[0][0]
    db.admin_sql("SET GLOBAL innodb_lock_wait_timeout = 1")
    try:
        run_failed_then_retried(chatd_factory, pair, db)
    finally:
        db.admin_sql("SET GLOBAL innodb_lock_wait_timeout = %d" % int(old))


def run_failed_then_retried(chatd_factory, pair, db):
    s = chatd_factory()
    top, (lock,) = lock_next_ids(db, pair, 1)

    async def main():
        wa, _ = await h.open_chat(s, pair.room, pair.a)
        await send(wa, "try me", "again-1")
        err = await recv_until(wa, "error", timeout=30)
        assert err["temp_id"] == "again-1" and err["status"] == "failed", err
        lock.execute("ROLLBACK")
        await send(wa, "try me", "again-1")
        got = await own_copies(wa, 1, timeout=10)
        await wa.close()
        return got["again-1"][0]

    try:
        m = h.run(main(), timeout=90)
    finally:
        lock.close()
    assert m["content"] == "try me" and m["id"] > top + 1, m
    assert db.sql("SELECT id FROM messages WHERE sender_id = ? AND temp_id = 'again-1'",
                  pair.a) == [(str(m["id"]),)]


KILLER_USER = "chatd_killed"
KILLER_PASSWORD = "killed"


def test_write_connection_killed_under_traffic(chatd_factory, pair, db):
    """MariaDB drops chatd's connections again and again while a client
    sends: every message is acknowledged once, reaches the other side once
    and in order, and is stored once."""
    db.admin_sql("CREATE USER IF NOT EXISTS '%s'@'localhost' IDENTIFIED BY '%s'"
                 % (KILLER_USER, KILLER_PASSWORD))
    db.admin_sql("GRANT ALL PRIVILEGES ON `%s`.* TO '%s'@'localhost'" % (h.DB_NAME, KILLER_USER))
    s = chatd_factory(database_user=KILLER_USER, database_password=KILLER_PASSWORD,
                      rate_limit_messages=10000)
    total = 400
    kills = []

    def kill_all():
        ids = db.admin_sql("SELECT ID FROM information_schema.PROCESSLIST WHERE USER = ?",
                           KILLER_USER)
        for (cid,) in ids:
            try:
                db.admin_sql("KILL CONNECTION %d" % int(cid))
                kills.append(cid)
            except h.SQLError:
                pass        # gone already

    async def killer(done):
        while not done.is_set():
            await asyncio.sleep(0.15)
            await asyncio.get_running_loop().run_in_executor(None, kill_all)

    async def main():
        wa, _ = await h.open_chat(s, pair.room, pair.a)
        wb, _ = await h.open_chat(s, pair.room, pair.b)
        done = asyncio.Event()
        k = asyncio.create_task(killer(done))
        received = []

        async def bob():
            while len(received) < total:
                received.append((await h.recv_type(wb, "message", timeout=30))["message"])

        b = asyncio.create_task(bob())
        for i in range(total):
            await send(wa, "m%03d" % i, "k-%03d" % i)
            if i % 10 == 9:
                await asyncio.sleep(0.01)
        acks = await own_copies(wa, total, timeout=30)
        await asyncio.wait_for(b, 30)
        done.set()
        await k
        # Nothing more arrives: no message was delivered twice.
        with pytest.raises(asyncio.TimeoutError):
            extra = await asyncio.wait_for(wb.recv(), 1.0)
            if json.loads(extra).get("type") != "message":
                raise asyncio.TimeoutError
        await wa.close()
        await wb.close()
        return acks, received

    acks, received = h.run(main())
    assert kills, "no connection was killed: the test proved nothing"
    assert "MariaDB connection lost" in s.log_text()
    assert sorted(acks) == ["k-%03d" % i for i in range(total)]
    assert all(len(v) == 1 for v in acks.values()), "a message was acknowledged twice"
    assert [m["content"] for m in received] == ["m%03d" % i for i in range(total)]
    ids = [m["id"] for m in received]
    assert ids == sorted(ids) and len(set(ids)) == total
    assert [acks["k-%03d" % i][0]["id"] for i in range(total)] == ids
    rows = db.sql("SELECT COUNT(*), COUNT(DISTINCT temp_id), MIN(id), MAX(id) FROM messages "
                  "WHERE room_id = ?", pair.room)
    assert rows == [(str(total), str(total), str(ids[0]), str(ids[-1]))], rows

"""A client's retries and temp_ids, as clients see them: a retry of a
message (same temp_id, room and content) is answered with the message
stored first, on whichever connection it comes; a new message under a
temp_id already used is refused, never stored, delivered or mistaken for
the old one, also after a restart when only MariaDB remembers the
temp_id.  Real chatd, real MariaDB, real sockets.
"""
import asyncio
import json

import pytest

import chatd_harness as h
from test_protocol import recv_until
from test_rest import post
from test_skeleton import Pair, send
from test_store import lock_next_ids, own_copies, send_all

REUSED = "temp_id already used for another message"


@pytest.fixture
def pair(db):
    return Pair(db)


def stored_with(db, user, temp_id):
    return db.sql("SELECT id, room_id, content FROM messages WHERE sender_id = ?"
                  " AND temp_id = ?", user, temp_id)


async def nothing_but(ws, content, timeout=10):
    """The next chat message ws receives is content's (sent as a marker
    after what must not arrive)."""
    msg = await h.recv_type(ws, "message", timeout=timeout)
    assert msg["message"]["content"] == content, msg
    return msg


async def send_then_retry_elsewhere(server, pair, content, temp_id):
    """Send a message, then the same again from a second connection while
    the first copy waits for MariaDB; returns both connections."""
    wa, _ = await h.open_chat(server, pair.room, pair.a)
    await send(wa, content, temp_id)
    await asyncio.sleep(0.3)
    wa2, _ = await h.open_chat(server, pair.room, pair.a)
    await send(wa2, content, temp_id)
    return wa, wa2


def test_retry_on_the_same_connection_is_answered(chatd, pair, db):
    async def main():
        wa, _ = await h.open_chat(chatd, pair.room, pair.a)
        wb, _ = await h.open_chat(chatd, pair.room, pair.b)
        await send(wa, "once only", "r-1")
        first = (await own_copies(wa, 1))["r-1"][0]
        await nothing_but(wb, "once only")
        await send(wa, "once only", "r-1")
        again = (await own_copies(wa, 1))["r-1"][0]
        # The peer got it once: the next thing it sees is the marker.
        await send(wa, "marker", "r-2")
        await nothing_but(wb, "marker")
        await wa.close()
        await wb.close()
        return first, again

    first, again = h.run(main())
    assert again["id"] == first["id"] and again["created_at"] == first["created_at"], \
        (first, again)
    assert again["content"] == "once only" and again["room_id"] == pair.room
    assert len(stored_with(db, pair.a, "r-1")) == 1


def test_retry_on_a_new_connection_is_answered(chatd, pair, db):
    """The client lost its connection before the answer came, reconnected
    and sent the message again."""
    first, again = (send_all(chatd, pair.room, pair.a, [("did it arrive?", "r-3")])["r-3"][0]
                    for _ in range(2))
    assert again["id"] == first["id"] and again["content"] == "did it arrive?", (first, again)
    assert len(stored_with(db, pair.a, "r-3")) == 1


def test_retry_while_pending_answers_the_new_connection(chatd, pair, db):
    """A retry on another connection while the first copy waits for
    MariaDB: when it is stored, the new connection gets it with its
    temp_id."""
    top, (lock,) = lock_next_ids(db, pair, 1)

    async def main():
        wa, wa2 = await send_then_retry_elsewhere(chatd, pair, "slow one", "r-4")
        await asyncio.sleep(0.3)
        lock.execute("ROLLBACK")
        got = (await own_copies(wa2, 1, timeout=20))["r-4"][0]
        await wa.close()
        await wa2.close()
        return got

    try:
        got = h.run(main(), timeout=60)
    finally:
        lock.close()
    assert got["id"] == top + 1 and got["content"] == "slow one", got
    assert len(stored_with(db, pair.a, "r-4")) == 1


def test_reused_temp_id_is_refused(chatd, pair, db):
    """Another content, or the same content in another room, under a
    temp_id used before: an error naming the temp_id, and nothing stored
    or delivered."""
    carol = h.make_user(db, h.unique_name("carol"))
    other = h.make_room(db, pair.a, carol)

    async def main():
        wa, _ = await h.open_chat(chatd, pair.room, pair.a)
        wb, _ = await h.open_chat(chatd, pair.room, pair.b)
        await send(wa, "first words", "u-1")
        await own_copies(wa, 1)
        await nothing_but(wb, "first words")
        await send(wa, "other words", "u-1")
        err = await recv_until(wa, "error")
        await send(wa, "marker", "u-2")
        await nothing_but(wb, "marker")
        wo, _ = await h.open_chat(chatd, other, pair.a)
        wc, _ = await h.open_chat(chatd, other, carol)
        await send(wo, "first words", "u-1")
        err2 = await recv_until(wo, "error")
        await send(wo, "hello carol", "u-3")
        await nothing_but(wc, "hello carol")
        for ws in (wa, wb, wo, wc):
            await ws.close()
        return err, err2

    for err in h.run(main()):
        assert err["temp_id"] == "u-1" and err["status"] == "failed", err
        assert REUSED in err["message"], err
    assert [r[2] for r in stored_with(db, pair.a, "u-1")] == ["first words"]
    # Over REST: 400 with the reason, nothing stored.
    tok = h.token(pair.a, secret=chatd.jwt_secret)
    r = post(chatd, tok, pair.room, "rest words", "u-1")
    assert r.status == 400 and r.json == {"detail": REUSED}, r
    r = post(chatd, tok, other, "first words", "u-1")
    assert r.status == 400 and r.json == {"detail": REUSED}, r
    assert len(stored_with(db, pair.a, "u-1")) == 1


def test_reused_temp_id_after_a_restart_is_refused(chatd_factory, pair, db):
    """After a restart only MariaDB knows the temp_id: a new message under
    it, in another room, is refused, and the old message's id gives the
    other room no hold on it."""
    carol = h.make_user(db, h.unique_name("carol"))
    other = h.make_room(db, pair.a, carol)
    first = chatd_factory()
    original = send_all(first, pair.room, pair.a, [("in the first room", "t-1"),
                                                   ("also first room", "t-2")])["t-1"][0]
    first.stop()
    second = chatd_factory()

    async def after():
        wo, _ = await h.open_chat(second, other, pair.a)
        wc, _ = await h.open_chat(second, other, carol)
        await send(wo, "new words elsewhere", "t-1")
        err = await recv_until(wo, "error", timeout=20)
        await send(wo, "hello carol", "t-9")
        await nothing_but(wc, "hello carol")
        # Carol cannot mark the first room's message read from her room.
        await wc.send(json.dumps({"type": "message_read", "message_id": original["id"]}))
        err_c = await recv_until(wc, "error")
        for ws in (wo, wc):
            await ws.close()
        return err, err_c

    err, err_c = h.run(after(), timeout=60)
    assert err["temp_id"] == "t-1" and err["status"] == "failed" and REUSED in err["message"], err
    batches_failed = second.log_text().count("retrying row by row")

    async def again():
        wo, _ = await h.open_chat(second, other, pair.a)
        await send(wo, "newer words elsewhere", "t-1")
        err = await recv_until(wo, "error")
        await wo.close()
        return err

    err = h.run(again())
    assert err["temp_id"] == "t-1" and REUSED in err["message"], err
    # Refused from memory this time: no write batch failed on the key.
    assert second.log_text().count("retrying row by row") == batches_failed
    assert "not found" in err_c["message"].lower(), err_c
    # Over REST, also after the restart: the twin is in another room.
    r = post(second, h.token(pair.a, secret=second.jwt_secret), other, "rest elsewhere", "t-2")
    assert r.status == 400 and r.json == {"detail": REUSED}, r
    rows = db.sql("SELECT room_id, content, status, read_at FROM messages WHERE id = ?",
                  original["id"])
    assert rows == [(str(pair.room), "in the first room", "1", None)], rows
    assert len(stored_with(db, pair.a, "t-1")) == 1
    assert len(stored_with(db, pair.a, "t-2")) == 1


def test_failure_reaches_a_retry_on_another_connection(chatd_factory, pair, db):
    """The first copy waits for MariaDB and then fails (a row lock held
    past innodb_lock_wait_timeout): the connection the client retried on
    is told, not only the one it gave up."""
    old = db.admin_sql("SELECT @@GLOBAL.innodb_lock_wait_timeout")[0][0]
    db.admin_sql("SET GLOBAL innodb_lock_wait_timeout = 1")
    try:
        s = chatd_factory()
        top, (lock,) = lock_next_ids(db, pair, 1)

        async def main():
            wa, wa2 = await send_then_retry_elsewhere(s, pair, "doomed", "f-1")
            err = await recv_until(wa2, "error", timeout=30)
            await wa.close()
            await wa2.close()
            return err

        try:
            err = h.run(main(), timeout=90)
        finally:
            lock.close()
    finally:
        db.admin_sql("SET GLOBAL innodb_lock_wait_timeout = %d" % int(old))
    assert err["temp_id"] == "f-1" and err["status"] == "failed", err
    assert stored_with(db, pair.a, "f-1") == []

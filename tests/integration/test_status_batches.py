"""Status changes written in batches: a backlog larger than one UPDATE
holds (20 000 changes) is split, and every change still reaches MariaDB
and the sender, in the order the recipient sent them.
"""

import asyncio
import json
import time

import chatd_harness as h
from test_operations import scrape

N = 10500          # messages; 2 * N = 21 000 changes, past one batch


async def recv_n(ws, wanted, n, timeout=60):
    """The next n messages of type wanted, skipping others."""
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < n:
        left = deadline - time.monotonic()
        assert left > 0, "only %d of %d %s" % (len(got), n, wanted)
        m = await h.recv_json(ws, left)
        if m.get("type") == wanted:
            got.append(m)
    return got


def test_status_backlog_split_and_stored(chatd_factory, db):
    admin = h.free_port()
    s = chatd_factory(admin_listen="127.0.0.1:%d" % admin, rate_limit_messages=1000000)
    a = h.make_user(db, h.unique_name("alice"))
    b = h.make_user(db, h.unique_name("bob"))
    room = h.make_room(db, a, b)
    names = ("chatd_status_changes_total", "chatd_status_rows_total",
             "chatd_status_batches_total")
    lock = db.session()

    async def main():
        wa, _ = await h.open_chat(s, room, a)
        wb, _ = await h.open_chat(s, room, b)
        for i in range(N):
            await wa.send(json.dumps({"type": "message", "content": "m%d" % i,
                                      "temp_id": "t%d" % i}))
        await recv_n(wa, "message", N)
        ids = [m["message"]["id"] for m in await recv_n(wb, "message", N)]
        assert ids == sorted(ids) and len(set(ids)) == N
        before = scrape(admin)
        # The first UPDATE waits for this row lock, so every later change
        # piles up behind it.
        lock.execute("BEGIN")
        lock.execute("SELECT id FROM messages WHERE id = ? FOR UPDATE", ids[0])
        sent = [(ids[0], "delivered")]
        await wb.send(json.dumps({"type": "message_delivered", "message_id": ids[0]}))
        await asyncio.sleep(0.5)
        sent.append((ids[0], "read"))
        for mid in ids[1:]:
            sent += [(mid, "delivered"), (mid, "read")]
        for mid, st in sent[1:]:
            await wb.send(json.dumps({"type": "message_" + st, "message_id": mid}))
        # Nothing is announced while the first batch waits.
        await asyncio.sleep(1.0)
        held = scrape(admin)
        assert held["chatd_status_batches_total"] == before["chatd_status_batches_total"]
        lock.execute("COMMIT")
        seen = await recv_n(wa, "message_status_update", len(sent))
        await wa.close()
        await wb.close()
        return ids, sent, seen, before

    try:
        ids, sent, seen, before = h.run(main(), timeout=300)
    finally:
        lock.close()
    assert [(m["message_id"], m["status"]) for m in seen] == sent
    after = scrape(admin)
    d = dict((k, after[k] - before[k]) for k in names)
    assert d["chatd_status_changes_total"] == 2 * N, d
    # One UPDATE of one change, then 20 999 changes split into two.
    assert d["chatd_status_batches_total"] == 3, d
    # Message 0 is written twice; a split between a message's two changes
    # writes that message twice too.
    assert N + 1 <= d["chatd_status_rows_total"] <= N + 2, d
    rows = db.sql("SELECT COUNT(*), SUM(status = 3), SUM(delivered_at <= read_at)"
                  " FROM messages WHERE room_id = ?", room)
    assert rows == [(str(N), str(N), str(N))], rows

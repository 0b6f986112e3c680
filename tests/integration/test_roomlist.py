"""The REST rooms list and the per-user room lists behind it: which rooms
show when (room_list_lifetime), in which order, what concurrent requests
get, and how chatd -t judges the setting.

Rooms are inserted straight into MariaDB while chatd runs, as the
application beside chatd does.
"""

import concurrent.futures
import http.client
import re
import time

import pytest

import chatd_harness as h
from test_chatctl import ok as chatctl_ok
from test_operations import scrape
from test_rest import api, check_json_reply, post, Pair


@pytest.fixture
def pair(db):
    return Pair(db)


def rooms_list(server, tok):
    """The ids of the caller's rooms list, in the order given."""
    body = check_json_reply(api(server, "GET", "rooms/", tok), 200)
    ids = [r["id"] for r in body["results"]]
    assert body["count"] == len(ids), body
    return ids


# ---------------------------------------------------------------------------
# when rooms show

def test_room_inserted_in_mariadb_shows_once_the_lifetime_passes(chatd_factory, pair, db):
    """The list is kept for room_list_lifetime seconds: a room the
    application inserts meanwhile shows as soon as that time has passed,
    for both of its users."""
    s = chatd_factory(room_list_lifetime=3)
    assert rooms_list(s, pair.ta) == [pair.room]
    cat = h.make_user(db, h.unique_name("cat"), "Cat")
    r2 = h.make_room(db, pair.a, cat)
    # Still the list read a moment ago.
    assert rooms_list(s, pair.ta) == [pair.room]
    time.sleep(3.2)
    body = check_json_reply(api(s, "GET", "rooms/", pair.ta), 200)
    assert body["count"] == 2, body
    assert [r["id"] for r in body["results"]] == [r2, pair.room], body
    assert body["results"][0]["other_participant"]["id"] == cat
    assert rooms_list(s, h.token(cat)) == [r2]
    # The other participant of the first room is not in the new one.
    assert rooms_list(s, pair.tb) == [pair.room]


def test_user_in_no_room(chatd, db):
    """A user in no room gets an empty list, again from memory, and the
    first room once the lifetime has passed."""
    loner = h.make_user(db, h.unique_name("loner"), "Loner")
    tok = h.token(loner)
    for _ in range(3):
        body = check_json_reply(api(chatd, "GET", "rooms/", tok), 200)
        assert body == {"count": 0, "next": None, "previous": None, "results": []}, body
    room = h.make_room(db, loner, h.make_user(db, h.unique_name("pal"), "Pal"))
    time.sleep(1.1)
    assert rooms_list(chatd, tok) == [room]


def test_lifetime_zero_reads_every_time(chatd_factory, pair, db):
    s = chatd_factory(room_list_lifetime=0)
    assert rooms_list(s, pair.ta) == [pair.room]
    r2 = h.make_room(db, pair.a, h.make_user(db, h.unique_name("dot"), "Dot"))
    assert rooms_list(s, pair.ta) == [r2, pair.room]


def test_rooms_chatd_learns_of_show_at_once(chatd_factory, pair, db):
    """With a long lifetime, rooms chatd itself comes to know show at once:
    one opened over WebSocket, one read over REST, one made by chatctl.
    A room nobody has opened waits for the lifetime."""
    s = chatd_factory(room_list_lifetime=3600)
    assert rooms_list(s, pair.ta) == [pair.room]
    peers = [h.make_user(db, h.unique_name("peer"), "Peer") for _ in range(4)]
    by_ws = h.make_room(db, peers[0], pair.a)
    by_rest = h.make_room(db, pair.a, peers[1])
    unseen = h.make_room(db, pair.a, peers[3])

    async def open_by_ws():
        ws, _ = await h.open_chat(s, by_ws, peers[0])
        await ws.close()

    h.run(open_by_ws())
    assert set(rooms_list(s, pair.ta)) == {pair.room, by_ws}
    check_json_reply(api(s, "GET", "rooms/%d/" % by_rest, h.token(peers[1])), 200)
    assert set(rooms_list(s, pair.ta)) == {pair.room, by_ws, by_rest}
    out = chatctl_ok(s, "room", "create", str(pair.a), str(peers[2]))
    by_ctl = int(re.match(r"created room (\d+)", out).group(1))
    ids = rooms_list(s, pair.ta)
    assert set(ids) == {pair.room, by_ws, by_rest, by_ctl}, ids
    assert unseen not in ids
    assert rooms_list(s, h.token(peers[3])) == [unseen]


# ---------------------------------------------------------------------------
# order

def test_order_follows_the_last_message(chatd, db):
    """Most recent activity first: a room without messages counts from its
    creation, a message over REST or WebSocket moves its room to the top,
    and last_message is that message."""
    me = h.make_user(db, h.unique_name("me"), "Me")
    tok = h.token(me)
    peers = [h.make_user(db, h.unique_name("peer"), "Peer") for _ in range(3)]
    r1, r2, r3 = [h.make_room(db, me, p) for p in peers]
    assert rooms_list(chatd, tok) == [r3, r2, r1]
    for room, order in ((r1, [r1, r3, r2]), (r2, [r2, r1, r3])):
        time.sleep(0.01)    # distinct milliseconds
        assert post(chatd, tok, room, "to %d" % room).status == 201
        body = check_json_reply(api(chatd, "GET", "rooms/", tok), 200)
        assert [r["id"] for r in body["results"]] == order, body
        assert body["results"][0]["last_message"]["content"] == "to %d" % room

    async def over_ws():
        ws, _ = await h.open_chat(chatd, r3, peers[2])
        await ws.send('{"type":"message","content":"from the peer","temp_id":"t1"}')
        await h.recv_type(ws, "message")
        await ws.close()

    time.sleep(0.01)
    h.run(over_ws())
    body = check_json_reply(api(chatd, "GET", "rooms/", tok), 200)
    assert [r["id"] for r in body["results"]] == [r3, r2, r1], body
    last = body["results"][0]["last_message"]
    assert last["content"] == "from the peer" and last["sender_id"] == peers[2], last
    assert body["results"][0]["unread_count"] == 1


# ---------------------------------------------------------------------------
# concurrent requests

def get_rooms_json(port, tok):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        c.request("GET", "/api/v1.0/chat/rooms/", headers={"Authorization": "Bearer " + tok})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def test_concurrent_requests_wait_for_one_read(chatd_factory, pair, db):
    """While the list is being read again (held up by a lock on rooms), more
    requests for the same user wait for that read instead of each asking
    MariaDB: one read is counted, and every request gets the same, right
    answer once MariaDB answers."""
    admin = h.free_port()
    s = chatd_factory(room_list_lifetime=1, admin_listen="127.0.0.1:%d" % admin)
    assert rooms_list(s, pair.ta) == [pair.room]
    r2 = h.make_room(db, h.make_user(db, h.unique_name("eve"), "Eve"), pair.a)
    time.sleep(1.2)
    before = scrape(admin)["chatd_room_list_reads_total"]
    with concurrent.futures.ThreadPoolExecutor(12) as ex:
        with db.session() as lock:
            lock.execute("LOCK TABLES rooms WRITE")
            try:
                futures = [ex.submit(get_rooms_json, s.port, pair.ta) for _ in range(12)]
                time.sleep(0.5)
                assert not any(f.done() for f in futures), "answered despite the lock"
            finally:
                lock.execute("UNLOCK TABLES")
        answers = [f.result() for f in futures]
    assert all(status == 200 for status, _ in answers), answers
    assert len({body for _, body in answers}) == 1, "different answers"
    ids = [r["id"] for r in check_json_reply(api(s, "GET", "rooms/", pair.ta), 200)["results"]]
    assert ids == [r2, pair.room]
    assert scrape(admin)["chatd_room_list_reads_total"] == before + 1


def test_concurrent_requests_of_many_users(chatd_factory, db):
    """Lifetime 0 keeps reads in flight all the time: requests of several
    users, all at once, each get their own rooms and nobody else's."""
    s = chatd_factory(room_list_lifetime=0)
    pairs = [Pair(db) for _ in range(4)]
    extra = {p.a: h.make_room(db, p.a, h.make_user(db, h.unique_name("x"), "X"))
             for p in pairs[:2]}
    want = {}
    for p in pairs:
        want[p.ta] = {p.room} | ({extra[p.a]} if p.a in extra else set())
        want[p.tb] = {p.room}
    jobs = [tok for tok in want for _ in range(6)]
    with concurrent.futures.ThreadPoolExecutor(16) as ex:
        got = list(ex.map(lambda tok: (tok, rooms_list(s, tok)), jobs))
    for tok, ids in got:
        assert set(ids) == want[tok] and len(ids) == len(want[tok]), (ids, want[tok])


# ---------------------------------------------------------------------------
# the setting

def test_room_list_lifetime_checked_by_chatd_t(chatd_factory):
    s = chatd_factory(start=False)
    with open(s.config_path) as f:
        lines = f.read().splitlines()
    for good in ("0", "1", "86400"):
        with open(s.config_path, "w") as f:
            f.write("\n".join(lines + ["room_list_lifetime " + good]) + "\n")
        res = s.run("-t")
        assert res.returncode == 0 and "configuration OK" in res.stderr, (good, res.stderr)
    where = "%s:%d: " % (s.config_path, len(lines) + 1)
    for bad, why in (("-1", 'room_list_lifetime: "-1" is not a number from 0 to 86400'),
                     ("86401", 'room_list_lifetime: "86401" is not a number from 0 to 86400'),
                     ("1s", 'room_list_lifetime: "1s" is not a number from 0 to 86400'),
                     ("", "room_list_lifetime: missing value")):
        with open(s.config_path, "w") as f:
            f.write("\n".join(lines + [("room_list_lifetime " + bad).strip()]) + "\n")
        res = s.run("-t")
        assert res.returncode == 1, (bad, res.stderr)
        assert where + why in res.stderr, (bad, res.stderr)

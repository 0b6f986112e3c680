"""The REST API under /api/v1.0/chat/, as an HTTP client sees it.

Every test talks to a real chatd (two workers) and a private MariaDB over
real sockets with http.client; WebSocket clients check that what REST does
reaches the room live.  Users and rooms are created straight in MariaDB
while chatd runs, as the application beside chatd does.
"""

import asyncio
import datetime
import http.client
import json
import socket
import time

import pytest

import chatd_harness as h

API = "/api/v1.0/chat/"

USER_KEYS = {"id", "username", "display_name", "imageUrls", "is_online", "last_seen"}
ROOM_KEYS = {"id", "participant1", "participant2", "other_participant", "match",
             "last_message", "unread_count", "typing_users", "created_at"}
LAST_KEYS = {"id", "content", "sender_id", "status", "created_at"}
MESSAGE_KEYS = {"id", "room", "sender", "content", "status", "status_display", "sent_at",
                "delivered_at", "read_at", "is_read", "created_at", "updated_at"}
PAGE_KEYS = {"count", "next", "previous", "results"}

NO_CREDENTIALS = "Authentication credentials were not provided."
ROOM_LIST_LIFETIME = 1  # chatd's default room_list_lifetime, seconds


# ---------------------------------------------------------------------------
# helpers

class Reply:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.raw = body
        self.json = json.loads(body) if body else None

    def header(self, name):
        return self.headers.get(name.lower())

    def __repr__(self):
        return "<HTTP %d %r>" % (self.status, self.raw[:300])


def api(server, method, path, tok=None, body=None, headers=None, conn=None):
    """One request; body may be a dict (sent as JSON), str or bytes."""
    hdrs = dict(headers or {})
    if tok is not None:
        hdrs["Authorization"] = "Bearer " + tok
    if isinstance(body, dict):
        body = json.dumps(body)
        hdrs.setdefault("Content-Type", "application/json")
    c = conn or http.client.HTTPConnection("127.0.0.1", server.port, timeout=20)
    try:
        c.request(method, path if path.startswith("/") else API + path, body=body, headers=hdrs)
        r = c.getresponse()
        data = r.read()
        return Reply(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
    finally:
        if conn is None:
            c.close()


def check_json_reply(r, status):
    assert r.status == status, r
    assert r.header("Content-Type") == "application/json", r.headers
    return r.json


def check_detail(r, status, detail=None):
    body = check_json_reply(r, status)
    assert set(body) == {"detail"}, body
    assert isinstance(body["detail"], str) and body["detail"]
    if detail is not None:
        assert body["detail"] == detail, body


def is_int(v):
    return type(v) is int


def check_time(value, what, near=True):
    t = h.parse_iso_utc(value)
    if near:
        now = datetime.datetime.now(datetime.timezone.utc)
        assert abs((now - t).total_seconds()) < 300, "%s %r is far from now" % (what, value)
    return t


def check_user(u, uid, name, display, urls=(), online=False):
    assert set(u) == USER_KEYS, u
    assert is_int(u["id"]) and u["id"] == uid, u
    assert u["username"] == name and u["display_name"] == display, u
    assert u["imageUrls"] == list(urls), u
    assert u["is_online"] is online, u
    assert u["last_seen"] is None or h.ISO_UTC_RE.match(u["last_seen"]), u


def check_message(m, mid=None, room=None, sender=None, content=None, status="sent"):
    assert set(m) == MESSAGE_KEYS, sorted(m)
    assert is_int(m["id"]) and (mid is None or m["id"] == mid), m
    assert is_int(m["room"]) and (room is None or m["room"] == room), m
    assert set(m["sender"]) == USER_KEYS, m
    if sender is not None:
        assert m["sender"]["id"] == sender, m
    if content is not None:
        assert m["content"] == content, m
    names = {"sent": "Sent", "delivered": "Delivered", "read": "Read"}
    assert m["status"] == status and m["status_display"] == names[status], m
    assert m["is_read"] is (status == "read"), m
    check_time(m["sent_at"], "sent_at")
    check_time(m["created_at"], "created_at")
    check_time(m["updated_at"], "updated_at")
    if status == "sent":
        assert m["delivered_at"] is None and m["read_at"] is None, m
    return m["id"]


class Pair:
    """Two users with avatars and their room."""

    def __init__(self, db, match=4242):
        self.a_name = h.unique_name("ann")
        self.b_name = h.unique_name("ben")
        self.a = h.make_user(db, self.a_name, "Ann A", ["https://img.example/a1.jpg",
                                                       "https://img.example/a2.jpg"])
        self.b = h.make_user(db, self.b_name, "Ben B")
        self.room = h.make_room(db, self.a, self.b, match=match)
        self.ta = h.token(self.a)
        self.tb = h.token(self.b)


@pytest.fixture
def pair(db):
    return Pair(db)


def post(server, tok, room, content, temp_id=None):
    body = {"room": room, "content": content}
    if temp_id is not None:
        body["temp_id"] = temp_id
    return api(server, "POST", "messages/", tok, body)


def post_many(server, tok, room, n, prefix="m"):
    """Post n messages over one keep-alive connection; their ids in order."""
    c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=20)
    ids = []
    try:
        for i in range(n):
            r = api(server, "POST", "messages/", tok, {"room": room, "content": "%s%d" % (prefix, i)},
                    conn=c)
            assert r.status == 201, r
            ids.append(r.json["id"])
    finally:
        c.close()
    return ids


# ---------------------------------------------------------------------------
# rooms

def test_rooms_list_shape_and_values(chatd, pair, db):
    r = api(chatd, "GET", "rooms/", pair.ta)
    body = check_json_reply(r, 200)
    assert set(body) == PAGE_KEYS, body
    assert body["count"] == 1 and body["next"] is None and body["previous"] is None, body
    (room,) = body["results"]
    assert set(room) == ROOM_KEYS, sorted(room)
    assert room["id"] == pair.room
    check_user(room["participant1"], pair.a, pair.a_name, "Ann A",
               ["https://img.example/a1.jpg", "https://img.example/a2.jpg"])
    check_user(room["participant2"], pair.b, pair.b_name, "Ben B")
    assert room["other_participant"] == room["participant2"], room
    assert room["match"] == 4242 and room["last_message"] is None, room
    assert room["unread_count"] == 0 and room["typing_users"] == [], room
    check_time(room["created_at"], "room created_at")

    # The other participant sees the same room with the roles swapped.
    other = api(chatd, "GET", "rooms/", pair.tb).json["results"][0]
    assert other["other_participant"]["id"] == pair.a, other


def test_renames_show_after_profile_lifetime(chatd_factory, pair, db):
    """The application renames a user and changes the avatars: once
    profile_lifetime has passed, REST answers show the new ones, and so do
    chat messages, after a REST answer read the user or after the user
    connected again."""
    s = chatd_factory(profile_lifetime=1)

    def ann_seen_by_ben():
        return api(s, "GET", "rooms/%d/" % pair.room, pair.tb).json["other_participant"]

    async def name_ben_sees(wa, wb, content):
        await wa.send(json.dumps({"type": "message", "content": content}))
        while True:
            m = await h.recv_type(wb, "message")
            if m["message"]["content"] == content:
                return m["message"]["sender_username"]

    async def main():
        wa, _ = await h.open_chat(s, pair.room, pair.a)
        wb, _ = await h.open_chat(s, pair.room, pair.b)
        assert await name_ben_sees(wa, wb, "before") == pair.a_name
        check_user(ann_seen_by_ben(), pair.a, pair.a_name, "Ann A",
                   ["https://img.example/a1.jpg", "https://img.example/a2.jpg"], online=True)

        renamed = pair.a_name + "_x"
        db.sql("UPDATE users SET username = ?, display_name = 'Ann Renamed', image_urls = ?"
               " WHERE id = ?", renamed, '["https://img.example/new.jpg"]', pair.a)
        await asyncio.sleep(1.1)
        check_user(ann_seen_by_ben(), pair.a, renamed, "Ann Renamed",
                   ["https://img.example/new.jpg"], online=True)
        # The REST answer read her names for chat messages too.
        assert await name_ben_sees(wa, wb, "after rest") == renamed

        # Without REST: her next connection has them read.
        again = pair.a_name + "_y"
        db.sql("UPDATE users SET username = ? WHERE id = ?", again, pair.a)
        await asyncio.sleep(1.1)
        assert await name_ben_sees(wa, wb, "still cached") == renamed
        wa2, _ = await h.open_chat(s, pair.room, pair.a)
        seen = []
        for k in range(50):
            seen.append(await name_ben_sees(wa2, wb, "probe %d" % k))
            if seen[-1] == again:
                break
            await asyncio.sleep(0.1)
        assert seen[-1] == again, seen
        for ws in (wa, wa2, wb):
            await ws.close()

    h.run(main())


def test_profiles_nobody_asks_for_are_dropped(chatd_factory, pair):
    """Users' avatars and names read for REST answers are dropped once
    nobody has asked for them for profile_lifetime + rest_timeout, and
    read again when asked for."""
    from test_operations import scrape
    admin = h.free_port()
    s = chatd_factory(profile_lifetime=1, rest_timeout=1,
                      admin_listen="127.0.0.1:%d" % admin)
    room = api(s, "GET", "rooms/%d/" % pair.room, pair.tb).json
    check_user(room["other_participant"], pair.a, pair.a_name, "Ann A",
               ["https://img.example/a1.jpg", "https://img.example/a2.jpg"])
    assert scrape(admin)["chatd_profile_cache_users"] == 2
    h.wait_for(lambda: scrape(admin)["chatd_profile_cache_users"] == 0, 15,
               what="the profiles dropped")
    room = api(s, "GET", "rooms/%d/" % pair.room, pair.tb).json
    check_user(room["other_participant"], pair.a, pair.a_name, "Ann A",
               ["https://img.example/a1.jpg", "https://img.example/a2.jpg"])


def test_room_detail_shape_and_last_message(chatd, pair):
    r = api(chatd, "GET", "rooms/%d/" % pair.room, pair.tb)
    room = check_json_reply(r, 200)
    assert set(room) == ROOM_KEYS, room
    assert room["other_participant"]["id"] == pair.a
    assert room["last_message"] is None

    mid = post(chatd, pair.ta, pair.room, "hello ben").json["id"]
    room = api(chatd, "GET", "rooms/%d/" % pair.room, pair.tb).json
    last = room["last_message"]
    assert set(last) == LAST_KEYS, last
    assert last["id"] == mid and last["content"] == "hello ben", last
    assert last["sender_id"] == pair.a and last["status"] == "sent", last
    check_time(last["created_at"], "last_message created_at")
    assert room["unread_count"] == 1, room
    # Without the trailing slash it is the same resource.
    assert api(chatd, "GET", "rooms/%d" % pair.room, pair.tb).json == room


def test_room_without_match_and_odd_avatars(chatd, db):
    """match is null without rooms.match_id; image_urls that is not a JSON
    array of strings shows what can be read of it, never an error."""
    u1 = h.make_user(db, h.unique_name("odd"), "Odd")
    u2 = h.make_user(db, h.unique_name("odd"), "Odd Too")
    db.sql("UPDATE users SET image_urls = ? WHERE id = ?", '["ok.png", 5, {"x": 1}, "b.png"]', u1)
    db.sql("UPDATE users SET image_urls = ? WHERE id = ?", "not json", u2)
    room = h.make_room(db, u1, u2)
    body = api(chatd, "GET", "rooms/%d/" % room, h.token(u1)).json
    assert body["match"] is None
    assert body["participant1"]["imageUrls"] == ["ok.png", "b.png"]
    assert body["participant2"]["imageUrls"] == []


def test_rooms_list_finds_new_rooms_and_orders_by_activity(chatd, pair, db):
    assert api(chatd, "GET", "rooms/", pair.ta).json["count"] == 1
    # Rooms created by the application while chatd runs show once the
    # list chatd keeps is older than room_list_lifetime (1 s by default).
    c = h.make_user(db, h.unique_name("cat"), "Cat")
    r2 = h.make_room(db, c, pair.a)
    r3 = h.make_room(db, pair.a, c, match=7)
    time.sleep(ROOM_LIST_LIFETIME + 0.1)
    body = api(chatd, "GET", "rooms/", pair.ta).json
    assert body["count"] == 3
    ids = [x["id"] for x in body["results"]]
    assert set(ids) == {pair.room, r2, r3}
    # Most recent activity first: a message moves a room to the top.
    post(chatd, pair.ta, r2, "bump")
    ids = [x["id"] for x in api(chatd, "GET", "rooms/", pair.ta).json["results"]]
    assert ids[0] == r2, ids
    for x in api(chatd, "GET", "rooms/", pair.ta).json["results"]:
        assert x["other_participant"]["id"] != pair.a, x
    # Someone else's list does not show them.
    assert api(chatd, "GET", "rooms/", pair.tb).json["count"] == 1


def test_rooms_list_pages(chatd, db):
    me = h.make_user(db, h.unique_name("busy"), "Busy")
    rooms = [h.make_room(db, me, h.make_user(db, h.unique_name("peer"), "Peer")) for _ in range(23)]
    tok = h.token(me)
    host = "127.0.0.1:%d" % chatd.port
    p1 = api(chatd, "GET", "rooms/", tok).json
    assert p1["count"] == 23 and len(p1["results"]) == 20
    assert p1["next"] == "http://%s%srooms/?page=2" % (host, API) and p1["previous"] is None
    p2 = api(chatd, "GET", "rooms/?page=2", tok).json
    assert len(p2["results"]) == 3 and p2["next"] is None
    assert p2["previous"] == "http://%s%srooms/" % (host, API), p2["previous"]
    seen = [x["id"] for x in p1["results"] + p2["results"]]
    assert sorted(seen) == sorted(rooms)
    for bad in ("3", "0", "-1", "abc", "1.5", ""):
        check_detail(api(chatd, "GET", "rooms/?page=" + bad, tok), 404, "Invalid page.")


# ---------------------------------------------------------------------------
# messages

def check_pages(server, pair, ids, tok):
    """The 45 messages in ids (oldest first) read back as 3 pages."""
    host = "127.0.0.1:%d" % server.port
    base = "http://%s%srooms/%d/messages/" % (host, API, pair.room)
    newest_first = ids[::-1]
    got = []
    for page, (nxt, prv) in enumerate([(base + "?page=2", None),
                                       (base + "?page=3", base),
                                       (None, base + "?page=2")], 1):
        r = api(server, "GET", "rooms/%d/messages/?page=%d" % (pair.room, page), tok)
        body = check_json_reply(r, 200)
        assert set(body) == PAGE_KEYS
        assert body["count"] == 45, body["count"]
        assert body["next"] == nxt and body["previous"] == prv, (page, body["next"], body["previous"])
        for m in body["results"]:
            check_message(m, room=pair.room, sender=pair.a)
        got += [m["id"] for m in body["results"]]
    assert got == newest_first, "pages are not the messages newest first"
    check_detail(api(server, "GET", "rooms/%d/messages/?page=4" % pair.room, tok), 404, "Invalid page.")
    # No page is page 1.
    assert api(server, "GET", "rooms/%d/messages/" % pair.room, tok).json["results"][0]["id"] == ids[-1]
    # Cursor paging: each page names the next one.
    url, got = "rooms/%d/messages/?before=%d" % (pair.room, ids[-1] + 1), []
    while url:
        body = api(server, "GET", url, tok).json
        assert body["count"] == 45 and body["previous"] is None
        got += [m["id"] for m in body["results"]]
        url = body["next"]
        if url:
            assert url.startswith(base + "?before=")
            url = url[len("http://" + host):]
    assert got == newest_first
    mid = ids[10]
    body = api(server, "GET", "rooms/%d/messages/?before=%d" % (pair.room, mid), tok).json
    assert [m["id"] for m in body["results"]] == ids[:10][::-1] and body["next"] is None
    for bad in ("0", "x", "-3", "99999999999999999999999"):
        check_detail(api(server, "GET", "rooms/%d/messages/?before=%s" % (pair.room, bad), tok),
                     404, "Invalid cursor.")


def test_messages_pages_and_cursor(chatd_factory, pair):
    """45 messages: three pages newest first with next/previous links, a
    404 past the end, and ?before= cursors; the same after a restart, when
    everything comes from MariaDB rather than memory."""
    s = chatd_factory()
    ids = post_many(s, pair.ta, pair.room, 45)
    assert ids == sorted(ids)
    check_pages(s, pair, ids, pair.tb)
    s.stop()
    s2 = chatd_factory()
    check_pages(s2, pair, ids, pair.ta)
    r = api(s2, "GET", "rooms/%d/messages/" % pair.room, pair.ta).json["results"][0]
    check_message(r, ids[-1], pair.room, pair.a, "m44")


def test_empty_room_has_one_empty_page(chatd, pair):
    body = api(chatd, "GET", "rooms/%d/messages/" % pair.room, pair.ta).json
    assert body == {"count": 0, "next": None, "previous": None, "results": []}
    check_detail(api(chatd, "GET", "rooms/%d/messages/?page=2" % pair.room, pair.ta),
                 404, "Invalid page.")


def test_post_message_is_stored_and_delivered_live(chatd, pair, db):
    async def main():
        wb, _ = await h.open_chat(chatd, pair.room, pair.b)
        loop = asyncio.get_running_loop()
        r = await loop.run_in_executor(None, post, chatd, pair.ta, pair.room,
                                       "över REST 👍", "rest-1")
        body = check_json_reply(r, 201)
        mid = check_message(body, room=pair.room, sender=pair.a, content="över REST 👍")
        check_user(body["sender"], pair.a, pair.a_name, "Ann A",
                   ["https://img.example/a1.jpg", "https://img.example/a2.jpg"])
        live = await h.recv_type(wb, "message")
        assert live["message"]["id"] == mid and live["message"]["content"] == "över REST 👍"
        assert live["message"]["sender_id"] == pair.a and live["message"]["room_id"] == pair.room
        # A retry with the same temp_id answers the stored message again,
        # stores nothing and delivers nothing.
        r2 = await loop.run_in_executor(None, post, chatd, pair.ta, pair.room,
                                        "över REST 👍", "rest-1")
        assert r2.status == 200 and r2.json["id"] == mid, r2
        r3 = await loop.run_in_executor(None, post, chatd, pair.ta, pair.room, "next", None)
        assert r3.status == 201 and r3.json["id"] > mid
        nxt = await h.recv_type(wb, "message")
        assert nxt["message"]["id"] == r3.json["id"], "the retry was delivered again"
        await wb.close()
        return mid

    mid = h.run(main())
    row = db.sql("SELECT room_id, sender_id, content, status, temp_id FROM messages WHERE id = ?", mid)
    assert row == [(str(pair.room), str(pair.a), "över REST 👍", "1", "rest-1")]
    assert db.scalar("SELECT COUNT(*) FROM messages WHERE temp_id = 'rest-1' AND sender_id = ?",
                     pair.a) == "1"


def test_post_from_websocket_then_rest_retry(chatd, pair):
    """A message first sent over WebSocket and retried over REST with the
    same temp_id is the same message."""
    async def main():
        wa, _ = await h.open_chat(chatd, pair.room, pair.a)
        await wa.send(json.dumps({"type": "message", "content": "ws first", "temp_id": "w-1"}))
        got = await h.recv_type(wa, "message")
        await wa.close()
        return got["message"]["id"]

    mid = h.run(main())
    r = post(chatd, pair.ta, pair.room, "ws first", "w-1")
    assert r.status == 200 and r.json["id"] == mid and r.json["content"] == "ws first", r


def test_post_message_validation(chatd, pair):
    s, t = chatd, pair.ta

    def errors(body, raw=False):
        r = api(s, "POST", "messages/", t, body if not raw else body,
                headers={"Content-Type": "application/json"})
        return check_json_reply(r, 400)

    assert errors("") == {"room": ["This field is required."], "content": ["This field is required."]}
    assert errors({"room": pair.room}) == {"content": ["This field is required."]}
    assert errors({"room": pair.room, "content": ""}) == {"content": ["Message content cannot be empty"]}
    assert errors({"room": pair.room, "content": " \n\t "}) == \
        {"content": ["Message content cannot be empty"]}
    assert errors({"room": pair.room, "content": "x" * 1001}) == \
        {"content": ["Message too long (max 1000 characters)"]}
    assert errors({"room": pair.room, "content": 5}) == {"content": ["Not a valid string."]}
    assert errors({"room": pair.room, "content": None}) == {"content": ["This field may not be null."]}
    assert errors({"room": "abc", "content": "x"}) == \
        {"room": ['Invalid pk "abc" - object does not exist.']}
    assert errors({"room": [1], "content": "x"}) == {"room": ["Incorrect type. Expected pk value."]}
    missing = h.missing_room_id(chatd.mariadb)
    assert errors({"room": missing, "content": "x"}) == \
        {"room": ['Invalid pk "%d" - object does not exist.' % missing]}
    assert errors({"room": pair.room, "content": "x", "temp_id": "t" * 65}) == \
        {"temp_id": ["Ensure this field has no more than 64 characters."]}
    for bad in ("{", "not json", "[1, 2]", '{"room": 1,}', "\xff"):
        r = api(s, "POST", "messages/", t, bad.encode("latin-1"))
        check_detail(r, 400, "JSON parse error - Invalid JSON format")
    # 1000 characters of 4 bytes each are within the limit: characters count.
    r = post(s, t, pair.room, "😀" * 1000)
    assert r.status == 201 and r.json["content"] == "😀" * 1000, r
    # A room given as a string of digits is accepted, as Django does.
    assert api(s, "POST", "messages/", t, {"room": str(pair.room), "content": "s"}).status == 201
    assert api(s, "GET", "rooms/%d/messages/" % pair.room, t).json["count"] == 2


def test_body_too_large_is_413(chatd, pair):
    big = json.dumps({"room": pair.room, "content": "x" * 70000})
    check_detail(api(chatd, "POST", "messages/", pair.ta, big), 413)
    # Without a Content-Length (chunked), the limit holds while reading.
    c = http.client.HTTPConnection("127.0.0.1", chatd.port, timeout=20)
    try:
        c.putrequest("POST", API + "messages/")
        c.putheader("Authorization", "Bearer " + pair.ta)
        c.putheader("Transfer-Encoding", "chunked")
        c.endheaders()
        chunk = b"x" * 16384
        for _ in range(5):
            c.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        c.send(b"0\r\n\r\n")
        r = c.getresponse()
        assert r.status == 413, r.status
        assert json.loads(r.read())["detail"].startswith("Request body too large")
    finally:
        c.close()
    assert api(chatd, "GET", "rooms/%d/messages/" % pair.room, pair.ta).json["count"] == 0


# ---------------------------------------------------------------------------
# unread counts

def unread(server, tok, room):
    return api(server, "GET", "rooms/%d/" % room, tok).json["unread_count"]


def test_unread_counts_move(chatd_factory, pair, db):
    """unread_count is the peer's messages not yet read.  Messages are
    marked read in MariaDB here and seen after a restart; the WebSocket
    message_read path updates the same counts live."""
    s = chatd_factory()
    # Loaded before the messages, so they are counted in memory.
    assert unread(s, pair.ta, pair.room) == 0
    b_ids = post_many(s, pair.tb, pair.room, 3, "from ben ")
    assert unread(s, pair.ta, pair.room) == 3
    assert unread(s, pair.tb, pair.room) == 0
    post_many(s, pair.ta, pair.room, 2, "from ann ")
    assert unread(s, pair.ta, pair.room) == 3
    assert unread(s, pair.tb, pair.room) == 2
    listed = api(s, "GET", "rooms/", pair.tb).json["results"][0]
    assert listed["unread_count"] == 2
    s.stop()

    db.sql("UPDATE messages SET status = 3, delivered_at = NOW(3), read_at = NOW(3)"
           " WHERE id IN (?, ?)", b_ids[0], b_ids[1])
    s2 = chatd_factory()
    assert unread(s2, pair.ta, pair.room) == 1
    assert unread(s2, pair.tb, pair.room) == 2
    msgs = api(s2, "GET", "rooms/%d/messages/" % pair.room, pair.ta).json["results"]
    by_id = {m["id"]: m for m in msgs}
    read = by_id[b_ids[0]]
    check_message(read, status="read")
    check_time(read["read_at"], "read_at")
    check_time(read["delivered_at"], "delivered_at")
    check_message(by_id[b_ids[2]], status="sent")


def test_message_cache_is_bounded(chatd_factory, db):
    """With message_cache_rooms 2, loading a third room drops the least
    recently used one (unless it was used within rest_timeout, here one
    second: a request may still wait for it), and a dropped room answers
    as before: counts and pages come back from MariaDB."""
    from test_operations import scrape
    pairs = [Pair(db) for _ in range(4)]
    # Rows written before chatd starts, so that no room is loaded yet.
    top = int(db.scalar("SELECT COALESCE(MAX(id), 0) FROM messages"))
    for i, p in enumerate(pairs):
        for k in range(3):
            db.sql("INSERT INTO messages (id, room_id, sender_id, content, sent_at,"
                   " created_at, updated_at) VALUES (?, ?, ?, ?, NOW(3), NOW(3), NOW(3))",
                   top + 1 + 3 * i + k, p.room, p.b, "old %d" % k)
    admin = h.free_port()
    s = chatd_factory(message_cache_rooms=2, rest_timeout=1,
                      admin_listen="127.0.0.1:%d" % admin)

    def held():
        m = scrape(admin)
        return m["chatd_message_cache_rooms"], m["chatd_message_cache_evictions_total"]

    assert held() == (0, 0)
    for p in pairs[:2]:
        assert unread(s, p.ta, p.room) == 3
    assert held() == (2, 0)
    time.sleep(1.1)
    for p in pairs[2:]:
        assert unread(s, p.ta, p.room) == 3
    assert held() == (2, 2), "rooms 0 and 1 should have made way"
    # Room 0 is read again from MariaDB, with what is posted now.
    later = post_many(s, pairs[0].tb, pairs[0].room, 2, "later ")
    assert unread(s, pairs[0].ta, pairs[0].room) == 5
    page = api(s, "GET", "rooms/%d/messages/" % pairs[0].room, pairs[0].ta).json
    assert page["count"] == 5, page
    assert [m["content"] for m in page["results"]] == \
        ["later 1", "later 0", "old 2", "old 1", "old 0"], page
    assert page["results"][0]["id"] == later[-1]
    # Rooms 2 and 3 were used within the second: kept, over the limit.
    assert held() == (3, 2)
    time.sleep(1.1)
    assert unread(s, pairs[1].ta, pairs[1].room) == 3
    assert held() == (2, 4)


# ---------------------------------------------------------------------------
# stats and health

def test_stats(chatd, pair, db):
    other = h.make_user(db, h.unique_name("oth"), "Other")
    quiet = h.make_room(db, pair.a, other)
    post_many(chatd, pair.ta, pair.room, 3)
    body = check_json_reply(api(chatd, "GET", "stats/", pair.ta), 200)
    assert set(body) == {"user_id", "total_rooms", "active_rooms_today", "recent_messages_24h",
                         "channel_layer_status", "timestamp", "connection_settings"}, body
    assert body["user_id"] == pair.a and body["total_rooms"] == 2, body
    assert body["active_rooms_today"] == 1 and body["recent_messages_24h"] == 3, body
    assert body["channel_layer_status"] == "available"
    check_time(body["timestamp"], "timestamp")
    assert body["connection_settings"] == {"heartbeat_interval": 30, "connection_timeout": 14400,
                                           "ping_timeout": 10, "max_reconnect_attempts": 5}
    # An old message is neither recent nor today's.
    db.sql("UPDATE messages SET created_at = NOW(3) - INTERVAL 3 DAY WHERE room_id = ?", pair.room)
    body = api(chatd, "GET", "stats/", pair.tb).json
    assert (body["total_rooms"], body["active_rooms_today"], body["recent_messages_24h"]) == (1, 0, 0)
    assert quiet


def test_room_health_reaches_websocket(chatd, pair):
    post_many(chatd, pair.ta, pair.room, 2)
    r = api(chatd, "GET", "rooms/%d/health/" % pair.room, pair.ta)
    body = check_json_reply(r, 200)
    assert set(body) == {"room_id", "group_name", "health_check_sent", "recent_messages_count",
                         "timestamp"}, body
    assert body["room_id"] == pair.room and body["group_name"] == "chat_%d" % pair.room
    assert body["health_check_sent"] is False, "nobody is connected to ask"
    assert body["recent_messages_count"] == 2
    check_time(body["timestamp"], "timestamp")

    async def main():
        wb, _ = await h.open_chat(chatd, pair.room, pair.b)
        loop = asyncio.get_running_loop()
        r = await loop.run_in_executor(None, api, chatd, "GET",
                                       "rooms/%d/health/" % pair.room, pair.ta)
        assert r.json["health_check_sent"] is True, r
        got = await h.recv_type(wb, "health_check_response")
        assert got["room_id"] == pair.room and got["user_id"] == pair.b and got["is_alive"] is True
        await wb.close()

    h.run(main())


def test_health_check_all_rooms(chatd, pair, db):
    c = h.make_user(db, h.unique_name("cid"), "Cid")
    r2 = h.make_room(db, pair.a, c)

    async def main():
        wc, _ = await h.open_chat(chatd, r2, c)
        loop = asyncio.get_running_loop()
        r = await loop.run_in_executor(None, api, chatd, "POST", "health-check/", pair.ta)
        body = check_json_reply(r, 200)
        assert set(body) == {"health_checks_sent", "total_rooms", "timestamp"}, body
        assert body["health_checks_sent"] == 1 and body["total_rooms"] == 2, body
        check_time(body["timestamp"], "timestamp")
        got = await h.recv_type(wc, "health_check_response")
        assert got["room_id"] == r2 and got["user_id"] == c
        await wc.close()

    h.run(main())
    body = api(chatd, "POST", "health-check/", pair.tb).json
    assert body["health_checks_sent"] == 0 and body["total_rooms"] == 1


# ---------------------------------------------------------------------------
# errors

def endpoints(room):
    return [("GET", "rooms/"), ("GET", "rooms/%d/" % room), ("GET", "rooms/%d/messages/" % room),
            ("POST", "messages/"), ("GET", "stats/"), ("GET", "rooms/%d/health/" % room),
            ("POST", "health-check/")]


def test_401_on_every_endpoint(chatd, pair, db):
    unknown_user = h.token(h.missing_user_id(db))
    bad = [h.token(pair.a, secret="wrong-secret"), h.token(pair.a, exp_offset=-3600),
           h.token(pair.a, alg="none"), h.token(pair.a, alg="HS512"), "garbage", ""]
    for method, path in endpoints(pair.room):
        body = {"room": pair.room, "content": "x"} if path == "messages/" else None
        r = api(chatd, method, path, None, body)
        check_detail(r, 401, NO_CREDENTIALS)
        assert r.header("WWW-Authenticate", ).startswith("Bearer"), r.headers
        r = api(chatd, method, path, None, body, headers={"Authorization": "Basic dTpw"})
        check_detail(r, 401, NO_CREDENTIALS)
        for tok in bad:
            check_detail(api(chatd, method, path, tok, body), 401)
        check_detail(api(chatd, method, path, unknown_user, body), 401, "User not found")
    assert db.scalar("SELECT COUNT(*) FROM messages WHERE room_id = ?", pair.room) == "0"


def test_token_refused_once_it_expires(chatd, pair):
    """A token accepted a moment ago is refused once its exp (plus chatd's
    30 s of leeway for clock skew) has passed, on every worker."""
    tok = h.token(pair.a, exp_offset=-27)
    for _ in range(4):
        assert api(chatd, "GET", "rooms/", tok).status == 200
    time.sleep(4)
    for _ in range(4):
        check_detail(api(chatd, "GET", "rooms/", tok), 401,
                     "Given token not valid for any token type")
    assert api(chatd, "GET", "rooms/", pair.ta).status == 200


def test_403_and_404_for_rooms(chatd, pair, db):
    stranger = h.make_user(db, h.unique_name("eve"), "Eve")
    te = h.token(stranger)
    forbidden = "You do not have permission to perform this action."
    for path in ("rooms/%d/", "rooms/%d/messages/", "rooms/%d/health/"):
        check_detail(api(chatd, "GET", path % pair.room, te), 403, forbidden)
    check_detail(post(chatd, te, pair.room, "let me in"), 403, forbidden)
    missing = h.missing_room_id(db)
    for path in ("rooms/%d/", "rooms/%d/messages/", "rooms/%d/health/"):
        check_detail(api(chatd, "GET", path % missing, pair.ta), 404, "Not found.")
    for rid in ("abc", "0", "99999999999999999999999", "18446744073709551616", "1e3", "-1"):
        for path in ("rooms/%s/", "rooms/%s/messages/", "rooms/%s/health/"):
            check_detail(api(chatd, "GET", path % rid, pair.ta), 404, "Not found.")
    for path in ("/api/v1.0/chat/", "/api/v1.0/chat/nope/", "/api/v1.0/chat/rooms/1/x/",
                 "/api/v1.0/chat/rooms//", "/api/v2/rooms/", "/", "/favicon.ico"):
        check_detail(api(chatd, "GET", path, pair.ta), 404, "Not found.")
    assert db.scalar("SELECT COUNT(*) FROM messages WHERE sender_id = ?", stranger) == "0"


def test_405_on_every_endpoint(chatd, pair):
    for method, path in endpoints(pair.room):
        for wrong in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            if wrong == method:
                continue
            r = api(chatd, wrong, path, pair.ta)
            check_detail(r, 405, 'Method "%s" not allowed.' % wrong)
            assert "OPTIONS" in r.header("Allow"), r.headers


# ---------------------------------------------------------------------------
# CORS, public_url, broker timeouts

def test_cors_and_public_url(chatd_factory, pair):
    s = chatd_factory(cors_origins="https://app.example.com https://m.example.com",
                      public_url="https://chat.example.com/", heartbeat_interval=25)
    ok = {"Origin": "https://app.example.com"}
    pre = api(s, "OPTIONS", "rooms/%d/messages/" % pair.room,
              headers=dict(ok, **{"Access-Control-Request-Method": "GET",
                                  "Access-Control-Request-Headers": "authorization"}))
    assert pre.status == 200, pre
    assert pre.header("Access-Control-Allow-Origin") == "https://app.example.com"
    assert "GET" in pre.header("Access-Control-Allow-Methods")
    assert "POST" in pre.header("Access-Control-Allow-Methods")
    assert "authorization" in pre.header("Access-Control-Allow-Headers").lower()
    assert "content-type" in pre.header("Access-Control-Allow-Headers").lower()
    r = api(s, "GET", "rooms/", pair.ta, headers=ok)
    assert r.status == 200 and r.header("Access-Control-Allow-Origin") == "https://app.example.com"
    r = api(s, "GET", "rooms/", None, headers={"Origin": "https://m.example.com"})
    assert r.status == 401 and r.header("Access-Control-Allow-Origin") == "https://m.example.com"
    r = api(s, "GET", "rooms/", pair.ta, headers={"Origin": "https://evil.example.com"})
    assert r.status == 200 and r.header("Access-Control-Allow-Origin") is None
    pre = api(s, "OPTIONS", "rooms/", headers={"Origin": "https://evil.example.com",
                                               "Access-Control-Request-Method": "GET"})
    assert pre.header("Access-Control-Allow-Origin") is None
    # Links use the configured public URL, whatever the Host header says.
    for _ in range(21):
        post(s, pair.ta, pair.room, "x")
    body = api(s, "GET", "rooms/%d/messages/" % pair.room, pair.ta, headers={"Host": "inner:1"}).json
    assert body["next"] == "https://chat.example.com%srooms/%d/messages/?page=2" % (API, pair.room)
    assert api(s, "GET", "stats/", pair.ta).json["connection_settings"]["heartbeat_interval"] == 25


def test_cors_any_origin(chatd_factory, pair):
    s = chatd_factory(cors_origins="*")
    r = api(s, "GET", "stats/", pair.ta, headers={"Origin": "https://anything.example"})
    assert r.header("Access-Control-Allow-Origin") == "*"
    # Not configured: no CORS headers at all.
    s2 = chatd_factory()
    r = api(s2, "GET", "stats/", pair.ta, headers={"Origin": "https://anything.example"})
    assert r.status == 200 and r.header("Access-Control-Allow-Origin") is None


def test_broker_answer_timeout_and_client_gone(chatd_factory, pair, db):
    """While MariaDB holds the broker's lookup, a REST request gets a 503
    after rest_timeout, a client that hangs up while waiting harms
    nothing, and once MariaDB answers again everything works."""
    s = chatd_factory(rest_timeout=1)
    assert api(s, "GET", "rooms/%d/" % pair.room, pair.ta).status == 200
    workers = s.worker_pids()
    with db.session() as lock:
        lock.execute("LOCK TABLES rooms WRITE")
        t0 = time.monotonic()
        r = api(s, "GET", "rooms/", pair.ta)
        check_detail(r, 503)
        assert 0.8 < time.monotonic() - t0 < 5
        r = api(s, "GET", "stats/", pair.ta)
        assert r.status == 503 and r.json["channel_layer_status"] == "unavailable", r
        # Hang up while the request is suspended.
        sock = socket.create_connection(("127.0.0.1", s.port))
        sock.sendall(b"GET " + API.encode() + b"rooms/ HTTP/1.1\r\nHost: x\r\n"
                     b"Authorization: Bearer " + pair.ta.encode() + b"\r\n\r\n")
        time.sleep(0.2)
        sock.close()
        lock.execute("UNLOCK TABLES")
    time.sleep(1.5)
    r = api(s, "GET", "rooms/", pair.ta)
    assert r.status == 200 and r.json["count"] == 1, r
    assert s.worker_pids() == workers, "a worker died"


def test_hot_reads_come_from_memory(chatd_factory, pair, db):
    """Once a room has been read, its details, the rooms list and its
    newest page are answered while MariaDB's messages table is locked;
    older history needs MariaDB and waits for it (503 after rest_timeout)."""
    s = chatd_factory(rest_timeout=1)
    ids = post_many(s, pair.ta, pair.room, 100)
    assert api(s, "GET", "rooms/%d/" % pair.room, pair.tb).status == 200
    with db.session() as lock:
        lock.execute("LOCK TABLES messages WRITE")
        try:
            r = api(s, "GET", "rooms/%d/messages/" % pair.room, pair.tb)
            assert r.status == 200, r
            assert [m["id"] for m in r.json["results"]] == ids[::-1][:20]
            r = api(s, "GET", "rooms/%d/" % pair.room, pair.tb)
            assert r.status == 200 and r.json["unread_count"] == 100, r
            r = api(s, "GET", "rooms/", pair.tb)
            assert r.status == 200 and r.json["results"][0]["last_message"]["id"] == ids[-1], r
            check_detail(api(s, "GET", "rooms/%d/messages/?page=5" % pair.room, pair.tb), 503)
        finally:
            lock.execute("UNLOCK TABLES")
    r = api(s, "GET", "rooms/%d/messages/?page=5" % pair.room, pair.tb)
    assert [m["id"] for m in r.json["results"]] == ids[:20][::-1], r


def test_presence_in_user_objects(chatd, pair, db):
    """is_online follows live WebSocket connections; last_seen comes from
    users.last_seen while chatd has not seen the user itself."""
    db.sql("UPDATE users SET last_seen = '2024-12-25 09:15:00.250' WHERE id = ?", pair.b)

    async def main():
        loop = asyncio.get_running_loop()
        r = await loop.run_in_executor(None, api, chatd, "GET", "rooms/%d/" % pair.room, pair.ta)
        other = r.json["other_participant"]
        assert other["is_online"] is False and other["last_seen"] == "2024-12-25T09:15:00.250Z", other
        assert r.json["participant1"]["last_seen"] is None
        wb, _ = await h.open_chat(chatd, pair.room, pair.b)
        r = await loop.run_in_executor(None, api, chatd, "GET", "rooms/%d/" % pair.room, pair.ta)
        assert r.json["other_participant"]["is_online"] is True, r.json
        assert r.json["participant1"]["is_online"] is False
        await wb.close()

    h.run(main())


def test_sigterm_while_requests_wait(chatd_factory, pair, db):
    """A request still waiting for the broker when chatd is stopped gets a
    503 (or its connection closed), and chatd still exits cleanly."""
    # Lifetime 0: every rooms list asks MariaDB, so this one waits.
    s = chatd_factory(rest_timeout=30, room_list_lifetime=0)
    assert api(s, "GET", "rooms/", pair.ta).status == 200
    with db.session() as lock:
        lock.execute("LOCK TABLES rooms WRITE")
        c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=20)
        c.request("GET", API + "rooms/", headers={"Authorization": "Bearer " + pair.ta})
        time.sleep(0.3)
        t0 = time.monotonic()
        s.stop()
        try:
            r = c.getresponse()
            assert r.status == 503, r.status
            assert "detail" in json.loads(r.read())
        except (http.client.RemoteDisconnected, ConnectionResetError):
            pass
        finally:
            c.close()
            lock.execute("UNLOCK TABLES")
        assert s.returncode == 0 and time.monotonic() - t0 < 8, (s.returncode, s.log_tail())


def test_concurrent_posts_and_reads(chatd, pair):
    """Posts from both participants over several connections at once, with
    reads in between: every message stored once, ids unique, and the pages
    list them all newest first."""
    import concurrent.futures

    def worker(n):
        tok = pair.ta if n % 2 == 0 else pair.tb
        ids = post_many(chatd, tok, pair.room, 15, prefix="w%d-" % n)
        assert api(chatd, "GET", "rooms/%d/messages/" % pair.room, tok).status == 200
        return ids

    with concurrent.futures.ThreadPoolExecutor(6) as ex:
        all_ids = [i for ids in ex.map(worker, range(6)) for i in ids]
    assert len(set(all_ids)) == 90
    got = []
    for page in range(1, 6):
        body = api(chatd, "GET", "rooms/%d/messages/?page=%d" % (pair.room, page), pair.ta).json
        assert body["count"] == 90
        got += [m["id"] for m in body["results"]]
    assert got == sorted(all_ids, reverse=True)
    room = api(chatd, "GET", "rooms/%d/" % pair.room, pair.ta).json
    assert room["unread_count"] == 45 and room["last_message"]["id"] == max(all_ids)

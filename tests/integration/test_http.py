"""HTTP requests whose framing is in doubt, sent byte for byte: each gets a
JSON answer and the connection closes, so nothing after it can pass for
another request (request smuggling).  Real chatd, real sockets.
"""
import base64
import json
import os
import socket
import time

import pytest

import chatd_harness as h


@pytest.fixture(scope="module")
def alice(chatd_shared, db):
    a = h.make_user(db, h.unique_name("alice"))
    b = h.make_user(db, h.unique_name("bob"))
    return chatd_shared, h.make_room(db, a, b), h.token(a, secret=chatd_shared.jwt_secret)


def exchange(server, data, timeout=10, until_closed=True):
    """Send data, read until the server closes (or, with until_closed
    False, until one whole response came); returns (raw bytes, seconds)."""
    t0 = time.monotonic()
    s = socket.create_connection(("127.0.0.1", server.port), timeout=timeout)
    try:
        s.sendall(data)
        got = b""
        while until_closed or not whole(got):
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
    finally:
        s.close()
    return got, time.monotonic() - t0


def whole(raw):
    head, sep, rest = raw.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        if line.lower().startswith(b"content-length:"):
            return len(rest) >= int(line.split(b":", 1)[1])
    return True


def responses(raw):
    """(status, headers, body) of each response in raw, in order."""
    out = []
    while raw:
        head, _, rest = raw.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = dict((k.strip().lower(), v.strip()) for k, v in
                       (l.split(":", 1) for l in lines[1:]))
        n = int(headers.get("content-length", "0"))
        out.append((status, headers, rest[:n]))
        raw = rest[n:]
    return out


def smuggle_after(tok):
    return ("GET /api/v1.0/chat/stats/ HTTP/1.1\r\nHost: x\r\n"
            "Authorization: Bearer %s\r\n\r\n" % tok).encode()


def post_head(tok, extra):
    return ("POST /api/v1.0/chat/messages/ HTTP/1.1\r\nHost: x\r\n"
            "Authorization: Bearer %s\r\nContent-Type: application/json\r\n%s\r\n"
            % (tok, extra)).encode()


def only_refusal(raw, status, detail):
    got = responses(raw)
    assert len(got) == 1, got
    code, headers, body = got[0]
    assert code == status and headers["content-type"] == "application/json", got
    assert json.loads(body) == {"detail": detail}, body


def test_two_content_lengths_are_refused(alice, db):
    s, room, tok = alice
    body = json.dumps({"room": room, "content": "smuggled?"}).encode()
    after = smuggle_after(tok)
    raw, _ = exchange(s, post_head(tok, "Content-Length: %d\r\nContent-Length: %d\r\n"
                                   % (len(body), len(body) + len(after))) + body + after)
    only_refusal(raw, 400, "Conflicting Content-Length or Transfer-Encoding.")
    assert db.scalar("SELECT COUNT(*) FROM messages WHERE room_id = ?", room) == "0"


def test_length_and_chunked_together_are_refused(alice):
    s, room, tok = alice
    body = json.dumps({"room": room, "content": "x"}).encode()
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    raw, _ = exchange(s, post_head(tok, "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n")
                      + chunked + smuggle_after(tok))
    only_refusal(raw, 400, "Conflicting Content-Length or Transfer-Encoding.")


def test_unknown_transfer_coding_is_refused_at_once(alice):
    s, room, tok = alice
    raw, took = exchange(s, post_head(tok, "Transfer-Encoding: gzip\r\n") + b"\x1f\x8b")
    only_refusal(raw, 501, "Transfer-Encoding not supported.")
    assert took < 5, took


def test_blank_before_a_header_colon_is_refused(alice):
    s, room, tok = alice
    body = json.dumps({"room": room, "content": "x"}).encode()
    raw, _ = exchange(s, post_head(tok, "Transfer-Encoding : chunked\r\nContent-Length: %d\r\n"
                                   % len(body)) + body)
    only_refusal(raw, 400, "Malformed header name.")


def upgrade(room, tok, version="HTTP/1.1", ws_version="13"):
    key = base64.b64encode(os.urandom(16)).decode()
    return ("GET /ws/chat/%d/?token=%s %s\r\nHost: x\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
            "Sec-WebSocket-Version: %s\r\n\r\n" % (room, tok, version, key, ws_version)).encode()


def test_websocket_over_http_1_0_is_refused(alice):
    s, room, tok = alice
    raw, _ = exchange(s, upgrade(room, tok, version="HTTP/1.0"))
    only_refusal(raw, 400, "A WebSocket upgrade needs HTTP/1.1.")


def test_unsupported_websocket_version_is_told(alice):
    s, room, tok = alice
    raw, _ = exchange(s, upgrade(room, tok, ws_version="8"), until_closed=False)
    (status, headers, body), = responses(raw)
    assert status == 426 and headers["sec-websocket-version"] == "13", (status, headers)
    assert headers["content-type"] == "application/json"
    assert json.loads(body)["detail"].startswith("Unsupported WebSocket version"), body


def test_head_over_max_header_size_is_refused(alice):
    """max_header_size (16384 here) is the limit, not MHD's pool size."""
    s, room, tok = alice
    req = ("GET /api/v1.0/chat/rooms/ HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
           "X-Big: %s\r\n\r\n" % (tok, "a" * 17000)).encode()
    raw, _ = exchange(s, req)
    only_refusal(raw, 431, "Request head too large.")
    # Just under the limit is served.
    req = ("GET /api/v1.0/chat/rooms/ HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
           "Connection: close\r\nX-Big: %s\r\n\r\n" % (tok, "a" * 15000)).encode()
    (status, _, _), = responses(exchange(s, req)[0])
    assert status == 200


def test_websocket_key_must_be_sixteen_bytes_in_base64(alice):
    s, room, tok = alice
    good = upgrade(room, tok)
    key = good.split(b"Sec-WebSocket-Key: ")[1].split(b"\r\n")[0]
    for bad in (b"!" * 24, b"A" * 24, key[:-2] + b"A="):
        raw, _ = exchange(s, good.replace(key, bad), until_closed=False)
        (status, headers, body), = responses(raw)
        assert status == 400 and json.loads(body) == {
            "detail": "Expected a WebSocket upgrade request."}, (bad, status, body)


def test_json_with_too_many_values_is_named_so(alice, db):
    """A valid JSON document past the parser's 128 values is not called
    invalid."""
    s, room, tok = alice
    big = {"room": room, "content": "x"}
    big.update(("k%d" % i, i) for i in range(100))
    body = json.dumps(big).encode()
    raw, _ = exchange(s, post_head(tok, "Content-Length: %d\r\nConnection: close\r\n"
                                   % len(body)) + body)
    (status, _, reply), = responses(raw)
    assert status == 400 and json.loads(reply) == {
        "detail": "JSON parse error - more than 128 JSON values"}, (status, reply)
    user = int(db.scalar("SELECT participant1 FROM rooms WHERE id = ?", room))

    async def main():
        ws, _ = await h.open_chat(s, room, user)
        await ws.send(json.dumps(dict(big, type="message")))
        msg = await h.recv_json(ws, 5)
        await ws.close()
        return msg

    msg = h.run(main())
    assert msg["type"] == "error" and msg["message"] == \
        "Message too complex: more than 128 JSON values", msg

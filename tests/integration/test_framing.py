"""RFC 6455 framing end to end, with hand-built frames on raw sockets.

The cases follow the sections of the Autobahn|Testsuite catalogue: 1
framing, 2 ping/pong, 3 reserved bits, 4 opcodes, 5 fragmentation, 6 UTF-8
(including fail-fast), 7 close handling, 9 limits (10, auto-fragmentation,
is a client concern).  The chat server is not an echo server, so a data
message is a JSON ping and "echoed" means it is answered with a JSON pong.
"""

import base64
import json
import os
import socket
import struct
import threading
import time

import pytest

import chatd_harness as h

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10
PING_JSON = b'{"type":"ping"}'


class Raw:
    """A WebSocket client on a plain socket that sends whatever it is told."""

    def __init__(self, server, room, user, extra_headers="", rcvbuf=None):
        if rcvbuf is None:
            self.sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        else:
            # A small receive buffer, fixed before the connection: the
            # kernel then holds little of what the server sends.
            self.sock = socket.socket()
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            self.sock.settimeout(5)
            self.sock.connect(("127.0.0.1", server.port))
        key = base64.b64encode(os.urandom(16)).decode()
        req = ("GET /ws/chat/%d/?token=%s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
               "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
               "Sec-WebSocket-Version: 13\r\n%s\r\n" % (room, h.token(user), key, extra_headers))
        self.sock.sendall(req.encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            assert chunk, "closed during the handshake"
            self.buf += chunk
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        self.response = head.decode("latin-1")
        assert self.response.startswith("HTTP/1.1 101"), self.response
        op, payload = self.recv_frame()
        assert op == OP_TEXT and json.loads(payload)["type"] == "connection_established"

    @staticmethod
    def frame(op, payload=b"", fin=True, rsv=0, mask=True, length=None):
        b0 = (0x80 if fin else 0) | (rsv << 4) | op
        n = len(payload) if length is None else length
        mbit = 0x80 if mask else 0
        if n < 126:
            head = struct.pack("!BB", b0, mbit | n)
        elif n < 65536:
            head = struct.pack("!BBH", b0, mbit | 126, n)
        else:
            head = struct.pack("!BBQ", b0, mbit | 127, n)
        if not mask:
            return head + payload
        key = os.urandom(4)
        return head + key + bytes(c ^ key[i % 4] for i, c in enumerate(payload))

    def send(self, op, payload=b"", **kw):
        self.sock.sendall(self.frame(op, payload, **kw))

    def send_raw(self, data):
        self.sock.sendall(data)

    def _need(self, n, deadline):
        while len(self.buf) < n:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                raise TimeoutError("no frame from the server in time")
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk

    def recv_frame(self, timeout=5):
        """(opcode, payload) of the next server frame; server frames are
        checked to be final, unmasked and without reserved bits."""
        deadline = time.monotonic() + timeout
        self._need(2, deadline)
        b0, b1 = self.buf[0], self.buf[1]
        assert b0 & 0x80 and not b0 & 0x70 and not b1 & 0x80, "bad server frame header %r" % self.buf[:2]
        n, off = b1 & 0x7F, 2
        if n == 126:
            self._need(4, deadline)
            n, off = struct.unpack("!H", self.buf[2:4])[0], 4
        elif n == 127:
            self._need(10, deadline)
            n, off = struct.unpack("!Q", self.buf[2:10])[0], 10
        self._need(off + n, deadline)
        payload, self.buf = self.buf[off:off + n], self.buf[off + n:]
        return b0 & 0x0F, payload

    def recv_json(self, timeout=5):
        op, payload = self.recv_frame(timeout)
        assert op == OP_TEXT, "expected a text frame, got opcode %d %r" % (op, payload)
        return json.loads(payload.decode("utf-8"))

    def expect_pong_json(self):
        msg = self.recv_json()
        assert msg["type"] == "pong", msg

    def expect_close(self, code, timeout=5):
        """The server's close frame carries code (None: an empty payload);
        then the server drops the connection."""
        while True:
            op, payload = self.recv_frame(timeout)
            if op == OP_CLOSE:
                break
            assert op == OP_TEXT, "opcode %d before the close" % op
        if code is None:
            assert payload == b"", payload
        else:
            assert len(payload) >= 2, payload
            got = struct.unpack("!H", payload[:2])[0]
            assert got == code, "close code %d (%r), expected %d" % (got, payload[2:], code)
            payload[2:].decode("utf-8")
        self.expect_eof(timeout)
        return payload

    def expect_eof(self, timeout=5):
        deadline = time.monotonic() + timeout
        try:
            self._need(len(self.buf) + 1, deadline)
        except EOFError:
            return
        raise AssertionError("data after the close: %r" % self.buf)

    def close(self):
        self.sock.close()


@pytest.fixture
def raw(chatd_shared, db):
    made = []

    def _raw(**kw):
        a = h.make_user(db, h.unique_name("fr"), "Fr")
        b = h.make_user(db, h.unique_name("fs"), "Fs")
        r = Raw(chatd_shared, h.make_room(db, a, b), a, **kw)
        made.append(r)
        return r

    yield _raw
    for r in made:
        r.close()


# ---------------------------------------------------------------------------
# 1: framing

@pytest.mark.parametrize("pad", [0, 125 - len(PING_JSON) - 10, 200, 70000 - 100],
                         ids=["small", "7-bit length", "16-bit length", "64-bit length"])
def test_text_lengths(chatd_factory, db, pad):
    """Every length encoding of a client frame is read (64-bit needs a
    larger ws_max_message)."""
    s = chatd_factory(ws_max_message=131072)
    a = h.make_user(db, h.unique_name("fl"), "Fl")
    b = h.make_user(db, h.unique_name("fm"), "Fm")
    r = Raw(s, h.make_room(db, a, b), a)
    body = json.dumps({"type": "ping", "pad": "x" * pad}).encode()
    r.send(OP_TEXT, body)
    r.expect_pong_json()
    r.close()


def test_frame_sent_byte_by_byte(raw):
    r = raw()
    for byte in Raw.frame(OP_TEXT, PING_JSON):
        r.send_raw(bytes([byte]))
        time.sleep(0.002)
    r.expect_pong_json()


def test_pipelined_frames(raw):
    r = raw()
    r.send_raw(b"".join(Raw.frame(OP_TEXT, PING_JSON) for _ in range(20)))
    for _ in range(20):
        r.expect_pong_json()


def test_no_extension_negotiated(raw):
    r = raw(extra_headers="Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n")
    assert "sec-websocket-extensions" not in r.response.lower(), r.response
    r.send(OP_TEXT, PING_JSON)
    r.expect_pong_json()


# ---------------------------------------------------------------------------
# 2: ping / pong

@pytest.mark.parametrize("payload", [b"", b"hello", bytes(range(125)), b"\xff\xfe\x00"],
                         ids=["empty", "text", "125 bytes", "binary"])
def test_ping_answered_with_same_payload(raw, payload):
    r = raw()
    r.send(OP_PING, payload)
    assert r.recv_frame() == (OP_PONG, payload)


def test_unsolicited_pong_ignored(raw):
    r = raw()
    r.send(OP_PONG, b"unasked")
    r.send(OP_TEXT, PING_JSON)
    r.expect_pong_json()


def test_ten_pings(raw):
    r = raw()
    for i in range(10):
        r.send(OP_PING, b"p%d" % i)
    for i in range(10):
        assert r.recv_frame() == (OP_PONG, b"p%d" % i)


# ---------------------------------------------------------------------------
# 5: fragmentation

def test_fragmented_text(raw):
    r = raw()
    r.send(OP_TEXT, PING_JSON[:5], fin=False)
    r.send(OP_CONT, b"", fin=False)
    r.send(OP_CONT, PING_JSON[5:9], fin=False)
    r.send(OP_CONT, PING_JSON[9:])
    r.expect_pong_json()


def test_control_frames_between_fragments(raw):
    r = raw()
    r.send(OP_TEXT, PING_JSON[:4], fin=False)
    r.send(OP_PING, b"mid")
    r.send(OP_PONG, b"ignored")
    r.send(OP_CONT, PING_JSON[4:])
    assert r.recv_frame() == (OP_PONG, b"mid")
    r.expect_pong_json()


def test_one_byte_fragments(raw):
    r = raw()
    for i, byte in enumerate(PING_JSON):
        r.send(OP_TEXT if i == 0 else OP_CONT, bytes([byte]), fin=i == len(PING_JSON) - 1)
    r.expect_pong_json()


@pytest.mark.parametrize("frames", [
    [(OP_CONT, b"orphan", True)],
    [(OP_CONT, b"orphan", False)],
    [(OP_TEXT, b"{", False), (OP_TEXT, b"}", True)],
    [(OP_TEXT, b"{", False), (OP_BINARY, b"}", True)],
], ids=["continuation first", "unfinished continuation first", "text inside text",
        "binary inside text"])
def test_bad_fragment_sequences(raw, frames):
    r = raw()
    for op, payload, fin in frames:
        r.send(op, payload, fin=fin)
    r.expect_close(1002)


# ---------------------------------------------------------------------------
# 6: UTF-8

def ping_with(text_bytes):
    return b'{"type":"ping","x":"' + text_bytes + b'"}'


VALID_UTF8 = ["\u00e9", "\u20ac", "\U0001F600", "\u03ba\u1f79\u03c3\u03bc\u03b5", "\uffff",
              "\U0010FFFF", "\ufeff"]


@pytest.mark.parametrize("text", VALID_UTF8)
def test_valid_utf8_split_anywhere(raw, text):
    """Valid text split at every byte boundary, even inside a character."""
    r = raw()
    body = ping_with(text.encode("utf-8"))
    for cut in range(1, len(body)):
        r.send(OP_TEXT, body[:cut], fin=False)
        r.send(OP_CONT, body[cut:])
    for _ in range(1, len(body)):
        r.expect_pong_json()


INVALID_UTF8 = [
    b"\xc0\xaf",            # overlong "/"
    b"\xe0\x80\xaf",        # overlong
    b"\xed\xa0\x80",        # surrogate U+D800
    b"\xf4\x90\x80\x80",    # above U+10FFFF
    b"\xf5",                # never valid
    b"\xff",
    b"\x80",                # lone continuation
    b"\xce\xba\xe1\xbd",    # cut inside a character, then '"}'
]


def test_invalid_utf8_fails_fast(raw):
    """An invalid sequence is refused as soon as it is seen, in the first
    fragment, without waiting for the message to end."""
    r = raw()
    r.send(OP_TEXT, b'{"type":"ping","x":"\xce\xba\xed\xa0\x80', fin=False)
    r.expect_close(1007, timeout=3)


def test_invalid_utf8_split_across_frames_fails_fast(raw):
    r = raw()
    r.send(OP_TEXT, b'{"type":"ping","x":"\xed', fin=False)
    r.send(OP_CONT, b"\xa0\x80", fin=False)
    r.expect_close(1007, timeout=3)


# ---------------------------------------------------------------------------
# 7: close handling

@pytest.mark.parametrize("code", [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011,
                                  3000, 3999, 4000, 4999])
def test_close_code_echoed(raw, code):
    r = raw()
    r.send(OP_CLOSE, struct.pack("!H", code) + b"bye")
    r.expect_close(code)


def test_close_without_code(raw):
    r = raw()
    r.send(OP_CLOSE, b"")
    r.expect_close(None)


def test_close_reason_max_length(raw):
    r = raw()
    r.send(OP_CLOSE, struct.pack("!H", 1000) + b"r" * 123)
    r.expect_close(1000)


def test_nothing_answered_after_close(raw):
    r = raw()
    r.send_raw(Raw.frame(OP_CLOSE, struct.pack("!H", 1000)) + Raw.frame(OP_TEXT, PING_JSON)
               + Raw.frame(OP_PING, b"late"))
    r.expect_close(1000)


def test_close_in_the_middle_of_a_fragmented_message(raw):
    r = raw()
    r.send(OP_TEXT, PING_JSON[:5], fin=False)
    r.send(OP_CLOSE, struct.pack("!H", 1000))
    r.expect_close(1000)


# ---------------------------------------------------------------------------
# One bad frame, one close code: sections 2 (ping), 3 (reserved bits),
# 4 (opcodes), 6 (UTF-8) and 7 (close) of the catalogue.

def _failures():
    cases = [
        ("unmasked", dict(op=OP_TEXT, payload=PING_JSON, mask=False), 1002),
        ("ping of 126 bytes", dict(op=OP_PING, payload=b"x" * 126), 1002),
        ("fragmented ping", dict(op=OP_PING, payload=b"part", fin=False), 1002),
        ("binary message", dict(op=OP_BINARY, payload=b"\x00\x01"), 1003),
        ("close of 1 byte", dict(op=OP_CLOSE, payload=b"\x03"), 1002),
        ("close reason not UTF-8",
         dict(op=OP_CLOSE, payload=struct.pack("!H", 1000) + b"\xce\xba\xed\xa0\x80"), 1007),
        ("text ends inside a character", dict(op=OP_TEXT, payload=PING_JSON + b"\xe2\x82"), 1007),
    ]
    for op in (OP_TEXT, OP_PING):
        for rsv in range(1, 8):
            cases.append(("rsv %d on opcode %d" % (rsv, op), dict(op=op, payload=PING_JSON, rsv=rsv),
                          1002))
    for op in (3, 4, 5, 6, 7, 11, 12, 13, 14, 15):
        cases.append(("opcode %d" % op, dict(op=op, payload=b"payload"), 1002))
    for bad in INVALID_UTF8:
        cases.append(("UTF-8 %s" % bad.hex(), dict(op=OP_TEXT, payload=ping_with(bad)), 1007))
    for code in (0, 999, 1004, 1005, 1006, 1012, 1016, 1100, 2000, 2999, 5000, 65535):
        cases.append(("close code %d" % code, dict(op=OP_CLOSE, payload=struct.pack("!H", code)),
                      1002))
    return cases


FAILURES = _failures()


@pytest.mark.parametrize("name,frame,code", FAILURES, ids=[c[0] for c in FAILURES])
def test_bad_frame_closes(raw, name, frame, code):
    r = raw()
    frame = dict(frame)
    r.send(frame.pop("op"), frame.pop("payload"), **frame)
    r.expect_close(code)
    assert r.buf == b"", "%s: frames after the close" % name


# ---------------------------------------------------------------------------
# 9: limits

def test_oversized_message_refused_from_its_header(raw):
    """A frame announcing more than ws_max_message (64 KiB by default) is
    refused at once, before any payload is sent."""
    r = raw()
    r.send_raw(Raw.frame(OP_TEXT, b"", length=16 * 1024 * 1024)[:14])
    r.expect_close(1009, timeout=3)


def test_oversized_fragmented_message(raw):
    r = raw()
    chunk = b"x" * 40000
    r.send(OP_TEXT, chunk, fin=False)
    r.send(OP_CONT, chunk, fin=False)
    r.expect_close(1009)


def test_message_at_the_limit(raw):
    r = raw()
    head = b'{"type":"ping","pad":"'
    body = head + b"x" * (65536 - len(head) - 2) + b'"}'
    assert len(body) == 65536
    r.send(OP_TEXT, body)
    r.expect_pong_json()


def test_length_with_top_bit_set(raw):
    r = raw()
    r.send_raw(struct.pack("!BBQ", 0x81, 0x80 | 127, 1 << 63) + b"\x00\x00\x00\x00")
    r.expect_close(1002)


def test_a_client_that_reads_nothing_is_not_read_either(chatd_factory, db):
    """Every JSON ping is answered, so a client that sends them and reads
    nothing would have its answers pile up in the worker.  The worker stops
    reading it instead: its sending blocks long before it has sent much.
    Once it reads, every ping is answered and the connection goes on."""
    s = chatd_factory()
    a, b = h.make_user(db, h.unique_name("a")), h.make_user(db, h.unique_name("b"))
    r = Raw(s, h.make_room(db, a, b), a)
    one = Raw.frame(OP_TEXT, PING_JSON)
    chunk = one * 4096
    limit = 24 * 1024 * 1024
    sent, stalled = 0, None
    r.sock.setblocking(False)
    while sent < limit:
        try:
            sent += r.sock.send(chunk[sent % len(chunk):])
            stalled = None
        except BlockingIOError:
            stalled = stalled or time.monotonic()
            if time.monotonic() - stalled > 2:
                break
            time.sleep(0.02)
    assert sent < limit, "the worker read %d bytes of pings nobody read answers to" % sent
    # The rest of a frame cut short goes once the worker reads again.
    tail = one[sent % len(one):] if sent % len(one) else b""
    r.sock.settimeout(30)
    sender = threading.Thread(target=r.sock.sendall, args=(tail,))
    sender.start()
    frames = (sent + len(tail)) // len(one)
    for i in range(frames):
        op, payload = r.recv_frame(timeout=30)
        assert op == OP_TEXT and json.loads(payload)["type"] == "pong", (i, payload)
    sender.join(10)
    r.send(OP_TEXT, PING_JSON)
    r.expect_pong_json()
    r.close()


def test_a_reader_too_slow_for_its_messages_is_closed(chatd_factory, db):
    """Messages keep coming for a client that reads none: past
    ws_max_unread it is closed with 1013 (they are stored; it reconnects
    and replays them), and the sender is not held up."""
    # 600 messages of 16 000 bytes: more than the kernel's buffers and
    # ws_max_unread hold together.
    s = chatd_factory(ws_max_unread=1048576, rate_limit_messages=100000,
                      message_size_limit=16000)
    a, b = h.make_user(db, h.unique_name("a")), h.make_user(db, h.unique_name("b"))
    room = h.make_room(db, a, b)
    slow = Raw(s, room, b, rcvbuf=4096)
    sender = Raw(s, room, a)
    text = "x" * 16000
    for i in range(600):
        # The sender reads its copy of each: it is no slow reader.
        sender.send(OP_TEXT, json.dumps({"type": "message", "content": text,
                                         "temp_id": "w%d" % i}).encode())
        while sender.recv_json(timeout=20)["type"] != "message":
            pass
    payload = slow.expect_close(1013, timeout=20)
    assert b"Too much waiting to be read" in payload, payload
    sender.close()
    assert int(db.scalar("SELECT COUNT(*) FROM messages WHERE room_id = ?", room)) == 600

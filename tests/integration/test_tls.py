"""HTTPS and WSS: chatd terminating TLS with OpenSSL, as clients see it.

The tests of this module share a self-signed certificate (the cert
fixture of conftest.py) and trust exactly that certificate.
"""

import asyncio
import base64
import http.client
import json
import os
import signal
import socket
import ssl
import struct
import subprocess
import time

import pytest

import chatd_harness as h


def client_context(crt):
    ctx = ssl.create_default_context(cafile=crt)
    return ctx


def tls_server(chatd_factory, cert, plain=False, **settings):
    """A chatd with a TLS listener on .port; with plain, also a plaintext
    listener on .plain_port."""
    crt, key = cert
    port = h.free_port()
    listen = "127.0.0.1:%d tls" % port
    plain_port = None
    if plain:
        plain_port = h.free_port()
        # A second listen line in the generated config.
        listen += "\nlisten 127.0.0.1:%d" % plain_port
    s = chatd_factory(port=port, listen=listen, tls_certificate=crt,
                      tls_key=key, **settings)
    s.plain_port = plain_port
    return s


def https_get(port, crt, path, conn=None):
    conn = conn or http.client.HTTPSConnection("127.0.0.1", port, timeout=10,
                                               context=client_context(crt))
    conn.request("GET", path)
    r = conn.getresponse()
    return conn, r.status, r.getheader("Content-Type"), r.read()


def tls_chat(chatd_factory, cert, db, **settings):
    """A TLS chatd, Alice and Bob, their room and a client context that
    trusts the server: (server, alice, bob, room, context)."""
    s = tls_server(chatd_factory, cert, **settings)
    a = h.make_user(db, h.unique_name("alice"))
    b = h.make_user(db, h.unique_name("bob"))
    return s, a, b, h.make_room(db, a, b), client_context(cert[0])


def wss_url(server, room, user):
    return "wss://127.0.0.1:%d/ws/chat/%d/?token=%s" % (
        server.port, room, h.token(user, secret=server.jwt_secret))


def test_rest_over_https(chatd_factory, cert):
    """A REST request over HTTPS gets the JSON answer, twice on one
    keep-alive connection."""
    s = tls_server(chatd_factory, cert)
    conn, status, ctype, body = https_get(s.port, cert[0], "/api/v1.0/chat/unknown")
    assert status == 404
    assert ctype == "application/json"
    assert json.loads(body) == {"detail": "Not found."}
    conn, status, _, body = https_get(s.port, cert[0], "/api/v1.0/chat/other", conn)
    assert status == 404 and json.loads(body)["detail"]
    conn.close()


def test_chat_over_wss_and_plain_at_once(chatd_factory, cert, db):
    """Alice on wss:// and Bob on ws:// of the same chatd chat with each
    other; each message arrives once, in order, and is stored."""
    s, a, b, room, ctx = tls_chat(chatd_factory, cert, db, plain=True)

    async def main():
        wa = await h.connect(wss_url(s, room, a), ssl=ctx)
        hello = await h.recv_json(wa)
        assert hello["type"] == "connection_established" and hello["user_id"] == a
        plain_url = "ws://127.0.0.1:%d/ws/chat/%d/?token=%s" % (
            s.plain_port, room, h.token(b, secret=s.jwt_secret))
        wb = await h.connect(plain_url)
        assert (await h.recv_json(wb))["type"] == "connection_established"
        for i in range(20):
            sender = wa if i % 2 == 0 else wb
            await sender.send(json.dumps({"type": "message", "content": "m%d" % i,
                                          "temp_id": "t%d" % i}))
            for ws in (wa, wb):
                got = await h.recv_type(ws, "message")
                assert got["message"]["content"] == "m%d" % i
        # A large message crosses many TLS records.
        big = "x" * 900
        await wa.send(json.dumps({"type": "message", "content": big}))
        assert (await h.recv_type(wb, "message"))["message"]["content"] == big
        await wa.close()
        await wb.close()

    h.run(main())
    n = int(db.scalar("SELECT COUNT(*) FROM messages WHERE room_id = ?", room))
    assert n == 21


def test_wss_reader_that_stops_reading(chatd_factory, cert, db):
    """A WSS reader that stops reading fills its socket: chatd's writes
    then wait for it, and once it reads again every message arrives whole
    and in order, none lost or repeated."""
    N, size = 2000, 8000
    s, a, b, room, ctx = tls_chat(chatd_factory, cert, db, message_size_limit=size,
                                  rate_limit_messages=100000)

    async def main():
        wa = await h.connect(wss_url(s, room, a), ssl=ctx)
        assert (await h.recv_json(wa))["type"] == "connection_established"
        # Bob's client stops reading from the socket once one message
        # waits unconsumed.
        wb = await h.connect(wss_url(s, room, b), ssl=ctx, max_queue=1)
        assert (await h.recv_json(wb))["type"] == "connection_established"
        texts = ["%04d" % i + chr(ord("a") + i % 26) * (size - 4) for i in range(N)]
        for i, t in enumerate(texts):
            await wa.send(json.dumps({"type": "message", "content": t,
                                      "temp_id": "s%d" % i}))
        # Every message is stored and acknowledged to Alice while Bob
        # reads nothing: 16 MB waits for him, more than the sockets hold.
        for i in range(N):
            got = await h.recv_type(wa, "message", timeout=30)
            assert got["message"]["content"] == texts[i]
        await asyncio.sleep(0.5)
        seen = []
        while len(seen) < N:
            m = await h.recv_type(wb, "message", timeout=30)
            seen.append(m["message"]["content"])
        assert seen == texts
        await wa.close()
        await wb.close()

    h.run(main())
    assert int(db.scalar("SELECT COUNT(*) FROM messages WHERE room_id = ?", room)) == N


def ws_frame(text):
    """A masked client text frame."""
    data = text.encode()
    mask = os.urandom(4)
    masked = bytes(c ^ mask[i % 4] for i, c in enumerate(data))
    assert len(data) < 126
    return bytes([0x81, 0x80 | len(data)]) + mask + masked


def read_frame(sock):
    """One unmasked server frame: (opcode, payload)."""
    def need(n):
        buf = b""
        while len(buf) < n:
            chunk = sock.recv(n - len(buf))
            assert chunk, "connection closed mid-frame"
            buf += chunk
        return buf
    b0, b1 = need(2)
    n = b1 & 0x7f
    if n == 126:
        n = struct.unpack("!H", need(2))[0]
    elif n == 127:
        n = struct.unpack("!Q", need(8))[0]
    return b0 & 0x0f, need(n)


def test_frames_sent_with_the_handshake(chatd_factory, cert, db):
    """A client that sends its upgrade request and first message in one
    TLS write gets the 101, then connection_established, then its
    message: no byte is lost or reordered at the switch to WebSocket."""
    s = tls_server(chatd_factory, cert)
    a = h.make_user(db, h.unique_name("alice"))
    b = h.make_user(db, h.unique_name("bob"))
    room = h.make_room(db, a, b)
    ctx = client_context(cert[0])
    raw = socket.create_connection(("127.0.0.1", s.port), timeout=10)
    sock = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
    key = base64.b64encode(os.urandom(16)).decode()
    req = ("GET /ws/chat/%d/?token=%s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
           "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
           "Sec-WebSocket-Version: 13\r\n\r\n" % (room, h.token(a, secret=s.jwt_secret), key))
    first = json.dumps({"type": "message", "content": "early bird", "temp_id": "e1"})
    sock.sendall(req.encode() + ws_frame(first))
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)
        assert chunk, "closed before the 101: %r" % head
        head += chunk
    assert head.startswith(b"HTTP/1.1 101"), head
    op, payload = read_frame(sock)
    assert op == 1 and json.loads(payload)["type"] == "connection_established"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        op, payload = read_frame(sock)
        msg = json.loads(payload) if op == 1 else {}
        if msg.get("type") == "message":
            assert msg["message"]["content"] == "early bird"
            break
    else:
        pytest.fail("the message sent with the handshake never came back")
    sock.close()


def test_plaintext_on_tls_port_refused(chatd_factory, cert):
    """Plain HTTP on the TLS port: the connection is closed without an
    HTTP answer, and the server goes on serving TLS."""
    s = tls_server(chatd_factory, cert)
    for _ in range(3):
        with socket.create_connection(("127.0.0.1", s.port), timeout=10) as c:
            c.sendall(b"GET /api/v1.0/chat/unknown HTTP/1.1\r\nHost: x\r\n\r\n")
            data = b""
            try:
                while True:
                    chunk = c.recv(4096)
                    if not chunk:
                        break
                    data += chunk
            except ConnectionResetError:
                pass
            assert b"HTTP/1.1" not in data and b"detail" not in data, data
    _, status, _, _ = https_get(s.port, cert[0], "/x")
    assert status == 404
    assert s.running()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_old_tls_versions_refused(chatd_factory, cert):
    """A client limited to TLS 1.1 cannot connect; TLS 1.2 and 1.3 can."""
    s = tls_server(chatd_factory, cert)
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.load_verify_locations(cert[0])
    old.set_ciphers("DEFAULT:@SECLEVEL=0")
    old.minimum_version = ssl.TLSVersion.TLSv1
    old.maximum_version = ssl.TLSVersion.TLSv1_1
    with socket.create_connection(("127.0.0.1", s.port), timeout=10) as raw:
        with pytest.raises((ssl.SSLError, ConnectionResetError)):
            old.wrap_socket(raw, server_hostname="127.0.0.1")
    for v in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        ctx = client_context(cert[0])
        ctx.minimum_version = ctx.maximum_version = v
        with socket.create_connection(("127.0.0.1", s.port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as t:
                assert t.version() == {ssl.TLSVersion.TLSv1_2: "TLSv1.2",
                                       ssl.TLSVersion.TLSv1_3: "TLSv1.3"}[v]


def test_alpn_http11(chatd_factory, cert):
    """ALPN: offered h2 and http/1.1, the server picks http/1.1."""
    s = tls_server(chatd_factory, cert)
    ctx = client_context(cert[0])
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    with socket.create_connection(("127.0.0.1", s.port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as t:
            assert t.selected_alpn_protocol() == "http/1.1"


def test_tls_listener_needs_certificate(chatd_factory, cert):
    """chatd -t names the missing certificate setting."""
    port = h.free_port()
    s = chatd_factory(start=False, port=port, listen="127.0.0.1:%d tls" % port)
    res = s.run("-t")
    assert res.returncode == 1
    assert "tls_certificate" in res.stderr


def make_cert(crt, key, cn):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                    "-subj", "/CN=" + cn, "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", key, "-out", crt], check=True, capture_output=True)


def served_cn(port, crt):
    ctx = client_context(crt)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as t:
            return dict(x[0] for x in t.getpeercert()["subject"])["commonName"]


def test_certificate_reloaded_on_sighup(chatd_factory, db, tmp_path):
    """A renewed certificate is served after SIGHUP, while a WSS client
    connected before the reload keeps chatting."""
    crt, key = str(tmp_path / "c.pem"), str(tmp_path / "k.pem")
    make_cert(crt, key, "first")
    s = tls_server(chatd_factory, (crt, key))
    assert served_cn(s.port, crt) == "first"
    a = h.make_user(db, h.unique_name("alice"))
    b = h.make_user(db, h.unique_name("bob"))
    room = h.make_room(db, a, b)

    async def main():
        old_ctx = client_context(crt)
        wa = await h.connect(wss_url(s, room, a), ssl=old_ctx)
        assert (await h.recv_json(wa))["type"] == "connection_established"
        make_cert(crt, key, "second")
        os.kill(s.pid, signal.SIGHUP)
        await asyncio.sleep(0.5)
        assert served_cn(s.port, crt) == "second"
        wb = await h.connect(wss_url(s, room, b), ssl=client_context(crt))
        assert (await h.recv_json(wb))["type"] == "connection_established"
        await wa.send(json.dumps({"type": "message", "content": "across the reload"}))
        for ws in (wa, wb):
            assert (await h.recv_type(ws, "message"))["message"]["content"] == "across the reload"
        await wa.close()
        await wb.close()

    h.run(main())


def test_silent_tls_client_cut_off(chatd_factory, cert):
    """A client that opens TCP to the TLS port and never says hello is
    closed after header_timeout."""
    s = tls_server(chatd_factory, cert, header_timeout=1)
    with socket.create_connection(("127.0.0.1", s.port), timeout=10) as c:
        start = time.monotonic()
        try:
            data = c.recv(100)
        except ConnectionResetError:
            data = b""
        took = time.monotonic() - start
    assert data == b"" and 0.5 <= took < 5, (data, took)
    _, status, _, _ = https_get(s.port, cert[0], "/x")
    assert status == 404


def test_limits_answer_over_tls(chatd_factory, cert):
    """A refusal reaches a TLS client as a readable HTTPS answer."""
    s = tls_server(chatd_factory, cert, workers=1, max_connections_per_ip=1)

    def served():
        # The harness's start-up probe may still count for a moment.
        conn, status, _, _ = https_get(s.port, cert[0], "/x")
        if status == 404:
            return conn
        conn.close()
        return None
    first = h.wait_for(served, 5, what="a first connection served")
    second, status, ctype, body = https_get(s.port, cert[0], "/x")
    assert status == 429 and ctype == "application/json"
    assert "Too many connections" in json.loads(body)["detail"]
    first.close()
    second.close()


def pinned_context(crt, version, tickets=True):
    ctx = client_context(crt)
    ctx.minimum_version = ctx.maximum_version = version
    if not tickets:
        ctx.options |= ssl.OP_NO_TICKET
    return ctx


def get_over(port, ctx, session=None):
    """One HTTPS GET on a fresh connection; (reused, session) afterwards.
    Reading the answer also reads the TLS 1.3 ticket sent before it."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1", session=session) as t:
            t.sendall(b"GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            data = b""
            while True:
                chunk = t.recv(4096)
                if not chunk:
                    break
                data += chunk
            assert data.startswith(b"HTTP/1.1 404"), data[:80]
            return t.session_reused, t.session


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3],
                         ids=["tls1.2", "tls1.3"])
def test_session_resumed_with_a_ticket(chatd_factory, cert, version):
    """A client that comes back with the ticket from its first connection
    resumes its session (one worker, so the one that issued the ticket
    answers), over TLS 1.2 and 1.3 alike."""
    s = tls_server(chatd_factory, cert, workers=1)
    ctx = pinned_context(cert[0], version)
    reused, session = get_over(s.port, ctx)
    assert not reused and session is not None and session.has_ticket
    reused, _ = get_over(s.port, ctx, session)
    assert reused


def test_no_session_id_resumption(chatd_factory, cert):
    """There is no server-side session cache: a TLS 1.2 client that does
    not take tickets gets a full handshake every time, and it works."""
    s = tls_server(chatd_factory, cert, workers=1)
    ctx = pinned_context(cert[0], ssl.TLSVersion.TLSv1_2, tickets=False)
    reused, session = get_over(s.port, ctx)
    assert not reused
    reused, _ = get_over(s.port, ctx, session)
    assert not reused


def test_one_ticket_per_tls13_handshake(chatd_factory, cert):
    """A TLS 1.3 handshake brings one session ticket, not OpenSSL's
    default two."""
    s = tls_server(chatd_factory, cert)
    res = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % s.port,
                          "-tls1_3", "-CAfile", cert[0], "-servername", "localhost",
                          "-ign_eof"],
                         input=b"GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                         capture_output=True, timeout=20)
    out = res.stdout.decode(errors="replace")
    assert "HTTP/1.1 404" in out, out[-2000:]
    assert out.count("Post-Handshake New Session Ticket arrived") == 1, out[-2000:]


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3],
                         ids=["tls1.2", "tls1.3"])
def test_chat_over_each_tls_version(chatd_factory, cert, db, version):
    """Alice pinned to one TLS version and Bob on the default chat both
    ways, and Alice's connection outlives the worker's heap trimming
    (which follows handshakes by a second)."""
    s = tls_server(chatd_factory, cert)
    a = h.make_user(db, h.unique_name("alice"))
    b = h.make_user(db, h.unique_name("bob"))
    room = h.make_room(db, a, b)

    async def main():
        wa = await h.connect(wss_url(s, room, a), ssl=pinned_context(cert[0], version))
        assert wa.transport.get_extra_info("ssl_object").version() == {
            ssl.TLSVersion.TLSv1_2: "TLSv1.2", ssl.TLSVersion.TLSv1_3: "TLSv1.3"}[version]
        assert (await h.recv_json(wa))["type"] == "connection_established"
        wb = await h.connect(wss_url(s, room, b), ssl=client_context(cert[0]))
        assert (await h.recv_json(wb))["type"] == "connection_established"
        await asyncio.sleep(1.5)
        for i, sender in enumerate((wa, wb, wa)):
            await sender.send(json.dumps({"type": "message", "content": "v%d" % i}))
            for ws in (wa, wb):
                assert (await h.recv_type(ws, "message"))["message"]["content"] == "v%d" % i
        await wa.close()
        await wb.close()

    h.run(main())


def test_tls13_prefers_aes128(chatd_factory, cert):
    """A TLS 1.3 client offering every suite, AES-256 first, gets
    AES-128-GCM: the server's order decides."""
    s = tls_server(chatd_factory, cert)
    ctx = pinned_context(cert[0], ssl.TLSVersion.TLSv1_3)
    with socket.create_connection(("127.0.0.1", s.port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as t:
            assert t.cipher()[0] == "TLS_AES_128_GCM_SHA256"

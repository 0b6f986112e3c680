"""Integration-test harness for chatd.

Everything here talks to real programs: a private MariaDB started by
scripts/private-mariadb, the chatd binary from the build tree, and WebSocket
clients (the `websockets` library) over real TCP sockets on 127.0.0.1.

Environment:
  CHATD_BUILD_DIR   directory holding the built `chatd` (and `chatd-worker`);
                    default: the repository root
  CHATD             path of the chatd binary (overrides CHATD_BUILD_DIR/chatd)
  CHATD_WORKER      path of the worker binary, written to the config as
                    worker_path (default: CHATD_BUILD_DIR/chatd-worker if it
                    exists, else chatd's own default)
  CHATD_TEST_KEEP   if set, temporary directories are kept for inspection
"""

import asyncio
import base64
import datetime
import hashlib
import hmac
import itertools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse
import xml.etree.ElementTree as ET

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PRIVATE_MARIADB = os.path.join(REPO_ROOT, "scripts", "private-mariadb")
SCHEMA_DIR = os.path.join(REPO_ROOT, "schema")

DEFAULT_SECRET = "integration-test-secret-5f0c1d8e2a7b4c93"
DB_USER = "chatd"
DB_PASSWORD = "chatd"
DB_NAME = "chatd"

# Defaults written into every test config; tests assert against them.
HEARTBEAT_INTERVAL = 30
CONNECTION_TIMEOUT = 14400

ISO_UTC_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$")

# Messages in a chatd log that mean a memory or undefined-behaviour bug in a
# sanitizer build; their presence fails the test that ran the server.
SANITIZER_MARKERS = (
    "ERROR: AddressSanitizer",
    "ERROR: LeakSanitizer",
    "runtime error:",
    "WARNING: ThreadSanitizer",
    "ERROR: MemorySanitizer",
)


def build_dir():
    return os.path.abspath(os.environ.get("CHATD_BUILD_DIR") or REPO_ROOT)


def chatd_binary():
    return os.path.abspath(os.environ.get("CHATD") or os.path.join(build_dir(), "chatd"))


def worker_binary():
    """Path for the config's worker_path, or None to leave chatd's default."""
    env = os.environ.get("CHATD_WORKER")
    if env:
        return os.path.abspath(env)
    cand = os.path.join(build_dir(), "chatd-worker")
    return cand if os.access(cand, os.X_OK) else None


def current_schema_version():
    """Highest NNN of the schema/NNN-*.sql files: the version chatd wants."""
    versions = [int(m.group(1)) for m in
                (re.match(r"^(\d+)-.*\.sql$", f) for f in os.listdir(SCHEMA_DIR)) if m]
    return max(versions)


def make_tempdir(prefix):
    # Short paths: Unix socket paths are limited to 107 bytes.
    return tempfile.mkdtemp(prefix=prefix, dir="/tmp")


def remove_tempdir(path):
    if not os.environ.get("CHATD_TEST_KEEP"):
        shutil.rmtree(path, ignore_errors=True)


# ---------------------------------------------------------------------------
# JWT (HS256/384/512 and "none"), standard library only.

def b64url(data):
    """base64url without padding (RFC 7515, section 2)."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text):
    if isinstance(text, str):
        text = text.encode("ascii")
    return base64.urlsafe_b64decode(text + b"=" * (-len(text) % 4))


_HASHES = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}


def _json_bytes(obj):
    if isinstance(obj, (bytes, bytearray)):
        return bytes(obj)
    return json.dumps(obj, separators=(",", ":")).encode("utf-8")


def jwt_encode(header, payload, key, alg=None):
    """Encode a JWS compact serialization.

    header and payload are dicts (serialized compactly) or raw bytes (used
    as is, so published test vectors can be reproduced).  alg picks the
    signing algorithm (default: header["alg"]); "none" gives an empty
    signature.  key is str or bytes.
    """
    if alg is None:
        alg = header["alg"] if isinstance(header, dict) else "HS256"
    signing_input = (b64url(_json_bytes(header)) + "." + b64url(_json_bytes(payload))).encode("ascii")
    if alg == "none":
        sig = ""
    else:
        if isinstance(key, str):
            key = key.encode("utf-8")
        try:
            digest = _HASHES[alg]
        except KeyError:
            raise ValueError("unsupported alg %r" % alg)
        sig = b64url(hmac.new(key, signing_input, digest).digest())
    return signing_input.decode("ascii") + "." + sig


def token(user_id, secret=DEFAULT_SECRET, exp_offset=3600, alg="HS256", extra=None,
          claim="user_id", header_extra=None, now=None):
    """Mint a JWT for user_id as chatd's clients would present it.

    - user_id=None leaves the user claim out (a token without the claim);
    - exp_offset: seconds from now for "exp"; negative gives an expired
      token; None leaves "exp" out;
    - alg="none" gives an unsigned token ({"alg":"none"}, empty signature);
      alg="HS512" etc. signs with another algorithm than the server's;
    - secret: a different one gives a bad signature;
    - extra: more claims (they override the defaults, e.g. {"nbf": ...});
    - header_extra: more header fields.
    """
    now = int(time.time()) if now is None else int(now)
    header = {"alg": alg, "typ": "JWT"}
    if header_extra:
        header.update(header_extra)
    payload = {}
    if user_id is not None:
        payload[claim] = user_id
    if exp_offset is not None:
        payload["exp"] = now + int(exp_offset)
    payload["iat"] = now
    if extra:
        payload.update(extra)
    return jwt_encode(header, payload, secret, alg=alg)


def jwt_decode_unverified(tok):
    """(header, payload) of a compact JWT, without checking anything."""
    parts = tok.split(".")
    return json.loads(b64url_decode(parts[0])), json.loads(b64url_decode(parts[1]))


# ---------------------------------------------------------------------------
# SQL through the mariadb command-line client.

def sql_literal(value):
    """Render a Python value as a MariaDB literal (default sql_mode)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (bytes, bytearray)):
        return "X'%s'" % bytes(value).hex() if value else "''"
    if isinstance(value, (datetime.datetime, datetime.date)):
        value = value.isoformat(sep=" ") if isinstance(value, datetime.datetime) else value.isoformat()
    if not isinstance(value, str):
        raise TypeError("cannot use %r as an SQL parameter" % (value,))
    out = ["'"]
    for ch in value:
        if ch == "\\":
            out.append("\\\\")
        elif ch == "'":
            out.append("\\'")
        elif ch == "\0":
            out.append("\\0")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\x1a":
            out.append("\\Z")
        else:
            out.append(ch)
    out.append("'")
    return "".join(out)


def sql_format(query, params):
    """Replace each ? outside quotes and comments with the next parameter."""
    params = list(params)
    out = []
    i, n = 0, len(query)
    quote = None
    while i < n:
        ch = query[i]
        if quote:
            out.append(ch)
            if ch == "\\" and quote != "`" and i + 1 < n:
                out.append(query[i + 1])
                i += 2
                continue
            if ch == quote:
                quote = None
        elif ch in "'\"`":
            quote = ch
            out.append(ch)
        elif ch == "?":
            if not params:
                raise ValueError("more ? than parameters in %r" % query)
            out.append(sql_literal(params.pop(0)))
        else:
            out.append(ch)
        i += 1
    if params:
        raise ValueError("%d parameter(s) left over for %r" % (len(params), query))
    return "".join(out)


# Control characters are not allowed in XML 1.0 (and \r would be turned into
# \n by the parser), but the client writes them raw; they are carried through
# the parser as private-use characters and mapped back.
_XML_CTRL_RE = re.compile("[\x01-\x08\x0b\x0c\x0d\x0e-\x1f]")
_XML_CTRL_BASE = 0x10FF00
_XML_UNCTRL_RE = re.compile("[\U0010FF00-\U0010FF1F]")


def _parse_xml_rows(text):
    """Rows of every result set in `mariadb --xml` output (str or None).
    The client writes a NUL byte as a space."""
    rows = []
    text = text.strip()
    if not text:
        return rows
    text = _XML_CTRL_RE.sub(lambda m: chr(_XML_CTRL_BASE + ord(m.group())), text)
    # Several statements give several documents; wrap them in one root.
    text = re.sub(r"<\?xml[^>]*\?>", "", text)
    root = ET.fromstring("<all xmlns:xsi='http://www.w3.org/2001/XMLSchema-instance'>%s</all>" % text)
    nil = "{http://www.w3.org/2001/XMLSchema-instance}nil"
    for rs in root.iter("resultset"):
        for row in rs.iter("row"):
            vals = []
            for field in row.iter("field"):
                if field.get(nil) == "true":
                    vals.append(None)
                else:
                    vals.append(_XML_UNCTRL_RE.sub(lambda m: chr(ord(m.group()) - _XML_CTRL_BASE),
                                                   field.text or ""))
            rows.append(tuple(vals))
    return rows


class SQLError(RuntimeError):
    pass


class MariaDB:
    """A private MariaDB server (scripts/private-mariadb) in its own directory.

    .dir, .socket; .sql(query, *params) runs SQL as chatd/chatd and returns
    a list of tuples whose values are str (None for NULL) -- the rows of all
    result sets of the statements, in order; .admin_sql() does the same as
    the administrative account.  Parameters are written as ? in the query
    and rendered as SQL literals.  (A NUL byte in a value reads back as a
    space: a limit of the client's XML output.)
    """

    def __init__(self, directory=None):
        self.dir = directory or make_tempdir("chatd-mdb-")
        self._own_dir = directory is None
        self.socket = None

    def start(self, timeout=90):
        res = subprocess.run(["bash", PRIVATE_MARIADB, "start", self.dir], capture_output=True,
                             text=True, timeout=timeout)
        if res.returncode != 0:
            raise RuntimeError("private-mariadb start failed (%d):\n%s%s"
                               % (res.returncode, res.stdout, res.stderr))
        self.socket = res.stdout.strip().splitlines()[-1]
        return self

    def stop(self, timeout=120):
        subprocess.run(["bash", PRIVATE_MARIADB, "stop", self.dir], capture_output=True,
                       text=True, timeout=timeout)

    def cleanup(self):
        self.stop()
        if self._own_dir:
            remove_tempdir(self.dir)

    def _client(self, user, password, database):
        cmd = ["mariadb", "--no-defaults", "--socket=" + self.socket,
               "--user=" + user, "--default-character-set=utf8mb4"]
        if password is not None:
            cmd.append("--password=" + password)
        if database:
            cmd.append(database)
        return cmd

    def _run(self, cmd, query, params, timeout):
        text = sql_format(query, params) if params else query
        res = subprocess.run(cmd + ["--xml", "-e", text], capture_output=True, timeout=timeout)
        if res.returncode != 0:
            raise SQLError("mariadb failed (%d) for %r: %s"
                           % (res.returncode, text, res.stderr.decode("utf-8", "replace").strip()))
        return _parse_xml_rows(res.stdout.decode("utf-8"))

    def sql(self, query, *params, database=DB_NAME, timeout=60):
        """Run query as chatd@localhost; list of tuples of str/None."""
        return self._run(self._client(DB_USER, DB_PASSWORD, database), query, params, timeout)

    def admin_sql(self, query, *params, database=None, timeout=60):
        """Run query as the administrative (unix_socket) account."""
        import pwd
        user = pwd.getpwuid(os.geteuid()).pw_name
        return self._run(self._client(user, None, database), query, params, timeout)

    def scalar(self, query, *params, database=DB_NAME):
        rows = self.sql(query, *params, database=database)
        return rows[0][0] if rows else None

    def session(self, database=DB_NAME):
        """An interactive client session kept open (for locks, transactions)."""
        return SQLSession(self._client(DB_USER, DB_PASSWORD, database))


class SQLSession:
    """One long-lived `mariadb` client; statements run in order on one
    connection, so LOCK TABLES or an open transaction lasts until release."""

    _n = itertools.count()

    def __init__(self, cmd):
        self.proc = subprocess.Popen(cmd + ["--batch", "--skip-column-names", "--unbuffered"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, encoding="utf-8")

    def execute(self, statement, *params, timeout=30):
        """Run one statement and wait until it has finished."""
        text = sql_format(statement, params) if params else statement
        mark = "__done_%d__" % next(self._n)
        self.proc.stdin.write(text.rstrip().rstrip(";") + ";\nSELECT '%s';\n" % mark)
        self.proc.stdin.flush()
        deadline = time.monotonic() + timeout
        lines = []
        while True:
            if time.monotonic() > deadline:
                raise SQLError("statement did not finish within %ss: %r" % (timeout, text))
            line = self.proc.stdout.readline()
            if not line:
                raise SQLError("mariadb session ended: %s" % self.proc.stderr.read())
            if line.rstrip("\n") == mark:
                return lines
            lines.append(line.rstrip("\n"))

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# ---------------------------------------------------------------------------
# Users and rooms, as the application beside chatd creates them.

_unique = itertools.count(1)


def unique_name(prefix):
    return "%s_%d_%d" % (prefix, os.getpid(), next(_unique))


def make_user(db, username, display_name=None, image_urls=None):
    """Insert a user; returns its id (int)."""
    if display_name is None:
        display_name = username.replace("_", " ").title()
    urls = json.dumps(image_urls or [])
    rows = db.sql("INSERT INTO users (username, display_name, image_urls) VALUES (?, ?, ?);"
                  " SELECT LAST_INSERT_ID()", username, display_name, urls)
    return int(rows[-1][0])


def make_room(db, u1, u2, match=None):
    """Insert a room between users u1 and u2; returns its id (int)."""
    rows = db.sql("INSERT INTO rooms (participant1, participant2, match_id) VALUES (?, ?, ?);"
                  " SELECT LAST_INSERT_ID()", u1, u2, match)
    return int(rows[-1][0])


def missing_user_id(db):
    """An id no user has."""
    return int(db.scalar("SELECT COALESCE(MAX(id), 0) + 1000000 FROM users"))


def missing_room_id(db):
    return int(db.scalar("SELECT COALESCE(MAX(id), 0) + 1000000 FROM rooms"))


# ---------------------------------------------------------------------------
# Processes.

def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _proc_stat(pid):
    """(state, ppid, starttime) of pid, or None if it does not exist."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    rest = data[data.rindex(")") + 2:].split()
    return rest[0], int(rest[1]), int(rest[19])


def pid_alive(pid, starttime=None):
    """True if pid runs (not a zombie) and, if given, started at starttime."""
    st = _proc_stat(pid)
    if st is None or st[0] in ("Z", "X"):
        return False
    return starttime is None or st[2] == starttime


def child_pids(pid):
    """Live (non-zombie) children of pid."""
    kids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        st = _proc_stat(int(name))
        if st and st[1] == pid and st[0] not in ("Z", "X"):
            kids.append(int(name))
    return sorted(kids)


def wait_for(predicate, timeout, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        v = predicate()
        if v:
            return v
        if time.monotonic() > deadline:
            raise TimeoutError("timed out after %ss waiting for %s" % (timeout, what))
        time.sleep(interval)


class ChatdError(RuntimeError):
    pass


class ChatdServer:
    """One chatd process in the foreground (-f) with its own config and dir.

    settings override the config keywords (None removes one); see
    config_lines() for the defaults.  .port, .pid, .dir, .config_path,
    .ws_url(), .log_text(), .worker_pids(), .start(), .stop(), .install().
    """

    def __init__(self, mariadb, directory=None, port=None, **settings):
        self.mariadb = mariadb
        self.dir = directory or make_tempdir("chatd-")
        self._own_dir = directory is None
        self.port = port or free_port()
        self.settings = settings
        self.config_path = os.path.join(self.dir, "chatd.conf")
        self.log_path = os.path.join(self.dir, "chatd.log")
        self.binary = chatd_binary()
        self.proc = None
        self.returncode = None
        self.exit_observed = False
        self.killed = False
        self._workers_seen = {}
        self.write_config()

    # -- config -----------------------------------------------------------
    def config_values(self):
        vals = {
            "listen": "127.0.0.1:%d" % self.port,
            "workers": 2,
            "control_socket": os.path.join(self.dir, "control.sock"),
            "pid_file": os.path.join(self.dir, "chatd.pid"),
            "database_socket": self.mariadb.socket,
            "database_user": DB_USER,
            "database_password": DB_PASSWORD,
            "database_name": DB_NAME,
            "jwt_secret": DEFAULT_SECRET,
            "jwt_algorithm": "HS256",
            "jwt_user_claim": "user_id",
            "heartbeat_interval": HEARTBEAT_INTERVAL,
            "connection_timeout": CONNECTION_TIMEOUT,
            "ping_timeout": 10,
            "max_reconnect_attempts": 5,
            "message_size_limit": 1000,
        }
        wp = worker_binary()
        if wp:
            vals["worker_path"] = wp
        vals.update(self.settings)
        return {k: v for k, v in vals.items() if v is not None}

    def write_config(self):
        lines = ["# chatd integration-test configuration"]
        for k, v in self.config_values().items():
            lines.append("%s %s" % (k, v))
        with open(self.config_path, "w") as f:
            f.write("\n".join(lines) + "\n")

    @property
    def workers(self):
        return int(self.config_values().get("workers", 0))

    @property
    def jwt_secret(self):
        return self.config_values()["jwt_secret"]

    # -- commands -----------------------------------------------------------
    def check_binary(self):
        if not os.access(self.binary, os.X_OK):
            raise ChatdError("chatd binary not found at %s (build it, or set CHATD_BUILD_DIR)"
                             % self.binary)

    def run(self, *args, timeout=60):
        """Run `chatd -c CONF ARGS...` to completion; CompletedProcess (text)."""
        self.check_binary()
        return subprocess.run([self.binary, "-c", self.config_path] + list(args),
                              capture_output=True, text=True, timeout=timeout,
                              cwd=self.dir, stdin=subprocess.DEVNULL)

    def install(self):
        """`chatd -c CONF -i`: install or upgrade the schema; raise on failure."""
        res = self.run("-i")
        if res.returncode != 0:
            raise ChatdError("chatd -i failed (%d):\n%s%s" % (res.returncode, res.stdout, res.stderr))
        return res

    def start(self, wait=True, timeout=20):
        """Start `chatd -f -c CONF`; with wait, until it serves (port open,
        all workers up)."""
        self.check_binary()
        self.returncode = None
        self.exit_observed = False
        self.killed = False
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([self.binary, "-f", "-c", self.config_path],
                                     stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT, cwd=self.dir,
                                     start_new_session=True)
        _running.add(self)
        if wait:
            self.wait_ready(timeout)
        return self

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def wait_exit(self, timeout):
        """Wait for the process to end on its own; its exit status."""
        try:
            self.returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise ChatdError("chatd did not exit within %ss; log:\n%s" % (timeout, self.log_tail()))
        self.exit_observed = True
        self._after_exit()
        return self.returncode

    def _port_open(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def wait_ready(self, timeout=20):
        deadline = time.monotonic() + timeout
        want = self.workers
        while True:
            if not self.running():
                self.returncode = self.proc.returncode
                self.exit_observed = True
                self._after_exit()
                raise ChatdError("chatd exited with status %s during start-up; log:\n%s"
                                 % (self.returncode, self.log_tail()))
            if self._port_open() and len(self.worker_pids()) >= want:
                return
            if time.monotonic() > deadline:
                raise ChatdError("chatd not serving on 127.0.0.1:%d with %d workers after %ss"
                                 " (workers: %s); log:\n%s"
                                 % (self.port, want, timeout, self.worker_pids(), self.log_tail()))
            time.sleep(0.05)

    def worker_pids(self):
        """Live child processes of the chatd (broker) process."""
        if not self.running():
            return []
        kids = child_pids(self.proc.pid)
        for k in kids:
            st = _proc_stat(k)
            if st:
                self._workers_seen.setdefault(k, st[2])
        return kids

    def stop(self, sig=signal.SIGTERM, timeout=10):
        """Signal chatd by pid, wait (SIGKILL after timeout); exit status.
        Sets .killed if SIGKILL was needed."""
        self.killed = False
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.worker_pids()
            try:
                os.kill(self.proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.killed = True
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.returncode = self.proc.returncode
        self.exit_observed = True
        self._after_exit()
        return self.returncode

    def leftover_workers(self, grace=5.0):
        """Worker pids seen while chatd ran that still run after it ended
        (waits up to grace seconds for them to go)."""
        deadline = time.monotonic() + grace
        while True:
            left = [p for p, t in self._workers_seen.items() if pid_alive(p, t)]
            if not left or time.monotonic() > deadline:
                return left
            time.sleep(0.05)

    def kill_leftovers(self):
        for p, t in list(self._workers_seen.items()):
            if pid_alive(p, t):
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass

    def _after_exit(self):
        _running.discard(self)
        if getattr(self, "_log", None):
            self._log.close()
            self._log = None

    def cleanup(self):
        if self.running():
            self.stop()
        self.kill_leftovers()
        if self._own_dir:
            remove_tempdir(self.dir)

    # -- output ---------------------------------------------------------------
    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines=60):
        return "\n".join(self.log_text().splitlines()[-lines:])

    def sanitizer_reports(self):
        text = self.log_text()
        return [m for m in SANITIZER_MARKERS if m in text]

    # -- clients --------------------------------------------------------------
    def ws_url(self, room_id, token=None, **query):
        """ws://127.0.0.1:PORT/ws/chat/ROOM/?token=...; token None leaves
        the parameter out."""
        params = {}
        if token is not None:
            params["token"] = token
        params.update(query)
        url = "ws://127.0.0.1:%d/ws/chat/%s/" % (self.port, room_id)
        if params:
            url += "?" + urllib.parse.urlencode(params)
        return url


# Servers started and not yet stopped, for failure reports and emergency stop.
_running = set()


def running_servers():
    return list(_running)


def stop_all_servers():
    for s in list(_running):
        try:
            s.stop(sig=signal.SIGKILL, timeout=5)
            s.kill_leftovers()
        except Exception:
            pass


# ---------------------------------------------------------------------------
# WebSocket clients (websockets 10.x, asyncio).

def run(coro, timeout=120):
    """Run a coroutine to completion with an overall time bound."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def connect(url, **kw):
    import websockets
    kw.setdefault("open_timeout", 10)
    kw.setdefault("close_timeout", 5)
    kw.setdefault("max_size", 16 * 1024 * 1024)
    return await websockets.connect(url, **kw)


async def recv_json(ws, timeout=10):
    """Next text message, parsed; fails on binary frames."""
    raw = await asyncio.wait_for(ws.recv(), timeout)
    assert isinstance(raw, str), "expected a text frame, got binary %r" % (raw[:80],)
    return json.loads(raw)


# Server-initiated messages a client may receive at any time; skipped by
# recv_type() unless asked for.
BACKGROUND_TYPES = ("ping", "pong", "user_status_change", "typing",
                    "message_status_update", "connection_status", "health_check_response")


async def recv_type(ws, wanted, timeout=10, skipped=None):
    """Next message whose type is `wanted` (str or tuple).  Background
    messages are skipped (and appended to `skipped` if given); an "error"
    or any other type raises AssertionError."""
    if isinstance(wanted, str):
        wanted = (wanted,)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        left = deadline - loop.time()
        if left <= 0:
            raise asyncio.TimeoutError("no %s within %ss" % ("/".join(wanted), timeout))
        msg = await recv_json(ws, left)
        t = msg.get("type")
        if t in wanted:
            return msg
        if t in BACKGROUND_TYPES:
            if skipped is not None:
                skipped.append(msg)
            continue
        raise AssertionError("expected %s, got %r" % ("/".join(wanted), msg))


async def expect_refused(url, timeout=10):
    """Connect, and expect the upgrade to succeed and the server to close at
    once.  Returns (close code, close reason).  Fails if anything but the
    close arrives first, or if the handshake itself is refused."""
    import websockets
    try:
        ws = await connect(url)
    except websockets.exceptions.InvalidStatusCode as e:
        raise AssertionError("handshake answered HTTP %s instead of 101 followed by a close"
                             % e.status_code)
    try:
        try:
            msg = await asyncio.wait_for(ws.recv(), timeout)
        except websockets.exceptions.ConnectionClosed as e:
            rcvd = e.rcvd
            if rcvd is None:
                return 1006, ""
            return rcvd.code, rcvd.reason
        raise AssertionError("expected an immediate close, but received %r" % (msg,))
    finally:
        await ws.close()


async def open_chat(server, room_id, user_id, secret=None):
    """Connect as user_id to room_id and consume connection_established;
    returns (ws, the connection_established message)."""
    tok = token(user_id, secret=secret or server.jwt_secret)
    ws = await connect(server.ws_url(room_id, tok))
    hello = await recv_json(ws)
    assert hello.get("type") == "connection_established", \
        "first message is not connection_established: %r" % (hello,)
    return ws, hello


def message_temp_id(msg):
    """temp_id of a delivered message, inside "message" or at top level."""
    inner = msg.get("message") or {}
    if "temp_id" in inner:
        return inner["temp_id"]
    return msg.get("temp_id")


def parse_iso_utc(text):
    assert isinstance(text, str) and ISO_UTC_RE.match(text), \
        "not an ISO 8601 UTC timestamp ending in Z: %r" % (text,)
    base, _, frac = text[:-1].partition(".")
    t = datetime.datetime.strptime(base, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    if frac:
        t += datetime.timedelta(microseconds=int((frac + "000000")[:6]))
    return t

"""pytest fixtures for chatd integration tests.

Fixtures:
  mariadb        (session)  a private MariaDB; .socket, .sql(q, *params),
                            .admin_sql(), .scalar(), .session()
  db             (session)  the same server with chatd's schema installed by
                            `chatd -c CONF -i`
  make_user      (function) make_user(username, display_name=None) -> id
  make_room      (function) make_room(u1, u2, match=None) -> id
  token          (function) token(user_id, secret=..., exp_offset=3600,
                            alg="HS256", extra=None, ...) -> JWT str
  chatd_factory  (function) chatd_factory(start=True, **settings) -> server;
                            every server it made is stopped after the test
  chatd          (function) a started chatd with the default config
  chatd_shared   (module)   one started chatd shared by a module's tests
  cert           (module)   (certificate, key) paths of a self-signed
                            certificate for 127.0.0.1 and localhost
Servers are ChatdServer objects (chatd_harness.py): .port, .pid,
.ws_url(room, token, **query), .log_text(), .worker_pids(), .stop().
A test that fails gets the log of every chatd it used in its report.
"""

import os
import signal
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import chatd_harness as h  # noqa: E402


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.when not in ("setup", "call") or not rep.failed:
        return
    item._chatd_test_failed = True
    servers = list(getattr(item, "_chatd_servers", []))
    for s in h.running_servers():
        if s not in servers:
            servers.append(s)
    for s in servers:
        rep.sections.append(("chatd log (%s, port %d, pid %s)" % (s.dir, s.port, s.pid),
                             s.log_text() or "(empty)"))


def pytest_sessionfinish(session, exitstatus):
    h.stop_all_servers()


@pytest.fixture(scope="session")
def mariadb():
    m = h.MariaDB()
    try:
        m.start()
        yield m
    finally:
        m.cleanup()


@pytest.fixture(scope="session")
def db(mariadb):
    """The private MariaDB with chatd's schema installed by `chatd -i`."""
    installer = h.ChatdServer(mariadb)
    error = None
    try:
        installer.install()
    except h.ChatdError as e:
        error = str(e)
    finally:
        installer.cleanup()
    if error:
        pytest.fail(error, pytrace=False)
    return mariadb


@pytest.fixture
def make_user(db):
    def _make_user(username, display_name=None, image_urls=None):
        return h.make_user(db, username, display_name, image_urls)
    return _make_user


@pytest.fixture
def make_room(db):
    def _make_room(u1, u2, match=None):
        return h.make_room(db, u1, u2, match)
    return _make_room


@pytest.fixture
def token():
    return h.token


def _finish_server(s):
    """Stop s; return a list of problems a user would notice."""
    problems = []
    observed = s.exit_observed
    was_running = s.running()
    status = s.stop(signal.SIGTERM, timeout=10)
    if s.proc is not None and not observed:
        if not was_running:
            problems.append("chatd (pid %d) had exited (status %s) before the end of the test"
                            % (s.pid, status))
        elif s.killed:
            problems.append("chatd did not exit within 10 s of SIGTERM")
        elif status != 0:
            problems.append("chatd exited with status %s after SIGTERM" % status)
        left = s.leftover_workers()
        if left:
            problems.append("worker processes %s still ran after chatd exited" % left)
    reports = s.sanitizer_reports()
    if reports:
        problems.append("sanitizer reports in the chatd log: %s" % ", ".join(reports))
    s.kill_leftovers()
    return problems


@pytest.fixture
def chatd_factory(db, request):
    """chatd_factory(start=True, **settings): a ChatdServer on db with the
    default test config, settings overriding config keywords.  With
    start=False it is only configured (use .start(), .run(), .install())."""
    made = []
    request.node._chatd_servers = made

    def factory(start=True, **settings):
        s = h.ChatdServer(db, **settings)
        made.append(s)
        if start:
            error = None
            try:
                s.start()
            except h.ChatdError as e:
                error = str(e)
            if error:
                pytest.fail(error, pytrace=False)
        return s

    yield factory
    problems = []
    for s in made:
        problems += _finish_server(s)
    failed = getattr(request.node, "_chatd_test_failed", False)
    logs = "\n".join("--- chatd log %s ---\n%s" % (s.dir, s.log_tail(80)) for s in made)
    for s in made:
        s.cleanup()
    if problems and not failed:
        pytest.fail("; ".join(problems) + "\n" + logs, pytrace=False)


@pytest.fixture
def chatd(chatd_factory):
    """A running chatd (2 workers) with the default test config."""
    return chatd_factory()


@pytest.fixture(scope="module")
def chatd_shared(db):
    s = h.ChatdServer(db)
    error = None
    try:
        s.start()
    except h.ChatdError as e:
        error = str(e)
    if error:
        s.cleanup()
        pytest.fail(error, pytrace=False)
    yield s
    problems = _finish_server(s)
    if problems:
        print("chatd (shared): " + "; ".join(problems) + "\n" + s.log_tail(80))
    s.cleanup()


@pytest.fixture(scope="module")
def cert():
    d = h.make_tempdir("chatd-tls-")
    crt, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                    "-keyout", key, "-out", crt],
                   check=True, capture_output=True)
    yield crt, key
    h.remove_tempdir(d)

"""chatd as installed by `make install`: the file layout, the LSB init
script driving a real daemonized chatd, the systemd unit, the example
configuration and the man pages.
"""

import glob
import os
import shutil
import signal
import subprocess
import time

import pytest

import chatd_harness as h


@pytest.fixture(scope="module")
def installed():
    """`make install DESTDIR=...` of the build under test; the prefix."""
    dest = h.make_tempdir("chatd-inst-")
    res = subprocess.run(["make", "-s", "-C", h.build_dir(), "install", "DESTDIR=" + dest],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    found = glob.glob(os.path.join(dest, "**", "sbin", "chatd"), recursive=True)
    assert len(found) == 1, found
    yield os.path.dirname(os.path.dirname(found[0]))
    h.remove_tempdir(dest)


def test_install_layout(installed):
    p = installed
    for rel in ("sbin/chatd", "libexec/chatd-worker", "etc/init.d/chatd"):
        assert os.access(os.path.join(p, rel), os.X_OK), rel
    for rel in ("share/chatd/schema/001-init.sql", "etc/chatd.conf.example",
                "share/man/man8/chatd.8", "share/man/man5/chatd.conf.5",
                "lib/systemd/system/chatd.service"):
        assert os.path.isfile(os.path.join(p, rel)), rel


def test_man_pages_lint_clean(installed):
    res = subprocess.run(["mandoc", "-Tlint", "-W", "warning",
                          os.path.join(installed, "share/man/man8/chatd.8"),
                          os.path.join(installed, "share/man/man5/chatd.conf.5")],
                         capture_output=True, text=True)
    assert res.returncode == 0 and res.stdout == "" and res.stderr == "", res.stdout + res.stderr


def test_man_page_documents_every_keyword(installed):
    """Every keyword of the example file is in chatd.conf(5), with a default."""
    with open(os.path.join(installed, "share/man/man5/chatd.conf.5")) as f:
        page = f.read()
    with open(os.path.join(installed, "etc/chatd.conf.example")) as f:
        keys = {line.lstrip("#").split()[0] for line in f
                if line.strip() and not line.startswith("# ") and line.strip() != "#"}
    assert len(keys) > 25, keys
    for k in keys:
        assert ".It Ic %s " % k in page, k


def test_example_config_checks(installed, tmp_path):
    """The example passes chatd -t (its user "chatd" aside, which this
    machine may lack)."""
    with open(os.path.join(installed, "etc/chatd.conf.example")) as f:
        text = [l for l in f if not l.startswith(("user ", "group "))]
    conf = tmp_path / "chatd.conf"
    conf.write_text("".join(text))
    res = subprocess.run([os.path.join(installed, "sbin/chatd"), "-t", "-c", str(conf)],
                         capture_output=True, text=True)
    assert res.returncode == 0 and "configuration OK" in res.stderr, res.stderr


def test_systemd_unit_verifies(installed, tmp_path):
    """systemd-analyze verify accepts the unit (paths pointed at the
    install), with no warnings."""
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze not installed")
    prefix_in_unit = None
    with open(os.path.join(installed, "lib/systemd/system/chatd.service")) as f:
        text = f.read()
    for line in text.splitlines():
        if line.startswith("ExecStart="):
            prefix_in_unit = line.split("=", 1)[1].split()[0][:-len("/sbin/chatd")]
    assert prefix_in_unit, text
    unit = tmp_path / "chatd.service"
    unit.write_text(text.replace(prefix_in_unit + "/", installed + "/"))
    env = dict(os.environ, MANPATH=os.path.join(installed, "share/man"))
    res = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True,
                         text=True, env=env, timeout=60)
    assert res.returncode == 0 and res.stderr.strip() == "", res.stderr
    for want in ("ExecReload=/bin/kill -HUP $MAINPID", "KillSignal=SIGTERM",
                 "RuntimeDirectory=chatd"):
        assert want in text


class InitScript:
    def __init__(self, installed, server):
        self.path = os.path.join(installed, "etc/init.d/chatd")
        self.defaults = os.path.join(server.dir, "defaults")
        with open(self.defaults, "w") as f:
            f.write("DAEMON=%s\nCHATD_CONFIG=%s\nSTOP_TIMEOUT=20\n"
                    % (os.path.join(installed, "sbin/chatd"), server.config_path))

    def __call__(self, action):
        env = dict(os.environ, CHATD_DEFAULTS=self.defaults)
        return subprocess.run(["sh", self.path, action], capture_output=True, text=True,
                              env=env, timeout=60)


def read_pid(path):
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


@pytest.fixture
def daemon_server(installed, db):
    s = h.ChatdServer(db, worker_path=os.path.join(installed, "libexec/chatd-worker"),
                      log_file=None)
    s.settings["log_file"] = os.path.join(s.dir, "chatd.log")
    s.write_config()
    s.pid_path = os.path.join(s.dir, "chatd.pid")
    yield s
    pid = read_pid(s.pid_path)
    if pid and h.pid_alive(pid):
        for k in h.child_pids(pid):
            os.kill(k, signal.SIGKILL)
        os.kill(pid, signal.SIGKILL)
    s.cleanup()


def test_init_script_drives_installed_chatd(installed, daemon_server, db):
    s = daemon_server
    init = InitScript(installed, s)

    res = init("status")
    assert res.returncode == 3 and "not running" in res.stdout

    res = init("start")
    assert res.returncode == 0, res.stdout + res.stderr
    pid = read_pid(s.pid_path)
    assert pid and h.pid_alive(pid)
    h.wait_for(lambda: len(h.child_pids(pid)) == 2, 10, what="two workers")
    # A daemon: detached, not our child, in its own session.
    assert os.getsid(pid) == pid
    res = init("status")
    assert res.returncode == 0 and str(pid) in res.stdout

    def chat_works():
        p_a, p_b = h.make_user(db, h.unique_name("a")), h.make_user(db, h.unique_name("b"))
        room = h.make_room(db, p_a, p_b)

        async def main():
            ws, hello = await h.open_chat(s, room, p_a)
            await ws.close()
        h.run(main())
    chat_works()

    # Reload: new workers, same broker; log rotation with SIGUSR1.
    workers = set(h.child_pids(pid))
    os.rename(s.settings["log_file"], s.settings["log_file"] + ".1")
    os.kill(pid, signal.SIGUSR1)
    # Signals that arrive together are handled in signal-number order,
    # SIGHUP before SIGUSR1: reload once the new file is open.
    h.wait_for(lambda: os.path.exists(s.settings["log_file"]), 10, what="the log reopened")
    res = init("reload")
    assert res.returncode == 0, res.stdout + res.stderr
    h.wait_for(lambda: len(h.child_pids(pid)) == 2 and not set(h.child_pids(pid)) & workers,
               10, what="replaced workers")

    def log_says_reloaded():
        with open(s.settings["log_file"]) as f:
            return "reloaded" in f.read()
    # The new workers can be forked before the line is written.
    h.wait_for(log_says_reloaded, 10, what="'reloaded' in the reopened log")
    with open(s.settings["log_file"] + ".1") as f:
        assert "listening on" in f.read()
    chat_works()

    # A broken file: reload refuses and says where, chatd keeps running.
    with open(s.config_path, "a") as f:
        f.write("bogus_keyword 1\n")
    res = init("reload")
    assert res.returncode != 0
    assert "chatd.conf:%d:" % len(open(s.config_path).read().splitlines()) in res.stderr
    assert h.pid_alive(pid)

    res = init("stop")
    assert res.returncode == 0, res.stdout + res.stderr
    assert not h.pid_alive(pid)
    assert not os.path.exists(s.pid_path)
    res = init("status")
    assert res.returncode == 3

    # start refuses a broken file, naming the line.
    res = init("start")
    assert res.returncode != 0 and "bogus_keyword" in res.stderr
    assert read_pid(s.pid_path) is None


def test_init_script_restart(installed, daemon_server):
    s = daemon_server
    init = InitScript(installed, s)
    assert init("start").returncode == 0
    first = read_pid(s.pid_path)
    res = init("restart")
    assert res.returncode == 0, res.stdout + res.stderr
    second = read_pid(s.pid_path)
    assert second and second != first and h.pid_alive(second)
    assert not h.pid_alive(first)
    assert init("stop").returncode == 0
    time.sleep(0.1)
    assert not h.pid_alive(second)


def cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().split(b"\0")[:-1]
    except OSError:
        return []


def worker_cmdlines(pid):
    """Command lines of the two workers, once both have exec'd."""
    def ready():
        lines = [cmdline(w) for w in h.child_pids(pid)]
        if len(lines) == 2 and all(l and l[0] == b"chatd-worker" for l in lines):
            return lines
        return None
    return h.wait_for(ready, 10, what="two exec'd workers")


def test_daemon_workers_log_where_the_broker_does(installed, daemon_server):
    """Detached, chatd logs to syslog (facility daemon) and tells its
    workers to do the same; with log_file, they all write that file."""
    s = daemon_server
    init = InitScript(installed, s)
    assert init("start").returncode == 0
    for args in worker_cmdlines(read_pid(s.pid_path)):
        assert args[args.index(b"-o") + 1].decode() == s.settings["log_file"], args
    assert init("stop").returncode == 0

    s.settings["log_file"] = None
    s.write_config()
    assert init("start").returncode == 0
    for args in worker_cmdlines(read_pid(s.pid_path)):
        assert args[args.index(b"-s") + 1] == b"24", args  # LOG_DAEMON
    assert init("stop").returncode == 0

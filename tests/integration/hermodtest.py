"""hermodtest: shared helpers for Python integration tests (Debian's
/usr/bin/python3). A Daemon makes a private directory, free loopback ports and a
config, runs the CLI and `hermod serve` (the sanitized build in $HERMOD), and
stops everything on exit. TAP output through tap()."""
import atexit
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
HERMOD = os.environ.get("HERMOD", os.path.join(ROOT, "build", "asan", "hermod"))

_n = 0
_failed = 0


def tap(ok, name, detail=""):
    """Prints one TAP line; returns ok."""
    global _n, _failed
    _n += 1
    if ok:
        print("ok %d - %s" % (_n, name), flush=True)
    else:
        _failed += 1
        print("not ok %d - %s" % (_n, name), flush=True)
        if detail:
            for line in str(detail).splitlines()[:20]:
                print("#   " + line, flush=True)
    return ok


def done():
    print("1..%d" % _n)
    sys.exit(1 if _failed else 0)


def free_port():
    for _ in range(200):
        # below the ephemeral range (32768-60999): see lib.sh free_port
        p = random.randint(10000, 32000)
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", p))
            s.close()
            return p
        except OSError:
            s.close()
    raise RuntimeError("no free port")


def wait_port(port, timeout=30.0):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


class Daemon:
    def __init__(self, extra="", submission_extra="", binary=None, delivery=False):
        self.dir = tempfile.mkdtemp(prefix="hermod-test.")
        self.bin = binary or HERMOD
        self.sub = free_port()
        self.subtls = free_port()
        self.inbound = free_port()
        self.http = free_port()
        self.conf = os.path.join(self.dir, "hermod.conf")
        self.proc = None
        with open(self.conf, "w") as f:
            f.write("""[server]
hostname = mail.test.example
data_dir = %s/var
require_verified_domains = no
[submission]
listen = 127.0.0.1:%d
listen_tls = 127.0.0.1:%d
%s
[inbound]
listen = 127.0.0.1:%d
[http]
listen = 127.0.0.1:%d
public_url = http://127.0.0.1:%d
[delivery]
enabled = %s
%s
""" % (self.dir, self.sub, self.subtls, submission_extra, self.inbound, self.http, self.http,
       "yes" if delivery else "no", extra))
        atexit.register(self.cleanup)

    def cli(self, *args, check=True, input=None):
        r = subprocess.run([self.bin, "-c", self.conf] + list(args), capture_output=True,
                           text=True, input=input, timeout=60)
        if check and r.returncode != 0:
            raise RuntimeError("hermod %s failed: %s" % (" ".join(args), r.stderr))
        return r

    def setup_account(self, account="shop", domain="shop.example"):
        """Creates account, a send key and a domain; returns the key."""
        self.cli("account", "create", account)
        key = self.cli("key", "create", "--account", account).stdout.strip()
        self.cli("domain", "add", domain, "--account", account)
        return key

    def start(self):
        self.log = open(os.path.join(self.dir, "serve.log"), "ab")
        self.proc = subprocess.Popen([self.bin, "-c", self.conf, "serve"], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        if not wait_port(self.sub):
            raise RuntimeError("daemon did not start: " + self.read_log()[-2000:])

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc is None:
            return None
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.proc = None
        return rc

    def read_log(self):
        try:
            with open(os.path.join(self.dir, "serve.log"), "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def queue(self):
        r = self.cli("queue", "list", "--json")
        return json.loads(r.stdout)

    def cleanup(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
        if not os.environ.get("KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)


class Raw:
    """A raw SMTP connection for hostile-input tests: exact bytes out, replies in."""

    def __init__(self, port, greet=True, timeout=10):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""
        if greet:
            self.greeting = self.reply()

    def send(self, data):
        self.s.sendall(data)

    def reply(self):
        """Reads one complete (possibly multi-line) reply; returns (code, text) or (None, '')."""
        lines = []
        while True:
            while b"\r\n" not in self.buf:
                try:
                    chunk = self.s.recv(65536)
                except (socket.timeout, ConnectionResetError):
                    chunk = b""
                if not chunk:
                    return (None, b"\n".join(lines).decode("latin-1"))
                self.buf += chunk
            line, self.buf = self.buf.split(b"\r\n", 1)
            lines.append(line)
            if len(line) < 4 or line[3:4] != b"-":
                break
        try:
            code = int(lines[-1][:3])
        except ValueError:
            code = None
        return (code, b"\n".join(lines).decode("latin-1"))

    def cmd(self, line):
        self.send(line.encode() + b"\r\n" if isinstance(line, str) else line + b"\r\n")
        return self.reply()

    def closed(self, timeout=5):
        """True when the server closed the connection (after any pending replies)."""
        self.s.settimeout(timeout)
        try:
            while True:
                d = self.s.recv(65536)
                if not d:
                    return True
        except (socket.timeout, OSError) as e:
            return not isinstance(e, socket.timeout)

    def close(self):
        self.s.close()

#!/usr/bin/python3
# dkim_verifiers.py: three DKIM verifiers independent of hermod, with the
# public keys served by a real DNS server (dnsmasq) on loopback. A module
# for tests/integration/40_dkim_verify.py and a command for the others:
#
#   dkim_verifiers.py RECORDS.json FILE...
#       RECORDS.json is what `hermod domain add --json` prints; its DKIM TXT
#       records are served by dnsmasq; prints one JSON line per file:
#       {"file", "dkimpy": [bool per signature], "mailauth": [{"algo",
#        "result"}], "opendkim": exit status or null when it cannot run}
#
# python3-dkim: the dkim module, dnsfunc asking dnsmasq through dnspython.
# npm mailauth: tests/node/dkim_verify.js, its resolver pointed at dnsmasq.
# opendkim-testmsg: libopendkim asks the system resolver, which cannot take
#   a port, so it runs in a private network and mount namespace where
#   /etc/resolv.conf names a dnsmasq on 127.0.0.1:53 (loopback only).
import json, os, shutil, socket, subprocess, sys, tempfile, time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
NODE_DIR = os.path.join(ROOT, "tests", "node")
CRLF = b"\r\n"


def free_udp_port():
    for _ in range(100):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        t = socket.socket()
        try:
            t.bind(("127.0.0.1", port))  # dnsmasq wants the TCP port too
            return port
        except OSError:
            continue
        finally:
            t.close()
    raise RuntimeError("no free port")


def dnsmasq_args(port, records, pidfile):
    args = ["dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts", "--no-poll",
            "--conf-file=/dev/null", "--listen-address=127.0.0.1", "--bind-interfaces",
            "--port=%d" % port, "--pid-file=" + pidfile, "--log-facility=-"]
    for name, value in records:
        # one TXT string holds 255 bytes at most: split, verifiers join them
        chunks = [value[i:i + 255] for i in range(0, len(value), 255)]
        args.append("--txt-record=%s,%s" % (name, ",".join(chunks)))
    return args


def resolver(port, lifetime=3):
    import dns.resolver
    res = dns.resolver.Resolver(configure=False)
    res.nameservers = ["127.0.0.1"]
    res.port = port
    res.lifetime = lifetime
    return res


def start_dnsmasq(tmp, records):
    """Starts dnsmasq serving records [(name, value)]; waits until it
    answers the first one. Returns (process, port, up)."""
    port = free_udp_port()
    p = subprocess.Popen(dnsmasq_args(port, records, os.path.join(tmp, "dnsmasq.pid")),
                         stdout=subprocess.DEVNULL,
                         stderr=open(os.path.join(tmp, "dnsmasq.log"), "w"))
    res = resolver(port, 1)
    for _ in range(50):
        try:
            ans = res.resolve(records[0][0], "TXT")
            up = b"".join(b"".join(r.strings) for r in ans).decode() == records[0][1]
            return p, port, up
        except Exception:
            time.sleep(0.1)
    return p, port, False


def stop(p):
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()


def dkimpy_verify(path, port):
    """The verdict of every signature in the file, by the dkim module."""
    import dkim
    res = resolver(port)

    def dnsfunc(name, timeout=5):
        name = name.decode() if isinstance(name, bytes) else name
        try:
            ans = res.resolve(name, "TXT")
        except Exception:
            return None
        return b"".join(b"".join(r.strings) for r in ans)

    data = open(path, "rb").read()
    nsig = data.split(CRLF + CRLF, 1)[0].count(b"DKIM-Signature:")
    out = []
    for idx in range(nsig):
        try:
            out.append(bool(dkim.DKIM(data).verify(idx=idx, dnsfunc=dnsfunc)))
        except Exception as e:
            print("# dkimpy %s sig %d: %s" % (os.path.basename(path), idx, e))
            out.append(False)
    return out


def mailauth_verify(files, port):
    """{file: [{"algo", "result", "comment"}]} from npm mailauth; None if
    it could not run."""
    if not os.path.isdir(os.path.join(NODE_DIR, "node_modules", "mailauth")):
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefer-offline"],
                       cwd=NODE_DIR, capture_output=True, timeout=240)
    r = subprocess.run(["node", os.path.join(NODE_DIR, "dkim_verify.js"), "127.0.0.1:%d" % port] +
                       list(files), capture_output=True, timeout=120)
    if r.returncode != 0:
        print("# mailauth: %s" % r.stderr.decode()[-500:])
        return None
    got = {}
    for line in r.stdout.decode().splitlines():
        j = json.loads(line)
        got[j["file"]] = j["results"]
    return got


def opendkim_verify(tmp, files, records):
    """{file: (exit status, output)} from opendkim-testmsg; None when this
    machine cannot make the namespaces or lacks opendkim-tools."""
    if not shutil.which("opendkim-testmsg") or \
            subprocess.run(["unshare", "-nm", "true"], capture_output=True).returncode != 0:
        return None
    open(os.path.join(tmp, "resolv.conf"), "w").write(
        "nameserver 127.0.0.1\noptions timeout:1 attempts:2\n")
    script = os.path.join(tmp, "ns.sh")
    dm = " ".join("'%s'" % a for a in dnsmasq_args(53, records, os.path.join(tmp, "dnsmasq53.pid")))
    lst = os.path.join(tmp, "files.txt")
    open(lst, "w").write("\n".join(files) + "\n")
    open(script, "w").write("""set -u
mount --make-rprivate / 2>/dev/null
ip link set lo up
mount --bind '%s/resolv.conf' /etc/resolv.conf
%s >/dev/null 2>&1 &
dm=$!
for i in $(seq 1 50); do
	/usr/bin/python3 -c "import dns.resolver as r; x=r.Resolver(configure=False); x.nameservers=['127.0.0.1']; x.lifetime=0.5; x.resolve('%s','TXT')" 2>/dev/null && break
	sleep 0.1
done
while read -r f; do
	timeout 20 opendkim-testmsg < "$f" > "$f.odk" 2>&1
	echo "$? $f"
done < '%s'
kill $dm
""" % (tmp, dm, records[0][0], lst))
    r = subprocess.run(["unshare", "-nm", "bash", script], capture_output=True, timeout=300)
    out = {}
    for line in r.stdout.decode().splitlines():
        rc, f = line.split(" ", 1)
        text = open(f + ".odk").read().strip() if os.path.exists(f + ".odk") else ""
        out[f] = (int(rc), text)
    return out


def dkim_records(records_json):
    """The DKIM TXT records [(name, value)] of `domain add --json` output."""
    j = json.load(open(records_json))
    return [(x["name"], x["value"]) for x in j["records"] if x["value"].startswith("v=DKIM1")]


def main():
    records = dkim_records(sys.argv[1])
    files = [os.path.abspath(f) for f in sys.argv[2:]]
    tmp = tempfile.mkdtemp(prefix="hermod-dkimv.")
    p = None
    try:
        p, port, up = start_dnsmasq(tmp, records)
        if not up:
            print("dkim_verifiers: dnsmasq did not answer", file=sys.stderr)
            return 1
        ma = mailauth_verify(files, port) or {}
        od = opendkim_verify(tmp, files, records)
        for f in files:
            print(json.dumps({"file": f, "dkimpy": dkimpy_verify(f, port),
                              "mailauth": [{"algo": x.get("algo"), "result": x.get("result")}
                                           for x in ma.get(f, [])],
                              "opendkim": None if od is None else od.get(f, (-1, ""))[0]}))
        return 0
    finally:
        if p is not None:
            stop(p)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

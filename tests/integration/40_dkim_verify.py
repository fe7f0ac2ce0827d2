#!/usr/bin/python3
# 40_dkim_verify.py: hermod's DKIM signatures checked by three independent
# verifiers, with the public keys served by a real DNS server on loopback:
#   python3-dkim (the dkim module, dnsfunc asking dnsmasq through dnspython),
#   npm mailauth (tests/node/dkim_verify.js, resolver pointed at dnsmasq),
#   opendkim-testmsg (libopendkim asks the system resolver, which cannot take
#     a port: it runs in a private network and mount namespace where
#     /etc/resolv.conf names a dnsmasq on 127.0.0.1:53).
# Keys and records come from dkim_domain_setup() (what `hermod domain add`
# runs) through build/tools/dkim_signfile; messages are signed through the
# key ring. Cases: RSA, Ed25519 and dual; non-ASCII headers, long folded
# headers, an empty body, an 8-bit body, a multipart with an attachment.
# A changed body byte or a changed signed header must fail everywhere.
import json, os, shutil, socket, subprocess, sys, tempfile, time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TOOL = os.path.join(ROOT, "build", "tools", "dkim_signfile")
NODE_DIR = os.path.join(ROOT, "tests", "node")
T = tempfile.mkdtemp(prefix="hermod-dkim.")
ntest = 0
nfail = 0
procs = []


def ok(cond, name):
    global ntest, nfail
    ntest += 1
    if cond:
        print("ok %d - %s" % (ntest, name))
    else:
        nfail += 1
        print("not ok %d - %s" % (ntest, name))
    sys.stdout.flush()


def skip(name, why):
    global ntest
    ntest += 1
    print("ok %d - %s # SKIP %s" % (ntest, name, why))


def cleanup():
    for p in procs:
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
    if not os.environ.get("KEEP"):
        shutil.rmtree(T, ignore_errors=True)


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


CRLF = b"\r\n"


def msg(headers, body):
    return CRLF.join(h.encode("utf-8") if isinstance(h, str) else h for h in headers) + \
        CRLF + CRLF + body


def messages(domain):
    frm = "From: Shop <orders@%s>" % domain
    common = ["Date: Thu, 26 Nov 2026 18:00:00 +0000",
              "Message-ID: <%d.%s@%s>" % (os.getpid(), "m", domain), "MIME-Version: 1.0"]
    att = b"".join(bytes([i % 256]) for i in range(3000))
    import base64
    b64 = base64.encodebytes(att).replace(b"\n", b"\r\n")
    return {
        "plain": msg([frm, "To: a@x.example", "Subject: Your order"] + common +
                     ["Content-Type: text/plain; charset=us-ascii",
                      "List-Unsubscribe: <https://%s/u/1>" % domain,
                      "List-Unsubscribe-Post: List-Unsubscribe=One-Click"],
                     b"Hello,\r\n\r\nyour order has shipped.  Thanks!\r\n"),
        "nonascii_headers": msg(["From: =?UTF-8?B?SsO2cmcgTcO8bGxlcg==?= <orders@%s>" % domain,
                                 "To: J\u00f6rg <j\u00f6rg@x.example>",
                                 "Subject: Gr\u00fc\u00dfe aus K\u00f6ln \u2014 \u65e5\u672c",
                                 "Reply-To: hilfe@%s" % domain] + common +
                                ["Content-Type: text/plain; charset=utf-8",
                                 "Content-Transfer-Encoding: 8bit"],
                                "Hallo J\u00f6rg\r\n".encode("utf-8")),
        "folded_headers": msg([frm,
                               "To: " + ",\r\n\t".join("user%d@x.example" % i for i in range(30)),
                               "Cc: c1@y.example,\r\n    c2@y.example",
                               "Subject: A subject long enough that it has to be folded over\r\n"
                               " several lines,\r\n \t with tabs   and runs of   spaces"] + common +
                              ["Content-Type: text/plain;\r\n\tcharset=us-ascii;\r\n\tformat=flowed"],
                              b"Body line with trailing space   \r\n\tand a tab line\t\r\n"),
        "empty_body": msg([frm, "To: a@x.example", "Subject: Empty"] + common +
                          ["Content-Type: text/plain"], b""),
        "eightbit_body": msg([frm, "To: a@x.example", "Subject: 8bit"] + common +
                             ["Content-Type: text/plain; charset=utf-8",
                              "Content-Transfer-Encoding: 8bit"],
                             "Stra\u00dfe \u00e9t\u00e9 \u65e5\u672c\u8a9e \u2603\r\n".encode("utf-8") +
                             b"latin1 \xe9\xe8\xff\r\n\r\n\r\n"),
        "multipart_attachment": msg(
            [frm, "To: a@x.example", "Subject: Invoice"] + common +
            ['Content-Type: multipart/mixed; boundary="=_b1"'],
            b"--=_b1\r\nContent-Type: multipart/alternative; boundary=\"=_b2\"\r\n\r\n"
            b"--=_b2\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee attached.\r\n"
            b"--=_b2\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>See attached.</p>\r\n"
            b"--=_b2--\r\n"
            b"--=_b1\r\nContent-Type: application/octet-stream; name=\"r.bin\"\r\n"
            b"Content-Transfer-Encoding: base64\r\n"
            b"Content-Disposition: attachment; filename=\"r.bin\"\r\n\r\n" + b64 +
            b"--=_b1--\r\n"),
    }


def tamper_body(m):
    head, sep, body = m.partition(CRLF + CRLF)
    if body.strip() == b"":
        return head + sep + b"x" + CRLF
    i = max(i for i in range(len(body)) if body[i:i + 1] not in (b"\r", b"\n", b" ", b"\t"))
    return head + sep + body[:i] + (b"Y" if body[i:i + 1] != b"Y" else b"Z") + body[i + 1:]


def tamper_header(m):
    i = m.index(b"\r\nSubject:") + len(b"\r\nSubject:") + 2
    return m[:i] + (b"Q" if m[i:i + 1] != b"Q" else b"R") + m[i + 1:]


def dkimpy_verify(path, port):
    """Verdict of every signature in the file, by the dkim module."""
    import dkim
    import dns.resolver

    res = dns.resolver.Resolver(configure=False)
    res.nameservers = ["127.0.0.1"]
    res.port = port
    res.lifetime = 3

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
        d = dkim.DKIM(data)
        try:
            out.append(bool(d.verify(idx=idx, dnsfunc=dnsfunc)))
        except Exception as e:
            print("# dkimpy %s sig %d: %s" % (os.path.basename(path), idx, e))
            out.append(False)
    return out


def main():
    if not os.access(TOOL, os.X_OK):
        subprocess.run(["make", "-s", "-C", ROOT, "build/tools/dkim_signfile"], check=True)
    data_dir = os.path.join(T, "var")
    domains = {"rsa": "rsa.dkim.test", "ed25519": "ed.dkim.test", "dual": "dual.dkim.test"}
    records = []
    for algo, dom in domains.items():
        r = subprocess.run([TOOL, "setup", data_dir, dom, "sel1", algo, "mail.dkim.test"],
                           capture_output=True, check=False)
        ok(r.returncode == 0, "records for %s (%s)" % (dom, algo))
        j = json.loads(r.stdout)
        dk = [x for x in j["records"] if x["name"].endswith("._domainkey." + dom)]
        want = {"rsa": ["k=rsa"], "ed25519": ["k=ed25519"], "dual": ["k=rsa", "k=ed25519"]}[algo]
        ok(len(dk) == len(want) and all(w in x["value"] for w, x in zip(want, dk)) and
           j["domain"] == dom, "DKIM TXT records for %s: %s" % (dom, [x["name"] for x in dk]))
        for x in dk:
            records.append((x["name"], x["value"]))
        key = os.path.join(data_dir, "dkim", "%s.sel1.%s.pem" % (dom, "ed25519" if algo == "ed25519" else "rsa"))
        ok(os.stat(key).st_mode & 0o777 == 0o600, "private key %s is mode 0600" % os.path.basename(key))

    port = free_udp_port()
    p = subprocess.Popen(dnsmasq_args(port, records, os.path.join(T, "dnsmasq.pid")),
                         stdout=subprocess.DEVNULL, stderr=open(os.path.join(T, "dnsmasq.log"), "w"))
    procs.append(p)

    # sign every message for every domain, plus tampered copies
    files = {}  # path -> (algo, case, expect_pass, nsig)
    os.makedirs(os.path.join(T, "m"))
    for algo, dom in domains.items():
        for case, m in messages(dom).items():
            r = subprocess.run([TOOL, "sign", data_dir, dom], input=m, capture_output=True)
            if r.returncode != 0:
                ok(False, "sign %s/%s: %s" % (algo, case, r.stderr.decode()))
                continue
            signed = r.stdout
            nsig = 2 if algo == "dual" else 1
            sigpart = signed[:len(signed) - len(m)]
            variants = {"": (signed, True, nsig),
                        "-body": (sigpart + tamper_body(m), False, nsig),
                        "-header": (sigpart + tamper_header(m), False, nsig)}
            if algo == "dual":
                # each of the two signatures must stand on its own
                i = sigpart.index(b"\r\nDKIM-Signature:") + 2
                first, second = sigpart[:i], sigpart[i:]
                variants["-first-only"] = (first + m, True, 1)
                variants["-second-only"] = (second + m, True, 1)
            for suffix, (data, expect, n) in variants.items():
                path = os.path.join(T, "m", "%s-%s%s.eml" % (algo, case, suffix))
                open(path, "wb").write(data)
                files[path] = (algo, case + suffix, expect, n)
    ok(len(files) == 3 * 6 * 3 + 6 * 2, "signed %d message files" % len(files))

    # the DNS server answers before anyone asks it
    import dns.resolver
    res = dns.resolver.Resolver(configure=False)
    res.nameservers = ["127.0.0.1"]
    res.port = port
    res.lifetime = 1
    up = False
    for _ in range(50):
        try:
            ans = res.resolve(records[0][0], "TXT")
            up = b"".join(b"".join(r.strings) for r in ans).decode() == records[0][1]
            break
        except Exception:
            time.sleep(0.1)
    ok(up, "dnsmasq on 127.0.0.1:%d serves the DKIM TXT records" % port)

    # 1. python3-dkim
    for path, (algo, case, expect, nsig) in sorted(files.items()):
        v = dkimpy_verify(path, port)
        good = len(v) == nsig and all(x == expect for x in v)
        ok(good, "python3-dkim %s %s/%s: %s" % ("passes" if expect else "rejects", algo, case, v))

    # 2. npm mailauth
    if not os.path.isdir(os.path.join(NODE_DIR, "node_modules", "mailauth")):
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefer-offline"],
                       cwd=NODE_DIR, capture_output=True, timeout=240)
    r = subprocess.run(["node", os.path.join(NODE_DIR, "dkim_verify.js"), "127.0.0.1:%d" % port] +
                       sorted(files), capture_output=True, timeout=120)
    got = {}
    for line in r.stdout.decode().splitlines():
        j = json.loads(line)
        got[j["file"]] = j["results"]
    ok(r.returncode == 0 and len(got) == len(files), "mailauth ran over every file")
    for path, (algo, case, expect, nsig) in sorted(files.items()):
        res_ = got.get(path, [])
        verdicts = [x.get("result") for x in res_]
        algos = sorted(str(x.get("algo")) for x in res_)
        want_algos = {"rsa": ["rsa-sha256"], "ed25519": ["ed25519-sha256"],
                      "dual": ["ed25519-sha256", "rsa-sha256"]}[algo]
        if case.endswith("-first-only"):
            want_algos = ["rsa-sha256"]
        elif case.endswith("-second-only"):
            want_algos = ["ed25519-sha256"]
        good = len(res_) == nsig and algos == want_algos and \
            all((x == "pass") == expect for x in verdicts)
        ok(good, "mailauth %s %s/%s: %s" % ("passes" if expect else "rejects", algo, case,
                                           [(x.get("algo"), x.get("result"), x.get("comment")) for x in res_]))

    # 3. opendkim-testmsg in a private network + mount namespace
    ns_ok = subprocess.run(["unshare", "-nm", "true"], capture_output=True).returncode == 0
    if not ns_ok or not shutil.which("opendkim-testmsg"):
        skip("opendkim-testmsg", "no unshare(2) or opendkim-tools here")
    else:
        open(os.path.join(T, "resolv.conf"), "w").write("nameserver 127.0.0.1\noptions timeout:1 attempts:2\n")
        script = os.path.join(T, "ns.sh")
        dm = " ".join("'%s'" % a for a in dnsmasq_args(53, records, os.path.join(T, "dnsmasq53.pid")))
        lst = os.path.join(T, "files.txt")
        open(lst, "w").write("\n".join(sorted(files)) + "\n")
        open(script, "w").write("""set -u
mount --make-rprivate / 2>/dev/null
ip link set lo up
mount --bind '%s/resolv.conf' /etc/resolv.conf
%s >/dev/null 2>&1 &
dm=$!
for i in $(seq 1 50); do
	python3 -c "import dns.resolver as r; x=r.Resolver(configure=False); x.nameservers=['127.0.0.1']; x.lifetime=0.5; x.resolve('%s','TXT')" 2>/dev/null && break
	sleep 0.1
done
while read -r f; do
	timeout 20 opendkim-testmsg < "$f" > "$f.odk" 2>&1
	echo "$? $f"
done < '%s'
kill $dm
""" % (T, dm, records[0][0], lst))
        r = subprocess.run(["unshare", "-nm", "bash", script], capture_output=True, timeout=300)
        rcs = {}
        for line in r.stdout.decode().splitlines():
            rc, f = line.split(" ", 1)
            rcs[f] = int(rc)
        ok(len(rcs) == len(files), "opendkim-testmsg ran over every file")
        for path, (algo, case, expect, nsig) in sorted(files.items()):
            rc = rcs.get(path, -1)
            out = open(path + ".odk").read().strip() if os.path.exists(path + ".odk") else ""
            ok((rc == 0) == expect, "opendkim-testmsg %s %s/%s (exit %d%s)" %
               ("passes" if expect else "rejects", algo, case, rc, ": " + out[:100] if out else ""))
    print("1..%d" % ntest)
    return 0 if nfail == 0 else 1


if __name__ == "__main__":
    try:
        rc = main()
    finally:
        cleanup()
    sys.exit(rc)

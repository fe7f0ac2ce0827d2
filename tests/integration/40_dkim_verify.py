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
import json, os, shutil, subprocess, sys, tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TOOL = os.path.join(ROOT, "build", "tools", "dkim_signfile")
sys.path.insert(0, os.path.join(ROOT, "tests", "tools"))
from dkim_verifiers import (dkimpy_verify, mailauth_verify, opendkim_verify,  # noqa: E402
                            start_dnsmasq, stop)
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
        stop(p)
    if not os.environ.get("KEEP"):
        shutil.rmtree(T, ignore_errors=True)


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

    p, port, up = start_dnsmasq(T, records)
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

    ok(up, "dnsmasq on 127.0.0.1:%d serves the DKIM TXT records" % port)

    # 1. python3-dkim
    for path, (algo, case, expect, nsig) in sorted(files.items()):
        v = dkimpy_verify(path, port)
        good = len(v) == nsig and all(x == expect for x in v)
        ok(good, "python3-dkim %s %s/%s: %s" % ("passes" if expect else "rejects", algo, case, v))

    # 2. npm mailauth
    got = mailauth_verify(sorted(files), port) or {}
    ok(len(got) == len(files), "mailauth ran over every file")
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
    od = opendkim_verify(T, sorted(files), records)
    if od is None:
        skip("opendkim-testmsg", "no unshare(2) or opendkim-tools here")
    else:
        rcs = {f: rc for f, (rc, _) in od.items()}
        ok(len(rcs) == len(files), "opendkim-testmsg ran over every file")
        for path, (algo, case, expect, nsig) in sorted(files.items()):
            rc = rcs.get(path, -1)
            out = od.get(path, (-1, ""))[1]
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

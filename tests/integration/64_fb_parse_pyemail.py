#!/usr/bin/python3
# 64_fb_parse_pyemail.py: feedback/fb_parse checked against an independent
# MIME parser, Python's email package. For every golden message in
# tests/golden/fb_parse where Python finds a report part (message/
# delivery-status, message/global-delivery-status, message/feedback-report),
# the kind, each recipient's address, action and status, the feedback type
# and the returned original's Message-ID must agree with what
# build/tools/fb_parse_dump prints. Python is given the decoded report when
# the part has a transfer encoding (its parser reads message/* bodies as
# they stand). Then the same messages, rewrapped by Python's generator (new
# boundaries, its own folding), must parse to the same answer.
import email, email.generator, email.policy, io, json, os, re, subprocess, sys
import base64, quopri

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TOOL = os.path.join(ROOT, "build", "tools", "fb_parse_dump")
GOLD = os.path.join(ROOT, "tests", "golden", "fb_parse")
ntest = 0
nfail = 0


def ok(cond, name, detail=""):
    global ntest, nfail
    ntest += 1
    print("%s %d - %s" % ("ok" if cond else "not ok", ntest, name))
    if not cond:
        nfail += 1
        if detail:
            print("#   " + detail.replace("\n", "\n#   "))
    sys.stdout.flush()


def dump(paths):
    out = subprocess.run([TOOL] + paths, capture_output=True, check=True).stdout
    return [json.loads(l.decode("utf-8", "replace")) for l in out.splitlines()]


def uncomment(s):
    out, depth = "", 0
    for c in s:
        if c == "(":
            depth += 1
        elif c == ")" and depth:
            depth -= 1
        elif not depth:
            out += c
    return out


def addr(v):
    v = uncomment(str(v)).strip()
    utf8 = False
    m = re.match(r"^([A-Za-z0-9._-]+)\s*;(.*)$", v, re.S)
    if m:
        utf8 = m.group(1).lower() == "utf-8"
        v = m.group(2).strip()
    m = re.search(r"<([^>]*)>", v)
    if m:
        v = m.group(1).strip()
    if utf8:
        v = re.sub(r"\\x\{([0-9A-Fa-f]+)\}", lambda x: chr(int(x.group(1), 16)), v)
    v = v.split()[0] if v.split() else ""
    if "@" in v:
        local, dom = v.rsplit("@", 1)
        v = local + "@" + dom.lower()
    return v


def status(v):
    m = re.match(r"\s*([245]\.\d{1,3}\.\d{1,3})", uncomment(str(v)))
    return m.group(1) if m else None


def raw_body(part):
    """The decoded body of a part whose payload Python did not parse."""
    data = part.as_bytes(policy=email.policy.compat32)
    cut = re.search(rb"\r?\n\r?\n", data)
    body = data[cut.end():] if cut else b""
    cte = (part.get("Content-Transfer-Encoding") or "").strip().lower()
    if cte == "base64":
        return base64.b64decode(re.sub(rb"[^A-Za-z0-9+/=]", b"", body) + b"===")
    if cte == "quoted-printable":
        return quopri.decodestring(body)
    return body


def groups(part):
    """The field groups of a delivery-status or feedback-report part."""
    cte = (part.get("Content-Transfer-Encoding") or "").strip().lower()
    pl = part.get_payload()
    # Python reads message/delivery-status as field groups; other message/*
    # types as one message (the first group its header): read those here.
    if (isinstance(pl, list) and cte not in ("base64", "quoted-printable") and
            part.get_content_type() == "message/delivery-status"):
        return pl
    text = raw_body(part).decode("utf-8", "replace").replace("\r\n", "\n")
    return [email.message_from_string(g + "\n") for g in re.split(r"\n[ \t]*\n", text) if g.strip()]


def orig_id(parts, after):
    for p in parts[after + 1:]:
        t = p.get_content_type()
        if t in ("message/rfc822", "message/global"):
            pl = p.get_payload()
            m = pl[0] if isinstance(pl, list) and pl else None
        elif t in ("text/rfc822-headers", "message/global-headers"):
            pl = p.get_payload()
            if isinstance(pl, list) and pl:
                m = pl[0]
            else:
                m = email.message_from_bytes(raw_body(p))
        else:
            continue
        mid = m.get("Message-ID") if m is not None else None
        if mid is None:
            return None
        mid = re.sub(r"[\s<>]", "", uncomment(str(mid)))
        return mid or None
    return None


def python_view(data):
    msg = email.message_from_bytes(data, policy=email.policy.compat32)
    parts = list(msg.walk())
    rt = next((str(p.get_param("report-type")).lower() for p in parts
               if p.get_content_type() == "multipart/report" and p.get_param("report-type")), "")
    reports = [(i, p) for i, p in enumerate(parts) if p.get_content_type() in
               ("message/delivery-status", "message/global-delivery-status", "message/feedback-report")]
    # The report that report-type names, else the first (as fb_parse does).
    named = [(i, p) for i, p in reports if rt in ("feedback-report", "delivery-status",
             "global-delivery-status") and
             (p.get_content_type() == "message/feedback-report") == (rt == "feedback-report")]
    for i, p in (named or reports)[:1]:
        t = p.get_content_type()
        if t in ("message/delivery-status", "message/global-delivery-status"):
            rcpts = []
            for g in groups(p):
                r = g.get("Final-Recipient") or g.get("Original-Recipient")
                if r is None:
                    continue
                act = g.get("Action")
                rcpts.append({"recipient": addr(r),
                              "action": uncomment(str(act)).split()[0].lower() if act else None,
                              "status": status(g.get("Status")) if g.get("Status") else None})
            return {"kind": "dsn", "rcpts": rcpts, "orig_message_id": orig_id(parts, i)}
        if t == "message/feedback-report":
            ft = None
            for g in groups(p):
                if g.get("Feedback-Type"):
                    ft = uncomment(str(g.get("Feedback-Type"))).split()[0].lower()
            return {"kind": "arf", "feedback_type": ft, "orig_message_id": orig_id(parts, i)}
    return None


def ours_view(o, kind):
    if kind == "dsn":
        return {"kind": o["kind"], "orig_message_id": o["orig_message_id"],
                "rcpts": [{"recipient": r["recipient"], "action": r["action"], "status": r["status"]}
                          for r in o["rcpts"]]}
    return {"kind": o["kind"], "feedback_type": o["feedback_type"],
            "orig_message_id": o["orig_message_id"]}


if not os.access(TOOL, os.X_OK):
    print("# %s missing: make unit builds it" % TOOL)
    sys.exit(77)
# Built past the caps of fb_parse.h on purpose: Python has none.
CAPPED = {"hostile-manyparts.in": "the report is part 301",
          "hostile-nested100.in": "the report is 100 multiparts deep"}
names = sorted(n for n in os.listdir(GOLD) if n.endswith(".in"))
paths = [os.path.join(GOLD, n) for n in names]
ours = dump(paths)
checked = 0
rewrapped = []
for n, p, o in zip(names, paths, ours):
    data = open(p, "rb").read()
    try:
        py = python_view(data)
    except Exception as e:  # Python's parser gave up: nothing to compare
        print("# %s: python: %r" % (n, e))
        continue
    if py is None:
        continue
    if n in CAPPED:
        ok(o["rc"] == -1 and o["kind"] == "none",
           "%s: beyond fb_parse's caps, refused (Python reads it: %s)" % (n, CAPPED[n]))
        continue
    checked += 1
    mine = ours_view(o, py["kind"])
    ok(mine == py, "%s: fb_parse agrees with Python's email package" % n,
       "python: %s\nours:   %s" % (json.dumps(py), json.dumps(mine)))
    # Python's generator rewrites the MIME structure: same answer expected.
    if n.startswith("hostile"):
        continue
    msg = email.message_from_bytes(data, policy=email.policy.compat32)
    buf = io.BytesIO()
    email.generator.BytesGenerator(buf, mangle_from_=False, maxheaderlen=60).flatten(msg)
    out = os.path.join(ROOT, "build", "fb-rewrap-" + n)
    open(out, "wb").write(buf.getvalue())
    rewrapped.append((n, out, o))
ok(checked >= 12, "at least 12 golden reports compared (%d)" % checked)
again = dump([w[1] for w in rewrapped])
for (n, out, o), o2 in zip(rewrapped, again):
    keys = ("rc", "kind", "format", "rcpts", "orig_message_id", "feedback_type", "reporting_mta")
    ok(all(o[k] == o2[k] for k in keys), "%s: same answer after Python rewrites it" % n,
       "before: %s\nafter:  %s" % (json.dumps({k: o[k] for k in keys}), json.dumps({k: o2[k] for k in keys})))
    os.unlink(out)
sys.exit(1 if nfail else 0)

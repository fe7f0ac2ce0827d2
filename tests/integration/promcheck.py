#!/usr/bin/python3
# promcheck.py: a strict checker of the Prometheus text exposition format
# 0.0.4, for tests (not a test itself: 56_metrics.sh runs it). It checks more
# than `promtool check metrics`, whose parser accepts a family split in two
# and repeated series: here every family must be contiguous, have exactly
# one HELP and one TYPE line before its samples, no series twice, valid
# names and escapes, and a histogram's buckets must be in increasing le
# order, cumulative, end with le="+Inf" equal to _count, with a _sum.
# Stricter than the format where hermod never needs the freedom: no blank
# lines, no other comments, no timestamps.
#
#   promcheck.py FILE      exit 0, or 1 with one line per problem on stderr
import math
import re
import sys

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


def parse_value(s):
    if s in ("NaN", "+Inf", "-Inf"):
        return {"NaN": math.nan, "+Inf": math.inf, "-Inf": -math.inf}[s]
    if not re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", s):
        raise ValueError("bad number %r" % s)
    return float(s)


def unescape(s, quote):
    """Undo \\\\, \\n (and \\" when quote): any other escape is an error."""
    out, i = [], 0
    while i < len(s):
        c = s[i]
        if c == "\\":
            if i + 1 >= len(s):
                raise ValueError("trailing backslash")
            n = s[i + 1]
            if n == "\\":
                out.append("\\")
            elif n == "n":
                out.append("\n")
            elif n == '"' and quote:
                out.append('"')
            else:
                raise ValueError("invalid escape \\%s" % n)
            i += 2
            continue
        if c == "\n":
            raise ValueError("raw new line")
        out.append(c)
        i += 1
    return "".join(out)


def parse_sample(line):
    m = NAME.match(line)
    if not m:
        raise ValueError("no metric name")
    name, i, labels = m.group(0), m.end(), {}
    if i < len(line) and line[i] == "{":
        i += 1
        while True:
            if line[i] == "}":
                i += 1
                break
            lm = LABEL.match(line, i)
            if not lm:
                raise ValueError("bad label name at %d" % i)
            ln = lm.group(0)
            i = lm.end()
            if line[i:i + 2] != '="':
                raise ValueError("expected =\" after label %s" % ln)
            i += 2
            j = i
            while j < len(line) and line[j] != '"':
                j += 2 if line[j] == "\\" else 1
            if j >= len(line):
                raise ValueError("unterminated label value")
            if ln in labels:
                raise ValueError("label %s twice" % ln)
            if ln.startswith("__"):
                raise ValueError("reserved label name %s" % ln)
            labels[ln] = unescape(line[i:j], True)
            i = j + 1
            if line[i] == ",":
                i += 1
            elif line[i] != "}":
                raise ValueError("expected , or } at %d" % i)
    if line[i:i + 1] != " ":
        raise ValueError("expected one space before the value")
    rest = line[i + 1:]
    if " " in rest:
        raise ValueError("timestamp or extra field: %r" % rest)
    return name, labels, parse_value(rest)


def check(text):
    errs = []
    try:
        text.encode("utf-8")
    except UnicodeError:
        return ["not UTF-8"]
    if not text.endswith("\n"):
        errs.append("the text does not end with a new line")
    if "\r" in text:
        errs.append("carriage return in the text")
    fams = {}       # name -> {"help", "type", "done", "series": set, "samples": [...]}
    order = []
    cur = None

    def family_of(sample):
        for suffix in ("_bucket", "_sum", "_count", ""):
            if suffix and sample.endswith(suffix):
                base = sample[: -len(suffix)]
                if base in fams and fams[base].get("type") in ("histogram", "summary"):
                    return base
        return sample

    for n, line in enumerate(text.split("\n")[:-1], 1):
        where = "line %d" % n
        if line == "":
            errs.append("%s: blank line" % where)
            continue
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) < 3 or parts[0] != "#" or parts[1] not in ("HELP", "TYPE"):
                errs.append("%s: comment that is not HELP or TYPE" % where)
                continue
            kind, name = parts[1], parts[2]
            if not NAME.fullmatch(name):
                errs.append("%s: bad metric name %r" % (where, name))
                continue
            f = fams.setdefault(name, {"series": set(), "samples": [], "done": False})
            if name not in order:
                order.append(name)
            if f["done"] or f["samples"]:
                errs.append("%s: %s for %s after its samples or another family" % (where, kind, name))
            if kind in f:
                errs.append("%s: second %s line for %s" % (where, kind, name))
            if kind == "HELP":
                try:
                    f["HELP"] = unescape(parts[3] if len(parts) > 3 else "", False)
                except ValueError as e:
                    errs.append("%s: HELP: %s" % (where, e))
            else:
                t = parts[3] if len(parts) > 3 else ""
                if t not in TYPES:
                    errs.append("%s: unknown type %r" % (where, t))
                f["TYPE"] = f["type"] = t
            if cur is not None and cur != name:
                fams[cur]["done"] = True
            cur = name
            continue
        try:
            sname, labels, value = parse_sample(line)
        except (ValueError, IndexError) as e:
            errs.append("%s: %s: %r" % (where, e, line))
            continue
        fname = family_of(sname)
        f = fams.get(fname)
        if f is None or "TYPE" not in f or "HELP" not in f:
            errs.append("%s: sample %s without HELP and TYPE before it" % (where, sname))
            f = fams.setdefault(fname, {"series": set(), "samples": [], "done": False})
        if f["done"]:
            errs.append("%s: family %s is split (samples after another family)" % (where, fname))
        if cur is not None and cur != fname:
            fams[cur]["done"] = True
        cur = fname
        key = (sname, tuple(sorted(labels.items())))
        if key in f["series"]:
            errs.append("%s: series %s%s twice" % (where, sname, labels))
        f["series"].add(key)
        f["samples"].append((where, sname, labels, value))
        t = f.get("type")
        if t in ("counter", "gauge", "untyped") and sname != fname:
            errs.append("%s: %s sample named %s" % (where, t, sname))
        if t == "counter" and (math.isnan(value) or value < 0):
            errs.append("%s: counter %s is %r" % (where, sname, value))
        if t == "histogram" and sname == fname:
            errs.append("%s: histogram sample without _bucket/_sum/_count" % where)
        if t == "histogram" and sname.endswith("_bucket") and "le" not in labels:
            errs.append("%s: bucket without le" % where)
        if t == "histogram" and not sname.endswith("_bucket") and "le" in labels:
            errs.append("%s: le outside a bucket" % where)

    for name in order:
        f = fams[name]
        if "HELP" not in f or "TYPE" not in f:
            errs.append("%s: HELP or TYPE missing" % name)
        if f.get("type") != "histogram":
            continue
        groups = {}
        for where, sname, labels, value in f["samples"]:
            rest = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
            g = groups.setdefault(rest, {"buckets": [], "sum": None, "count": None})
            if sname.endswith("_bucket"):
                g["buckets"].append((labels.get("le"), value, where))
            elif sname.endswith("_sum"):
                g["sum"] = value
            elif sname.endswith("_count"):
                g["count"] = value
        for rest, g in groups.items():
            label = "%s%s" % (name, dict(rest))
            if g["sum"] is None or g["count"] is None:
                errs.append("%s: _sum or _count missing" % label)
            if not g["buckets"] or g["buckets"][-1][0] != "+Inf":
                errs.append("%s: the last bucket is not le=\"+Inf\"" % label)
                continue
            prev_le, prev_v = -math.inf, 0
            for le, v, where in g["buckets"]:
                try:
                    lv = parse_value(le)
                except ValueError:
                    errs.append("%s: le %r is not a number" % (where, le))
                    continue
                if lv <= prev_le:
                    errs.append("%s: le %s not increasing" % (where, le))
                if v < prev_v:
                    errs.append("%s: bucket le=%s has %r < %r: not cumulative" % (where, le, v, prev_v))
                prev_le, prev_v = lv, v
            if g["count"] is not None and g["buckets"][-1][1] != g["count"]:
                errs.append("%s: +Inf bucket %r != _count %r" % (label, g["buckets"][-1][1], g["count"]))
    return errs


def main():
    text = open(sys.argv[1], "rb").read().decode("utf-8", "replace")
    errs = check(text)
    for e in errs:
        print("promcheck: " + e, file=sys.stderr)
    sys.exit(1 if errs else 0)


if __name__ == "__main__":
    main()

#!/usr/bin/python3
# dkim_canon_golden.py: writes tests/golden/dkim_canon/*.out from *.in with
# dkimpy's canonicalization functions (python3-dkim), an implementation
# independent of hermod's. Run it only when adding a case, then read the
# diff: the .out files are what the unit test and the fuzz seeds trust.
#
# Output format (bytes, CRLF where the canonical form has CRLF):
#   "== headers relaxed\r\n" then each header field in relaxed form,
#   "== body relaxed\r\n" then the relaxed body, "== body simple\r\n" then
#   the simple body. Lines end only with CRLF; a bare LF is an ordinary byte
#   (hermod never sends one; the wire is what verifiers see).
import glob, os, sys
from dkim.canonicalization import Relaxed, Simple

def split(msg):
    fields, off = [], 0
    while off < len(msg):
        if msg.startswith(b"\r\n", off):
            off += 2
            break
        end = msg.find(b"\r\n", off)
        end = len(msg) if end < 0 else end + 2
        line = msg[off:end]
        if fields and line[:1] in (b" ", b"\t"):
            fields[-1] += line
        else:
            fields.append(line)
        off = end
    return fields, msg[off:]

def main(d):
    for path in sorted(glob.glob(os.path.join(d, "*.in"))):
        msg = open(path, "rb").read()
        fields, body = split(msg)
        out = [b"== headers relaxed\r\n"]
        for f in fields:
            if not f.endswith(b"\r\n"):
                f += b"\r\n"
            name, colon, value = f.partition(b":")
            assert colon, path
            [(n, v)] = Relaxed.canonicalize_headers([(name, value)])
            out.append(n + b":" + v)
        out.append(b"== body relaxed\r\n")
        out.append(Relaxed.canonicalize_body(body))
        out.append(b"== body simple\r\n")
        out.append(Simple.canonicalize_body(body))
        open(path[:-3] + ".out", "wb").write(b"".join(out))

main(sys.argv[1] if len(sys.argv) > 1 else "tests/golden/dkim_canon")

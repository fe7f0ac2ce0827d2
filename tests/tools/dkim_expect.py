#!/usr/bin/python3
# dkim_expect.py: reads dkim_verifiers.py output (JSON lines) and checks one
# verifier's verdicts against the expected ones, for shell tests:
#   dkim_expect.py RESULTS dkimpy|mailauth|opendkim pass|fail...
# Exit 0 when every file got the expected verdict from that verifier (every
# signature passes, or none does); 77 when opendkim could not run here.
import json, sys

rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
who, want = sys.argv[2], sys.argv[3:]
if len(rows) != len(want):
    sys.exit("%d results for %d expectations" % (len(rows), len(want)))
for row, w in zip(rows, want):
    if who == "dkimpy":
        v = row["dkimpy"]
        good = len(v) > 0 and all(x == (w == "pass") for x in v)
    elif who == "mailauth":
        v = [m["result"] for m in row["mailauth"]]
        good = len(v) > 0 and all((x == "pass") == (w == "pass") for x in v)
    else:
        v = row["opendkim"]
        if v is None:
            sys.exit(77)
        good = (v == 0) == (w == "pass")
    if not good:
        sys.exit("%s: %s says %s, want %s" % (row["file"], who, v, w))

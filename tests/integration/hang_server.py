#!/usr/bin/python3
"""hang_server: a TCP server that accepts connections, reads what comes and
never answers: the slowest possible webhook endpoint (not a test itself).
It writes the highest number of connections it held at once, and the total,
to --stats after every change.

  hang_server.py --listen 127.0.0.9:PORT --stats FILE
"""
import argparse
import json
import selectors
import socket

ap = argparse.ArgumentParser()
ap.add_argument("--listen", required=True)
ap.add_argument("--stats", required=True)
args = ap.parse_args()
host, port = args.listen.rsplit(":", 1)
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind((host, int(port)))
ls.listen(128)
sel = selectors.DefaultSelector()
sel.register(ls, selectors.EVENT_READ)
now = peak = total = 0


def stats():
    with open(args.stats, "w") as f:
        json.dump({"open": now, "peak": peak, "total": total}, f)


stats()
print("ready", flush=True)
while True:
    for key, _ in sel.select():
        if key.fileobj is ls:
            c, _ = ls.accept()
            sel.register(c, selectors.EVENT_READ)
            now += 1
            total += 1
            peak = max(peak, now)
        else:
            data = key.fileobj.recv(65536)
            if data:
                continue        # read, never answer
            sel.unregister(key.fileobj)
            key.fileobj.close()
            now -= 1
        stats()

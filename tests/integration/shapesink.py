#!/usr/bin/python3
"""shapesink: an SMTP receiver that measures how it is sent to (loopback only).

    shapesink.py --port P --log FILE --site ADDR:NAME[:OPTS] ...

Listens on ADDR:P for each --site and writes one JSON line per event to LOG:
{"ev": "conn", "site", "t", "n"} when a connection opens (n = connections
open at that site now, this one included), {"ev": "close", "site", "t"},
{"ev": "msg", "site", "t", "rcpt": [...], "from"} after each accepted
message, {"ev": "reject", "site", "t", "reply"} for a refused RCPT. OPTS
is a comma list: "slow=MS" delays the reply to the final dot, "throttle=A-B"
answers "421 4.7.28 ..." to every RCPT from second A to second B after the
site's first connection, "busy=A-B" answers "451 4.7.500 Server busy ..."
instead. Times are time.time() floats. asyncio, one thread.
"""
import argparse
import asyncio
import json
import signal
import time

LOG = None
OPEN = {}
FIRST = {}


def log(obj):
    LOG.write(json.dumps(obj) + "\n")
    LOG.flush()


def make_handler(site, opts):
    async def handle(reader, writer):
        now = time.time()
        FIRST.setdefault(site, now)
        OPEN[site] = OPEN.get(site, 0) + 1
        log({"ev": "conn", "site": site, "t": now, "n": OPEN[site]})
        try:
            await session(reader, writer, site, opts)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            OPEN[site] -= 1
            log({"ev": "close", "site": site, "t": time.time()})
            try:
                writer.close()
            except Exception:
                pass
    return handle


async def session(reader, writer, site, opts):
    def send(line):
        writer.write(line.encode() + b"\r\n")

    send("220 %s ESMTP shapesink" % site)
    await writer.drain()
    mail_from, rcpts = None, []
    while True:
        line = await asyncio.wait_for(reader.readline(), 30)
        if not line:
            return
        cmd = line.decode(errors="replace").strip()
        verb = cmd.split(" ", 1)[0].upper()
        if verb in ("EHLO", "HELO"):
            if verb == "EHLO":
                writer.write(b"250-%s\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n"
                             % site.encode())
            else:
                send("250 %s" % site)
        elif verb == "MAIL":
            mail_from, rcpts = cmd[10:].strip(), []
            send("250 2.1.0 Ok")
        elif verb == "RCPT":
            th = opts.get("throttle") or opts.get("busy")
            since = time.time() - FIRST[site]
            if th and th[0] <= since < th[1]:
                if opts.get("busy"):
                    reply = "451 4.7.500 Server busy. Please try again later from [127.0.0.1]. (S77719)"
                else:
                    reply = "421 4.7.28 [127.0.0.1] Our system has detected an unusual rate of unsolicited mail"
                log({"ev": "reject", "site": site, "t": time.time(), "reply": reply})
                send(reply)
            else:
                rcpts.append(cmd[8:].strip())
                send("250 2.1.5 Ok")
        elif verb == "DATA":
            if not rcpts:
                send("554 5.5.1 No valid recipients")
                continue
            send("354 End data with <CR><LF>.<CR><LF>")
            await writer.drain()
            while True:
                l = await asyncio.wait_for(reader.readline(), 30)
                if not l or l in (b".\r\n", b".\n"):
                    break
            if opts.get("slow"):
                await asyncio.sleep(opts["slow"] / 1000.0)
            log({"ev": "msg", "site": site, "t": time.time(), "rcpt": rcpts, "from": mail_from})
            send("250 2.0.0 Ok: queued")
        elif verb == "RSET":
            mail_from, rcpts = None, []
            send("250 2.0.0 Ok")
        elif verb == "NOOP":
            send("250 2.0.0 Ok")
        elif verb == "QUIT":
            send("221 2.0.0 Bye")
            await writer.drain()
            return
        else:
            send("502 5.5.2 Command not recognized")
        await writer.drain()


async def main():
    global LOG
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--site", action="append", required=True)
    a = ap.parse_args()
    LOG = open(a.log, "a")
    servers = []
    for spec in a.site:
        parts = spec.split(":")
        addr, name = parts[0], parts[1]
        opts = {}
        for o in (parts[2].split(",") if len(parts) > 2 and parts[2] else []):
            k, v = o.split("=", 1)
            if k == "slow":
                opts["slow"] = int(v)
            elif k in ("throttle", "busy"):
                x, y = v.split("-")
                opts[k] = (float(x), float(y))
        if not addr.startswith("127."):
            raise SystemExit("loopback only")
        servers.append(await asyncio.start_server(make_handler(name, opts), addr, a.port))
    log({"ev": "ready", "t": time.time()})
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    for s in servers:
        s.close()


if __name__ == "__main__":
    asyncio.run(main())

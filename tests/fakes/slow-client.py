#!/usr/bin/python3
"""slow-client: HTTP clients that hold a server's connections, for testing
its deadlines and limits. Standard library only, independent of our C code.

    slow-client.py drip ADDR [--conns N] [--interval S] [--for S]
                   [--after-request] [--idle]
        Open N connections (at once) that send a request's headers one
        byte every S seconds (default 0.25) and never finish them; with
        --after-request each first sends a whole GET /healthz (kept
        alive) and reads its answer, with --idle sends nothing more. Stop
        when the server has closed every one, or after --for seconds
        (default 8). Prints one line per connection, in the order they
        were opened: "closed SECONDS BYTES" (seconds from connect, or from
        the first answer, until the server closed it; header bytes it
        took), or "open SECONDS
        BYTES" if it was still open at the end, or "refused" if connect()
        failed.

    slow-client.py hold ADDR --conns N --ready FILE --go FILE [--for S]
        Open N connections and send each a complete, signed EventSub
        notification request (HMAC-SHA256 with TWITCH_EVENTSUB_SECRET, as
        twitch-protocols.md 2.4) but its body, which Content-Length
        announces. Once every header is sent, write "ready N" to FILE;
        then wait for FILE --go to exist, send every body, read every
        answer and print "STATUS COUNT" lines (sorted; "closed COUNT" for
        connections closed without an answer). --for bounds the whole run
        (default 30 s); a connection the server closed while it waited is
        counted as "closed".

ADDR is HOST:PORT ("[::1]:8081" for IPv6).
"""
import argparse
import hashlib
import hmac
import json
import os
import resource
import selectors
import socket
import sys
import time


def readable(socks, timeout):
    """The sockets of socks that are readable within timeout seconds
    (epoll where there is one: select() stops at descriptor 1023)."""
    with selectors.DefaultSelector() as sel:
        for k in socks:
            sel.register(k, selectors.EVENT_READ)
        return {key.fileobj for key, _ in sel.select(timeout)}


def raise_nofile():
    """Soft limit on descriptors up to the hard one, for --conns > 1000."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def parse_addr(s):
    host, _, port = s.rpartition(":")
    return host.strip("[]"), int(port)


def connect(addr):
    s = socket.create_connection(addr, timeout=5)
    s.setblocking(False)
    return s


def peer_closed(s):
    """True when the server closed (FIN or RST) the connection."""
    try:
        data = s.recv(4096)
    except BlockingIOError:
        return False
    except OSError:
        return True
    return data == b""


def first_request(s):
    """A kept-alive GET /healthz; returns once its answer is read."""
    s.setblocking(True)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    got = b""
    while b"\r\n\r\n" not in got:
        data = s.recv(4096)
        if not data:
            raise OSError("closed before answering")
        got += data
    head, _, rest = got.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            n = int(line.split(b":")[1])
            while len(rest) < n:
                rest += s.recv(4096)
    s.setblocking(False)


def drip(args):
    addr = parse_addr(args.addr)
    # A request that never ends: a long header, one byte at a time.
    head = (b"POST /eventsub HTTP/1.1\r\nHost: x\r\nX-Pad: " +
            b"a" * 100000)
    conns = []
    for _ in range(args.conns):
        try:
            s = connect(addr)
            if args.after_request:
                first_request(s)
            conns.append({"s": s, "t0": time.monotonic(), "sent": 0,
                          "end": None})
        except OSError:
            conns.append(None)
    end = time.monotonic() + args.seconds
    next_byte = end if args.idle else time.monotonic()
    while time.monotonic() < end:
        live = [c for c in conns if c is not None and c["end"] is None]
        if not live:
            break
        now = time.monotonic()
        if now >= next_byte and not args.idle:
            next_byte = now + args.interval
            for c in live:
                try:
                    c["s"].send(head[c["sent"]:c["sent"] + 1])
                    c["sent"] += 1
                except OSError:
                    c["end"] = time.monotonic()
        live = [c for c in live if c["end"] is None]
        if not live:
            break
        r = readable([c["s"] for c in live],
                     max(0.0, min(next_byte, end) - time.monotonic()))
        for c in live:
            if c["s"] in r and peer_closed(c["s"]):
                c["end"] = time.monotonic()
    now = time.monotonic()
    for c in conns:
        if c is None:
            print("refused")
        elif c["end"] is None:
            print("open %.2f %d" % (now - c["t0"], c["sent"]))
        else:
            print("closed %.2f %d" % (c["end"] - c["t0"], c["sent"]))
        if c is not None:
            c["s"].close()


def hold(args):
    addr = parse_addr(args.addr)
    secret = os.environ["TWITCH_EVENTSUB_SECRET"].encode()
    deadline = time.monotonic() + args.seconds
    ts = time.strftime("%Y-%m-%dT%H:%M:%S.000000000Z", time.gmtime())
    nonce = os.urandom(4).hex()
    conns = []
    for i in range(args.conns):
        mid = "%s-0000-4000-8000-%012d" % (nonce, i)
        body = json.dumps({
            "subscription": {
                "id": "s", "status": "enabled", "type": "channel.cheer",
                "version": "1", "condition": {"broadcaster_user_id": "1"},
                "transport": {"method": "webhook", "callback": "x"},
                "created_at": "x", "cost": 0},
            "event": {"n": i}}).encode()
        sig = hmac.new(secret, mid.encode() + ts.encode() + body,
                       hashlib.sha256).hexdigest()
        head = ("POST /eventsub HTTP/1.1\r\nHost: x\r\n"
                "Content-Type: application/json\r\n"
                "Content-Length: %d\r\n"
                "Twitch-Eventsub-Message-Id: %s\r\n"
                "Twitch-Eventsub-Message-Retry: 0\r\n"
                "Twitch-Eventsub-Message-Type: notification\r\n"
                "Twitch-Eventsub-Message-Timestamp: %s\r\n"
                "Twitch-Eventsub-Message-Signature: sha256=%s\r\n"
                "Twitch-Eventsub-Subscription-Type: channel.cheer\r\n"
                "Twitch-Eventsub-Subscription-Version: 1\r\n"
                "\r\n" % (len(body), mid, ts, sig)).encode()
        s = socket.create_connection(addr, timeout=5)
        s.sendall(head)
        conns.append({"s": s, "body": body, "resp": b"", "status": None})
    with open(args.ready + ".tmp", "w") as f:
        f.write("ready %d\n" % len(conns))
    os.rename(args.ready + ".tmp", args.ready)
    while not os.path.exists(args.go):
        if time.monotonic() > deadline:
            sys.exit("slow-client: no go within --for")
        time.sleep(0.02)
    for c in conns:
        try:
            c["s"].sendall(c["body"])
        except OSError:
            c["status"] = "closed"
        c["s"].setblocking(False)
    pending = [c for c in conns if c["status"] is None]
    while pending and time.monotonic() < deadline:
        r = readable([c["s"] for c in pending],
                     max(0.0, deadline - time.monotonic()))
        for c in pending:
            if c["s"] not in r:
                continue
            try:
                data = c["s"].recv(4096)
            except OSError:
                data = b""
            c["resp"] += data
            if b"\r\n" in c["resp"]:
                c["status"] = c["resp"].split(b" ", 2)[1].decode()
            elif not data:
                c["status"] = "closed"
        pending = [c for c in pending if c["status"] is None]
    counts = {}
    for c in conns:
        k = c["status"] or "timeout"
        counts[k] = counts.get(k, 0) + 1
        c["s"].close()
    for k in sorted(counts):
        print("%s %d" % (k, counts[k]))


def main():
    raise_nofile()
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="mode", required=True)
    d = sub.add_parser("drip")
    d.add_argument("addr")
    d.add_argument("--conns", type=int, default=1)
    d.add_argument("--interval", type=float, default=0.25)
    d.add_argument("--for", dest="seconds", type=float, default=8)
    d.add_argument("--after-request", action="store_true")
    d.add_argument("--idle", action="store_true")
    h = sub.add_parser("hold")
    h.add_argument("addr")
    h.add_argument("--conns", type=int, required=True)
    h.add_argument("--ready", required=True)
    h.add_argument("--go", required=True)
    h.add_argument("--for", dest="seconds", type=float, default=30)
    args = ap.parse_args()
    if args.mode == "drip":
        drip(args)
    else:
        hold(args)


if __name__ == "__main__":
    main()

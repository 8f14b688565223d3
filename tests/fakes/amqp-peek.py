#!/usr/bin/python3
"""amqp-peek: take one message from a queue with basic.get and print its
properties and body as one JSON object, so tests can check what amqp-pub
really sent. A minimal AMQP 0-9-1 client written from the specification,
independent of rabbitmq-c and of our C code.

    amqp-peek.py [--host 127.0.0.1] [--port 5672] [--user guest]
                 [--password guest] QUEUE

Prints {"properties": {...}, "body": "...", "routing_key": "..."}, or
exits 1 when the queue is empty.
"""
import argparse
import json
import socket
import struct
import sys

FRAME_METHOD, FRAME_HEADER, FRAME_BODY = 1, 2, 3
FRAME_END = b"\xce"


class Conn:
    def __init__(self, host, port):
        self.s = socket.create_connection((host, port), 10)
        self.buf = b""

    def read(self, n):
        while len(self.buf) < n:
            data = self.s.recv(65536)
            if not data:
                raise SystemExit("amqp-peek: connection closed")
            self.buf += data
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def frame(self):
        ftype, channel, size = struct.unpack(">BHI", self.read(7))
        payload = self.read(size)
        if self.read(1) != FRAME_END:
            raise SystemExit("amqp-peek: bad frame end")
        if ftype == 8:  # heartbeat
            return self.frame()
        return ftype, channel, payload

    def method(self, expect):
        ftype, _, p = self.frame()
        cls, meth = struct.unpack(">HH", p[:4])
        if (cls, meth) == (10, 50) or (cls, meth) == (20, 40):
            code = struct.unpack(">H", p[4:6])[0]
            raise SystemExit("amqp-peek: closed by the broker: %d %s" % (code, shortstr(p, 6)[0]))
        if ftype != FRAME_METHOD or (cls, meth) not in expect:
            raise SystemExit("amqp-peek: unexpected %d %d.%d" % (ftype, cls, meth))
        return (cls, meth), p[4:]

    def send(self, channel, cls, meth, args=b""):
        payload = struct.pack(">HH", cls, meth) + args
        self.s.sendall(struct.pack(">BHI", FRAME_METHOD, channel, len(payload)) + payload + FRAME_END)


def sstr(s):
    b = s.encode()
    return struct.pack(">B", len(b)) + b


def lstr(b):
    return struct.pack(">I", len(b)) + b


def shortstr(p, i):
    n = p[i]
    return p[i + 1:i + 1 + n].decode(), i + 1 + n


# basic class properties, in flag order (bit 15 first)
PROPS = [
    ("content_type", "s"), ("content_encoding", "s"), ("headers", "t"),
    ("delivery_mode", "o"), ("priority", "o"), ("correlation_id", "s"),
    ("reply_to", "s"), ("expiration", "s"), ("message_id", "s"),
    ("timestamp", "q"), ("type", "s"), ("user_id", "s"), ("app_id", "s"),
    ("cluster_id", "s"),
]


def properties(p):
    flags = struct.unpack(">H", p[12:14])[0]
    i, out = 14, {}
    for bit, (name, kind) in zip(range(15, 1, -1), PROPS):
        if not flags & (1 << bit):
            continue
        if kind == "s":
            out[name], i = shortstr(p, i)
        elif kind == "o":
            out[name] = p[i]
            i += 1
        elif kind == "q":
            out[name] = struct.unpack(">Q", p[i:i + 8])[0]
            i += 8
        else:  # a table: skipped
            n = struct.unpack(">I", p[i:i + 4])[0]
            out[name] = "(table of %d bytes)" % n
            i += 4 + n
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=5672)
    ap.add_argument("--user", default="guest")
    ap.add_argument("--password", default="guest")
    ap.add_argument("queue")
    a = ap.parse_args()

    c = Conn(a.host, a.port)
    c.s.sendall(b"AMQP\x00\x00\x09\x01")
    c.method({(10, 10)})
    resp = b"\x00" + a.user.encode() + b"\x00" + a.password.encode()
    c.send(0, 10, 11, struct.pack(">I", 0) + sstr("PLAIN") + lstr(resp) + sstr("en_US"))
    _, tune = c.method({(10, 30)})
    chmax, fmax, _ = struct.unpack(">HIH", tune[:8])
    c.send(0, 10, 31, struct.pack(">HIH", chmax, fmax, 0))
    c.send(0, 10, 40, sstr("/") + sstr("") + b"\x00")
    c.method({(10, 41)})
    c.send(1, 20, 10, sstr(""))
    c.method({(20, 11)})
    c.send(1, 60, 70, struct.pack(">H", 0) + sstr(a.queue) + b"\x01")
    m, args = c.method({(60, 71), (60, 72)})
    if m == (60, 72):
        print("amqp-peek: queue is empty", file=sys.stderr)
        return 1
    i = 8 + 1  # delivery tag, redelivered
    _, i = shortstr(args, i)  # exchange
    key, i = shortstr(args, i)
    ftype, _, hdr = c.frame()
    if ftype != FRAME_HEADER:
        raise SystemExit("amqp-peek: no content header")
    size = struct.unpack(">Q", hdr[4:12])[0]
    body = b""
    while len(body) < size:
        ftype, _, part = c.frame()
        body += part
    c.send(0, 10, 50, struct.pack(">H", 200) + sstr("bye") + struct.pack(">HH", 0, 0))
    c.method({(10, 51)})
    print(json.dumps({"properties": properties(hdr), "routing_key": key,
                      "body": body.decode("utf-8", "replace")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

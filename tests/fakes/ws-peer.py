#!/usr/bin/python3
"""WebSocket peer for the tests, independent of our C code.

  ws-peer.py server [options]   a WebSocket server (python3-websockets), or a
                                raw RFC 6455 server that sends bad frames
  ws-peer.py client URL [opts]  a WebSocket client (python3-websockets)
  ws-peer.py raw HOST:PORT      a TCP client that sends exact bytes

Observations go to stdout, one per line, so bats can assert on them:
  msg TEXT / bin HEX            a message received
  pong                          our ping was answered
  ping                          a ping frame arrived (raw mode)
  close CODE REASON             the close frame received (code 1005: none)
  status LINE                   the HTTP status line of an answer (raw)
"""
import argparse
import asyncio
import base64
import hashlib
import os
import signal
import socket
import ssl
import struct
import sys
import time

import websockets

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def out(*parts):
    print(*parts, flush=True)


def split_hostport(s):
    if s.startswith("["):
        host, _, port = s[1:].partition("]:")
    else:
        host, _, port = s.rpartition(":")
    return host, int(port)


def write_port_file(path, sock):
    host, port = sock.getsockname()[:2]
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(f"{host}:{port}\n" if ":" not in host else f"[{host}]:{port}\n")
    os.rename(tmp, path)


def frame(opcode, payload=b"", fin=True, mask=None):
    """Encode one frame; mask is 4 bytes or None."""
    b0 = (0x80 if fin else 0) | opcode
    n = len(payload)
    m = 0x80 if mask is not None else 0
    if n < 126:
        head = struct.pack("!BB", b0, m | n)
    elif n < 65536:
        head = struct.pack("!BBH", b0, m | 126, n)
    else:
        head = struct.pack("!BBQ", b0, m | 127, n)
    if mask is not None:
        payload = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
        head += mask
    return head + payload


def read_frames(sock, deadline):
    """Yield (opcode, payload) from a socket until EOF or the deadline."""
    buf = b""
    while True:
        while True:
            if len(buf) >= 2:
                n = buf[1] & 0x7F
                off = 2
                if n == 126 and len(buf) >= 4:
                    n = struct.unpack("!H", buf[2:4])[0]
                    off = 4
                elif n == 127 and len(buf) >= 10:
                    n = struct.unpack("!Q", buf[2:10])[0]
                    off = 10
                elif n >= 126:
                    break
                key = None
                if buf[1] & 0x80:
                    key = buf[off:off + 4]
                    off += 4
                if len(buf) >= off + n:
                    payload = buf[off:off + n]
                    if key is not None:
                        payload = bytes(c ^ key[i % 4]
                                        for i, c in enumerate(payload))
                    yield buf[0] & 0x0F, payload
                    buf = buf[off + n:]
                    continue
            break
        left = deadline - time.monotonic()
        if left <= 0:
            return
        sock.settimeout(left)
        try:
            data = sock.recv(65536)
        except (socket.timeout, ConnectionError):
            return
        if not data:
            return
        buf += data


def report_close(payload):
    if len(payload) >= 2:
        code = struct.unpack("!H", payload[:2])[0]
        out("close", code, payload[2:].decode("utf-8", "replace"))
    else:
        out("close", 1005, "")


# ---- server ----------------------------------------------------------------

async def ws_server(a):
    ctx = None
    if a.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.tls_cert, a.tls_key)

    async def handler(ws, path=None):
        out("path", path if path is not None else ws.path)
        for h in a.show_header:
            out("header", h, ws.request_headers.get(h, ""))
        for t in a.send:
            await ws.send(t)
        for t in a.fragment:
            await ws.send(iter(t.split("|")))
        for h in a.send_binary:
            await ws.send(bytes.fromhex(h))
        if a.stream:
            n = 0
            try:
                while True:
                    n += 1
                    await ws.send(f"tick {n}")
                    await asyncio.sleep(0.05)
            except websockets.ConnectionClosed:
                pass
        if a.ping:
            pong = await ws.ping(b"are you there")
            try:
                await asyncio.wait_for(pong, 5)
                out("pong")
            except asyncio.TimeoutError:
                out("no pong")
        if a.echo:
            try:
                async for m in ws:
                    await ws.send(m)
            except websockets.ConnectionClosed:
                pass
        if a.recv:
            try:
                for _ in range(a.recv):
                    m = await ws.recv()
                    out("msg", m if isinstance(m, str) else m.hex())
            except websockets.ConnectionClosed:
                pass
        if a.close is not None:
            await ws.close(a.close, a.reason)
        else:
            await ws.wait_closed()
        out("close", ws.close_code, ws.close_reason)

    host, port = split_hostport(a.listen)
    async with websockets.serve(handler, host, port, ssl=ctx,
                                ping_interval=None) as srv:
        if a.port_file:
            write_port_file(a.port_file, srv.sockets[0])
        await asyncio.Future()


def raw_server(a):
    """Own handshake, then exact bytes: for peers that break RFC 6455."""
    host, port = split_hostport(a.listen)
    ls = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((host, port))
    ls.listen(8)
    if a.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.tls_cert, a.tls_key)
        ls = ctx.wrap_socket(ls, server_side=True)
    if a.port_file:
        write_port_file(a.port_file, ls)
    while True:
        try:
            c, _ = ls.accept()
        except (ssl.SSLError, OSError):
            continue
        req = b""
        while b"\r\n\r\n" not in req:
            d = c.recv(4096)
            if not d:
                break
            req += d
        key = ""
        for line in req.decode("latin-1").split("\r\n"):
            if line.lower().startswith("sec-websocket-key:"):
                key = line.split(":", 1)[1].strip()
        accept = base64.b64encode(
            hashlib.sha1((key + GUID).encode()).digest()).decode()
        if a.bad_accept:
            accept = base64.b64encode(b"x" * 20).decode()
        if a.status:
            resp = f"HTTP/1.1 {a.status} Nope\r\nContent-Length: 0\r\n"
            if a.location:
                resp += f"Location: {a.location}\r\n"
            resp += "\r\n"
        else:
            resp = ("HTTP/1.1 101 Switching Protocols\r\n"
                    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                    f"Sec-WebSocket-Accept: {accept}\r\n\r\n")
        data = resp.encode()
        for h in a.raw:
            data += bytes.fromhex(h)
        for t in a.raw_masked:
            data += frame(1, t.encode(), mask=os.urandom(4))
        c.sendall(data)
        if a.hangup:
            c.close()
            continue
        for opcode, payload in read_frames(c, time.monotonic() + 3):
            if opcode == 8:
                report_close(payload)
                break
        c.close()


# ---- client ----------------------------------------------------------------

async def ws_client(a):
    ctx = None
    if a.url.startswith("wss:"):
        ctx = ssl.create_default_context(cafile=a.cafile)
    hdrs = {}
    if a.origin:
        hdrs["Origin"] = a.origin
    try:
        ws = await websockets.connect(a.url, ssl=ctx, ping_interval=None,
                                      extra_headers=hdrs,
                                      max_size=a.max_size,
                                      open_timeout=10)
    except websockets.InvalidStatusCode as ex:
        out("status", ex.status_code)
        return 1
    out("open")
    if a.wait_before_read:
        await asyncio.sleep(a.wait_before_read)
    for t in a.send:
        await ws.send(t)
    for t in a.fragment:
        await ws.send(iter(t.split("|")))
    if a.ping:
        pong = await ws.ping(b"hello")
        try:
            await asyncio.wait_for(pong, 5)
            out("pong")
        except asyncio.TimeoutError:
            out("no pong")
    try:
        for _ in range(a.count):
            m = await asyncio.wait_for(ws.recv(), a.timeout)
            out("msg", m if isinstance(m, str) else m.hex())
        if a.close is not None:
            await ws.close(a.close, a.reason)
        else:
            await asyncio.wait_for(ws.wait_closed(), a.timeout)
    except (websockets.ConnectionClosed, asyncio.TimeoutError):
        pass
    out("close", ws.close_code, ws.close_reason)
    return 0


def raw_client(a):
    host, port = split_hostport(a.addr)
    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    if a.rcvbuf:
        # before connect, so the advertised window stays small
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, a.rcvbuf)
    s.settimeout(5)
    s.connect((host, port))
    if a.handshake:
        key = base64.b64encode(os.urandom(16)).decode()
        s.sendall((f"GET {a.path} HTTP/1.1\r\nHost: {a.addr}\r\n"
                   "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                   f"Sec-WebSocket-Key: {key}\r\n"
                   "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            d = s.recv(1)
            if not d:
                break
            head += d
        out("status", head.split(b"\r\n", 1)[0].decode("latin-1"))
    data = b""
    if a.send is not None:
        data += a.send.encode("latin-1").decode("unicode_escape").encode(
            "latin-1")
    for h in a.frame:
        data += bytes.fromhex(h)
    for t in a.masked_text:
        data += frame(1, t.encode(), mask=os.urandom(4))
    if data and a.trickle:
        for i in range(len(data)):
            s.sendall(data[i:i + 1])
            time.sleep(0.002)
    elif data:
        s.sendall(data)
    if a.sleep:
        time.sleep(a.sleep)
    if a.wait_file:
        # read nothing until the test says so
        end = time.monotonic() + 30
        while not os.path.exists(a.wait_file) and time.monotonic() < end:
            time.sleep(0.05)
    deadline = time.monotonic() + a.timeout
    if not a.handshake:
        resp = b""
        s.settimeout(a.timeout)
        try:
            while True:
                d = s.recv(65536)
                if not d:
                    break
                resp += d
        except (socket.timeout, ConnectionError):
            pass
        first = resp.split(b"\r\n", 1)[0].decode("latin-1")
        out("status", first if first else "(none)")
        return 0
    msgs = 0
    for opcode, payload in read_frames(s, deadline):
        if opcode == 8:
            report_close(payload)
            if a.answer_close:
                s.sendall(frame(8, payload[:2], mask=os.urandom(4)))
            return 0
        if opcode == 9:
            out("ping")
            if a.pong:
                s.sendall(frame(10, payload, mask=os.urandom(4)))
        elif opcode == 1:
            out("msg", payload.decode("utf-8", "replace"))
            msgs += 1
            if a.until is not None and a.until in payload.decode(
                    "utf-8", "replace"):
                return 0
            if a.count and msgs == a.count:
                if a.then_text is None:
                    return 0
                # one more request once these are in: anything still
                # owed for the first ones arrives before its answer
                s.sendall(frame(1, a.then_text.encode(), mask=os.urandom(4)))
    out("eof")
    return 0


def main():
    # a test stopping us (SIGTERM) is a normal end
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    p = argparse.ArgumentParser(prog="ws-peer.py")
    sub = p.add_subparsers(dest="mode", required=True)

    s = sub.add_parser("server")
    s.add_argument("--listen", default="127.0.0.1:0")
    s.add_argument("--port-file")
    s.add_argument("--tls-cert")
    s.add_argument("--tls-key")
    s.add_argument("--send", action="append", default=[])
    s.add_argument("--fragment", action="append", default=[],
                   help="a message sent in fragments split at |")
    s.add_argument("--send-binary", action="append", default=[])
    s.add_argument("--ping", action="store_true")
    s.add_argument("--echo", action="store_true")
    s.add_argument("--recv", type=int, default=0)
    s.add_argument("--close", type=int)
    s.add_argument("--reason", default="")
    s.add_argument("--show-header", action="append", default=[])
    s.add_argument("--raw", action="append", default=[],
                   help="raw mode: hex bytes sent after the 101")
    s.add_argument("--raw-masked", action="append", default=[],
                   help="raw mode: a masked text frame (servers must not)")
    s.add_argument("--hangup", action="store_true",
                   help="raw mode: close TCP right after the 101")
    s.add_argument("--stream", action="store_true",
                   help="send 'tick N' every 50 ms until closed")
    s.add_argument("--raw-mode", action="store_true")
    s.add_argument("--bad-accept", action="store_true")
    s.add_argument("--status", type=int)
    s.add_argument("--location")

    c = sub.add_parser("client")
    c.add_argument("url")
    c.add_argument("--cafile")
    c.add_argument("--origin")
    c.add_argument("--count", type=int, default=0)
    c.add_argument("--send", action="append", default=[])
    c.add_argument("--fragment", action="append", default=[])
    c.add_argument("--ping", action="store_true")
    c.add_argument("--close", type=int)
    c.add_argument("--reason", default="")
    c.add_argument("--timeout", type=float, default=10)
    c.add_argument("--wait-before-read", type=float, default=0)
    c.add_argument("--max-size", type=int, default=2**20)

    r = sub.add_parser("raw")
    r.add_argument("addr")
    r.add_argument("--handshake", action="store_true")
    r.add_argument("--path", default="/")
    r.add_argument("--send", help="bytes, with Python escapes")
    r.add_argument("--frame", action="append", default=[], help="hex")
    r.add_argument("--masked-text", action="append", default=[])
    r.add_argument("--pong", action="store_true")
    r.add_argument("--answer-close", action="store_true")
    r.add_argument("--rcvbuf", type=int, default=0)
    r.add_argument("--sleep", type=float, default=0)
    r.add_argument("--trickle", action="store_true",
                   help="send one byte at a time")
    r.add_argument("--wait-file", help="read nothing until FILE exists")
    r.add_argument("--timeout", type=float, default=5)
    r.add_argument("--count", type=int, default=0,
                   help="return after N text messages (default: at --timeout)")
    r.add_argument("--then-text", help="after --count messages, send this "
                   "masked text frame and go on reading")
    r.add_argument("--until", help="return after a text message containing "
                   "this")

    a = p.parse_args()
    if a.mode == "server":
        if a.raw_mode or a.raw or a.raw_masked or a.hangup or \
                a.bad_accept or a.status:
            raw_server(a)
        else:
            asyncio.run(ws_server(a))
        return 0
    if a.mode == "client":
        return asyncio.run(ws_client(a))
    return raw_client(a)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(0)

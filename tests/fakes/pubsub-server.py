#!/usr/bin/python3
"""A fake legacy Twitch PubSub server (pubsub-edge.twitch.tv), ws:// or wss://.

Written from twitch-protocols.md section 4, independent of our C code.
It answers every LISTEN with a RESPONSE carrying the client's nonce (""
on success, ERR_BADAUTH for a token other than --token, ERR_BADTOPIC for
a topic it does not know, ERR_BADMESSAGE for a frame it cannot read),
answers PING with PONG, and then replays a capture: --replay FILE holds
one server frame per line, as Twitch sent them; a MESSAGE is sent once
its data.topic has been LISTENed, any other line (garbage included) as
it is.

The replay starts once --listens N LISTENs (default 1) have been
answered on the connection, so which topics count is not a matter of
timing: the client sends one LISTEN per topic.

Scenarios: --no-pong (PINGs go unanswered), --reconnect-after N (the
first connection sends RECONNECT after N replayed frames and then the
rest), --no-response (LISTEN is never answered), --error ERR (every
LISTEN fails with ERR).

Everything is logged to --log as JSON lines: {"conn": N, "event":
"connect"|"listen"|"ping"|"frame"|"sent"|"closed", ...}; LISTEN is logged
with its nonce and topics and "auth_ok", never with the token.
"""
import argparse
import asyncio
import json
import os
import ssl
import time

import websockets

TOPICS = ("channel-subscribe-events-v1.", "channel-bits-events-v1.",
          "channel-bits-events-v2.", "channel-points-channel-v1.")

ap = argparse.ArgumentParser()
ap.add_argument("--listen", default="127.0.0.1:0")
ap.add_argument("--port-file", required=True)
ap.add_argument("--tls-cert")
ap.add_argument("--tls-key")
ap.add_argument("--token", required=True, help="the valid auth_token")
ap.add_argument("--replay", help="server frames to send, one per line")
ap.add_argument("--log", required=True)
ap.add_argument("--no-pong", action="store_true")
ap.add_argument("--no-response", action="store_true")
ap.add_argument("--error", help="answer every LISTEN with this error")
ap.add_argument("--reconnect-after", type=int, default=-1)
ap.add_argument("--listens", type=int, default=1,
                help="replay once this many LISTENs have succeeded")
args = ap.parse_args()

logf = open(args.log, "a", buffering=1)
conns = 0
frames = []
if args.replay:
    with open(args.replay, encoding="utf-8") as f:
        frames = [line.rstrip("\n") for line in f if line.strip()]


def log(conn, event, **kw):
    kw.update({"t": round(time.monotonic(), 3), "conn": conn,
               "event": event})
    logf.write(json.dumps(kw) + "\n")


def topic_of(line):
    try:
        o = json.loads(line)
        return o["data"]["topic"] if o.get("type") == "MESSAGE" else None
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


async def replay(ws, conn, listened):
    sent = 0
    for line in frames:
        t = topic_of(line)
        if t is not None and t not in listened:
            continue
        if conn == 1 and sent == args.reconnect_after:
            await ws.send(json.dumps({"type": "RECONNECT"}))
            log(conn, "sent", kind="RECONNECT")
        await ws.send(line)
        sent += 1
        log(conn, "sent", kind="frame", topic=t)
    log(conn, "replayed", count=sent)


async def handler(ws, path=None):
    global conns
    conns += 1
    conn = conns
    listened = set()
    replaying = None
    ok_listens = 0
    log(conn, "connect", path=path or getattr(ws, "path", None))
    try:
        async for frame in ws:
            try:
                msg = json.loads(frame)
                kind = msg["type"]
            except (ValueError, KeyError, TypeError):
                log(conn, "frame", ok=False)
                await ws.send(json.dumps({"type": "RESPONSE", "nonce": "",
                                          "error": "ERR_BADMESSAGE"}))
                continue
            if kind == "PING":
                log(conn, "ping")
                if not args.no_pong:
                    await ws.send(json.dumps({"type": "PONG"}))
            elif kind == "LISTEN":
                data = msg.get("data") or {}
                topics = data.get("topics") or []
                ok = data.get("auth_token") == args.token
                log(conn, "listen", nonce=msg.get("nonce"), topics=topics,
                    auth_ok=ok)
                if args.no_response:
                    continue
                err = args.error or ""
                if not ok:
                    err = "ERR_BADAUTH"
                elif not topics or any(not t.startswith(TOPICS)
                                       for t in topics):
                    err = "ERR_BADTOPIC"
                await ws.send(json.dumps({"type": "RESPONSE",
                                          "nonce": msg.get("nonce", ""),
                                          "error": err}))
                if err:
                    continue
                listened.update(topics)
                ok_listens += 1
                if ok_listens == args.listens:
                    replaying = asyncio.ensure_future(
                        replay(ws, conn, set(listened)))
            else:
                log(conn, "frame", kind=kind)
                await ws.send(json.dumps({"type": "RESPONSE",
                                          "nonce": msg.get("nonce", ""),
                                          "error": "ERR_BADMESSAGE"}))
    except websockets.ConnectionClosed:
        pass
    finally:
        if replaying is not None:
            replaying.cancel()
        log(conn, "closed", code=ws.close_code)


async def main():
    host, _, port = args.listen.rpartition(":")
    ctx = None
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
    async with websockets.serve(handler, host.strip("[]"), int(port),
                                ssl=ctx, ping_interval=None,
                                max_size=2 ** 20) as server:
        addr = server.sockets[0].getsockname()
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%s:%d\n" % (addr[0], addr[1]))
        os.replace(tmp, args.port_file)
        await asyncio.Future()


try:
    asyncio.run(main())
except KeyboardInterrupt:
    pass

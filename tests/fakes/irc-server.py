#!/usr/bin/python3
"""A fake Twitch chat server: IRC over WebSocket (ws:// or wss://).

Written from twitch-protocols.md section 5, independent of our C code. It
checks the login sequence (CAP REQ, optional PASS oauth:TOKEN, NICK),
answers 001-376 or the login-failure NOTICE, answers JOIN with JOIN, 353,
366, USERSTATE and ROOMSTATE, then replays recorded lines for the joined
channels, batching several lines per frame as Twitch does. Scenarios for
tests: PING the client and expect PONG, send RECONNECT, drop the
connection without a close frame, or refuse the login.

Tokens: --token TOKEN --login LOGIN accepts that one token for that
NICK; --id-url URL instead asks the (fake) id server, as Twitch does:
GET URL/oauth2/validate with "Authorization: OAuth TOKEN", and the NICK
must be the login the token belongs to. --refuse-logins N refuses the
first N logins whatever they send (a token revoked since the client
validated it).

Every line a client sends is logged as JSON to --log:
  {"conn": N, "line": "JOIN #glowcaster"}
and server-side events as {"conn": N, "event": "..."}. PASS lines are
logged as "PASS ***" with "pass_ok" telling whether the token matched
(with --id-url: whether the id server knew it). Each NICK is followed by
{"event": "login", "nick": NICK, "token_login": LOGIN or null, "ok": B}.
"""
import argparse
import asyncio
import json
import os
import ssl
import time
import urllib.error
import urllib.request

import websockets

ap = argparse.ArgumentParser()
ap.add_argument("--listen", default="127.0.0.1:0")
ap.add_argument("--port-file")
ap.add_argument("--tls-cert")
ap.add_argument("--tls-key")
ap.add_argument("--replay", help="IRC lines to send after JOIN")
ap.add_argument("--token", help="the valid user token (PASS oauth:TOKEN)")
ap.add_argument("--login", default="glowcaster_bot", help="login the token belongs to")
ap.add_argument("--id-url", help="validate tokens at this id server instead of --token")
ap.add_argument("--refuse-logins", type=int, default=0,
                help="refuse the first N logins, whatever the token")
ap.add_argument("--ping", action="store_true", help="PING after login, log the PONG")
ap.add_argument("--drop-after", type=int, default=-1,
                help="first connection: drop TCP (no close frame) after N replayed lines")
ap.add_argument("--reconnect-after", type=int, default=-1,
                help="first connection: send RECONNECT after N replayed lines")
ap.add_argument("--batch", type=int, default=3, help="lines per frame")
ap.add_argument("--log", required=True)
args = ap.parse_args()

logf = open(args.log, "a", buffering=1)
conn_count = 0
replay_lines = []
if args.replay:
    with open(args.replay, encoding="utf-8", errors="surrogateescape") as f:
        replay_lines = [l.rstrip("\r\n") for l in f if l.strip()]


def log(conn, **kw):
    kw["conn"] = conn
    kw["t"] = round(time.monotonic(), 3)
    logf.write(json.dumps(kw) + "\n")


def channel_of(line):
    """The channel (or user, for whispers like jtv's) a recorded line targets."""
    rest = line
    if rest.startswith("@"):
        rest = rest.split(" ", 1)[1] if " " in rest else ""
    if rest.startswith(":"):
        rest = rest.split(" ", 1)[1] if " " in rest else ""
    parts = rest.split(" ")
    if len(parts) >= 2:
        target = parts[1]
        return target[1:] if target.startswith("#") else target
    return None


async def send_lines(ws, lines):
    for i in range(0, len(lines), args.batch):
        await ws.send("".join(l + "\r\n" for l in lines[i:i + args.batch]))


refused = 0


def validate(token):
    """The login the id server says the token belongs to, or None."""
    rq = urllib.request.Request(args.id_url.rstrip("/") + "/oauth2/validate",
                                headers={"Authorization": "OAuth " + token})
    try:
        with urllib.request.urlopen(rq, timeout=5) as r:
            return json.load(r).get("login")
    except (urllib.error.URLError, OSError, ValueError):
        return None


async def token_login(token):
    """The login a PASS "oauth:TOKEN" stands for, or None."""
    if token is None or not token.startswith("oauth:"):
        return None
    if args.id_url:
        return await asyncio.to_thread(validate, token[6:])
    return args.login if args.token is not None and token == "oauth:" + args.token else None


async def login_ok(conn, token, nick):
    global refused
    login = await token_login(token)
    if token is None:
        ok = nick.startswith("justinfan")
    else:
        ok = login is not None and nick == login
    if refused < args.refuse_logins:
        refused += 1
        ok = False
    log(conn, event="login", nick=nick, token_login=login, ok=ok)
    return ok


async def handler(ws, path=None):
    global conn_count
    conn_count += 1
    conn = conn_count
    log(conn, event="connect", path=path or getattr(ws, "path", None))
    nick = None
    token = None
    caps = False
    sent = 0
    try:
        async for frame in ws:
            if isinstance(frame, bytes):
                log(conn, event="binary frame")
                await ws.close(1003, "text only")
                return
            for line in frame.split("\r\n"):
                if not line:
                    continue
                if line.startswith("PASS "):
                    log(conn, line="PASS ***",
                        pass_ok=await token_login(line[5:]) is not None)
                else:
                    log(conn, line=line)
                cmd, _, rest = line.partition(" ")
                if cmd == "CAP":
                    caps = True
                    await ws.send(":tmi.twitch.tv CAP * ACK :%s\r\n" % rest.split(":", 1)[-1])
                elif cmd == "PASS":
                    token = rest
                elif cmd == "NICK":
                    nick = rest
                    if not await login_ok(conn, token, nick):
                        log(conn, event="login refused")
                        await ws.send(":tmi.twitch.tv NOTICE * :Login authentication failed\r\n")
                        await ws.close()
                        return
                    welcome = [":tmi.twitch.tv %s %s :%s" % (n, nick, t) for n, t in
                               (("001", "Welcome, GLHF!"), ("002", "Your host is tmi.twitch.tv"),
                                ("003", "This server is rather new"), ("004", "-"), ("375", "-"),
                                ("372", "You are in a maze of twisty passages."), ("376", ">"))]
                    if caps:
                        welcome.append("@badge-info=;badges=;color=;display-name=%s;emote-sets=0;"
                                       "user-id=600700800;user-type= :tmi.twitch.tv GLOBALUSERSTATE" % nick)
                    await send_lines(ws, welcome)
                    log(conn, event="logged in", nick=nick)
                    if args.ping:
                        await ws.send("PING :tmi.twitch.tv\r\n")
                elif cmd == "PING":
                    await ws.send(":tmi.twitch.tv PONG tmi.twitch.tv :%s\r\n" % rest.lstrip(":"))
                elif cmd == "JOIN":
                    new = [c.lstrip("#") for c in rest.split(",")]
                    out = []
                    for c in new:
                        out += [":%s!%s@%s.tmi.twitch.tv JOIN #%s" % (nick, nick, nick, c),
                                ":%s.tmi.twitch.tv 353 %s = #%s :%s" % (nick, nick, c, nick),
                                ":%s.tmi.twitch.tv 366 %s #%s :End of /NAMES list" % (nick, nick, c),
                                "@badge-info=;badges=;color=;display-name=%s;emote-sets=0;mod=0;"
                                "subscriber=0;user-type= :tmi.twitch.tv USERSTATE #%s" % (nick, c),
                                "@emote-only=0;followers-only=-1;r9k=0;room-id=512345678;slow=0;"
                                "subs-only=0 :tmi.twitch.tv ROOMSTATE #%s" % c]
                    await send_lines(ws, out)
                    todo = [l for l in replay_lines if channel_of(l) in new]
                    for l in todo:
                        if conn == 1 and sent == args.drop_after:
                            log(conn, event="drop")
                            ws.transport.abort()
                            return
                        if conn == 1 and sent == args.reconnect_after:
                            log(conn, event="reconnect sent")
                            await ws.send(":tmi.twitch.tv RECONNECT\r\n")
                        await ws.send(l + "\r\n")
                        sent += 1
                    log(conn, event="replayed", count=sent, channels=sorted(new))
                elif cmd == "PONG":
                    log(conn, event="pong", arg=rest)
    except websockets.ConnectionClosed:
        pass
    finally:
        log(conn, event="closed")


async def main():
    host, _, port = args.listen.rpartition(":")
    host = host.strip("[]")
    ctx = None
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
    async with websockets.serve(handler, host, int(port), ssl=ctx,
                                ping_interval=None, max_size=2**20) as server:
        sock = server.sockets[0]
        addr = sock.getsockname()
        shown = "[%s]" % addr[0] if ":" in addr[0] else addr[0]
        if args.port_file:
            tmp = args.port_file + ".tmp"
            with open(tmp, "w") as f:
                f.write("%s:%d\n" % (shown, addr[1]))
            os.rename(tmp, args.port_file)
        await asyncio.Future()


try:
    asyncio.run(main())
except KeyboardInterrupt:
    pass

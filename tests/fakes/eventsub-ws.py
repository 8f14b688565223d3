#!/usr/bin/python3
"""Fake EventSub WebSocket server (eventsub.wss.twitch.tv/ws), in one
process with the fake id server and Helix API of twitch-api.py.

Written from twitch-protocols.md section 1, independent of our C code. The
two share their state, so the real rules hold end to end:

  * the first message is session_welcome; keepalive_timeout_seconds from
    the query is clamped to [--keepalive-min, 600] (Twitch: 10-600), and a
    session_keepalive goes out when nothing else was sent for a while;
  * a session without a subscription --welcome-window seconds after its
    welcome is closed with 4003; any text or binary frame from the client
    is closed with 4001; a Ping not answered in --pong-timeout with 4002;
  * Helix creates a websocket subscription only for a session this server
    has connected (else 400), at most 300 per connection, 3 connections
    per user, and a total cost within max_total_cost (else 429);
  * session_reconnect hands out a reconnect_url; a connection to it gets a
    new session that carries the old one's subscriptions over (4007 for a
    bad or used URL), and the old one is closed with 4004 when the client
    has not closed it --reconnect-grace seconds later.

    eventsub-ws.py [twitch-api.py options] --ws-listen 127.0.0.1:0
                   --ws-port-file FILE [--ws-tls] --ws-log FILE
                   [--keepalive-min S] [--welcome-window S]
                   [--ping-interval S] [--pong-timeout S]
                   [--reconnect-grace S] [--max-total-cost N]

With --ws-tls it speaks wss:// with --cert/--key. Control interface, on the
HTTP port of twitch-api.py (JSON):

    POST /_fake/ws/state   the sessions: conn, id, status, keepalive, subs
    POST /_fake/ws/send    {"conn": N (default: the newest open one),
                            "messages": [SPEC, ...]}: send in order; answers
                           when done with {"sent": n, "errors": [..]}

A SPEC is one of (each may add "on": "new": send it on the connection that
replaced this one after a session_reconnect, once it is welcomed):

    {"notification": TYPE, "id": ID, "event": {..}, "age": S}
    {"revocation": TYPE, "status": "authorization_revoked"}
    {"reconnect": true, "bad_url": false}
    {"close": CODE}            {"keepalive": true}     {"unknown": TYPE}
    {"text": "raw frame"}      {"json": {..}}          {"huge": BYTES}
    {"binary": "hex"}          {"silence": true}       {"sleep": S}

Everything that happens is logged to --ws-log, one JSON object per line:
{"t", "conn", "event": "connect"|"welcome"|"sent"|"client frame"|"pong"|
"subscribed"|"closed", ...}.
"""
import argparse
import asyncio
import importlib.util
import json
import os
import secrets
import signal
import ssl
import threading
import time
import urllib.parse
import uuid

import websockets

_here = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location(
    "twitch_api", os.path.join(_here, "twitch-api.py"))
api = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(api)

# Close reasons as the Twitch CLI mock words them (section 1.8), and the
# status each leaves on the subscriptions of the connection.
CLOSE = {
    4000: ("internal server error", "websocket_internal_error"),
    4001: ("sent inbound traffic", "websocket_received_inbound_traffic"),
    4002: ("failed ping pong", "websocket_failed_ping_pong"),
    4003: ("connection unused", "websocket_connection_unused"),
    4004: ("client reconnect grace time expired",
           "websocket_failed_to_reconnect"),
    4005: ("network timeout", "websocket_network_timeout"),
    4006: ("network error", "websocket_network_error"),
    4007: ("invalid reconnect attempt", "websocket_disconnected"),
}

BROADCASTER = {"broadcaster_user_id": "512345678",
               "broadcaster_user_login": "glowcaster",
               "broadcaster_user_name": "Glowcaster"}


def sample_event(typ, cond):
    """The event of section 3 for typ, for the broadcaster of cond."""
    b = dict(BROADCASTER)
    bid = cond.get("broadcaster_user_id") or \
        cond.get("to_broadcaster_user_id") or b["broadcaster_user_id"]
    b["broadcaster_user_id"] = bid
    user = {"user_id": "80011222", "user_login": "tea_kettle",
            "user_name": "Tea_Kettle"}
    ev = {
        "channel.follow": dict(user, **b,
                               followed_at=api.now_rfc3339()),
        "channel.subscribe": dict(user, **b, tier="1000", is_gift=False),
        "channel.subscription.message": dict(
            user, **b, tier="1000",
            message={"text": "Two years already HeyGuys",
                     "emotes": [{"begin": 18, "end": 24, "id": "30259"}]},
            cumulative_months=24, streak_months=None, duration_months=1),
        "channel.subscription.gift": dict(
            user_id=None, user_login=None, user_name=None, **b, total=5,
            tier="2000", cumulative_total=None, is_anonymous=True),
        "channel.cheer": dict(is_anonymous=False, **user, **b,
                              message="Cheer250 keep the lights on",
                              bits=250),
        "channel.raid": {"from_broadcaster_user_id": "31415926",
                         "from_broadcaster_user_login": "lanternfish",
                         "from_broadcaster_user_name": "LanternFish",
                         "to_broadcaster_user_id": bid,
                         "to_broadcaster_user_login": "glowcaster",
                         "to_broadcaster_user_name": "Glowcaster",
                         "viewers": 87},
        "stream.online": dict(id="318842705519", **b, type="live",
                              started_at=api.now_rfc3339()),
        "stream.offline": b,
    }
    return ev.get(typ, dict(b, note="an event of a type the tools do not "
                            "know"))


def rfc3339(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + \
        ".%09dZ" % int((t % 1) * 1e9)


class Session:
    def __init__(self, conn, ws, keepalive):
        self.conn = conn
        self.ws = ws
        # Like the CLI mock's ids: opaque, different per connection.
        self.id = "%s_%s" % (secrets.token_hex(4), secrets.token_hex(4))
        self.keepalive = keepalive
        self.subs = {}  # sub id -> the subscription dict of State.subs
        self.ever_subscribed = False
        self.status = "connected"
        self.connected_at = api.now_rfc3339()
        self.last_sent = time.monotonic()
        self.silent = False
        self.replaced_by = None
        self.closed_by_us = None
        self.welcomed = asyncio.Event()


class FakeWS:
    def __init__(self, args, loop):
        self.args = args
        self.loop = loop
        self.lock = threading.Lock()  # sessions, from Helix threads too
        self.sessions = []
        self.tokens = {}  # reconnect id -> Session
        self.conns = 0
        self.st = None
        self.logf = open(args.ws_log, "a", buffering=1)
        self.scheme = "wss" if args.ws_tls else "ws"

    def log(self, conn, event, **kw):
        kw.update({"t": round(time.monotonic(), 3), "conn": conn,
                   "event": event})
        self.logf.write(json.dumps(kw) + "\n")

    # --- hooks called by twitch-api.py's Helix (under its lock) ---

    def check(self, sid, owner, cost, st):
        with self.lock:
            s = next((x for x in self.sessions if x.id == sid), None)
            if s is None or s.status not in ("connected", "reconnecting"):
                return 400, ("websocket transport session does not exist "
                             "or has already disconnected")
            if len([x for x in s.subs.values()
                    if x["status"] == "enabled"]) >= 300:
                return 429, ("maximum subscriptions per websocket "
                             "transport exceeded")
            used = {x.id for x in self.sessions
                    if x.status in ("connected", "reconnecting") and
                    any(v["_owner"] == owner for v in x.subs.values())}
            if sid not in used and len(used) >= 3:
                return 429, "number of websocket transports limit exceeded"
        total = sum(x["cost"] for x in st.subs if x["_owner"] == owner and
                    x["status"] == "enabled" and
                    x["transport"]["method"] == "websocket")
        if total + cost > self.args.max_total_cost:
            return 429, "total cost exceeds max_total_cost"
        return None

    def subscribed(self, sub):
        sid = sub["transport"]["session_id"]
        with self.lock:
            for s in self.sessions:
                if s.id == sid:
                    s.subs[sub["id"]] = sub
                    s.ever_subscribed = True
                    self.log(s.conn, "subscribed", type=sub["type"],
                             version=sub["version"], sub=sub["id"])

    def deleted(self, sub):
        with self.lock:
            for s in self.sessions:
                s.subs.pop(sub["id"], None)

    def admin(self, rq):
        js = rq["json"] if isinstance(rq["json"], dict) else {}
        if rq["path"] == "/_fake/ws/state":
            with self.lock:
                return 200, {"sessions": [
                    {"conn": s.conn, "id": s.id, "status": s.status,
                     "keepalive": s.keepalive,
                     "subs": [{"id": v["id"], "type": v["type"],
                               "version": v["version"],
                               "status": v["status"]}
                              for v in s.subs.values()]}
                    for s in self.sessions]}, {}
        if rq["path"] == "/_fake/ws/send":
            fut = asyncio.run_coroutine_threadsafe(self.run(js), self.loop)
            try:
                out = fut.result(timeout=30)
            except Exception as exc:  # noqa: BLE001 - report to the test
                return 500, {"message": repr(exc)}, {}
            return (409 if out["errors"] else 200), out, {}
        return 404, {"message": "unknown control path"}, {}

    # --- sending ---

    async def send(self, s, text, kind, mid=None):
        try:
            await s.ws.send(text)
        except websockets.ConnectionClosed:
            self.log(s.conn, "send failed", kind=kind, id=mid)
            return False
        s.last_sent = time.monotonic()
        self.log(s.conn, "sent", kind=kind, id=mid)
        return True

    def message(self, mtype, payload, sub=None, age=0, mid=None):
        md = {"message_id": mid or str(uuid.uuid4()), "message_type": mtype,
              "message_timestamp": rfc3339(time.time() - age)}
        if sub is not None:
            md["subscription_type"] = sub["type"]
            md["subscription_version"] = sub["version"]
        return md["message_id"], json.dumps({"metadata": md,
                                             "payload": payload})

    def public(self, sub):
        return {k: v for k, v in sub.items() if not k.startswith("_")}

    def find_sub(self, s, typ):
        with self.lock:
            for v in s.subs.values():
                if v["type"] == typ and v["status"] == "enabled":
                    return v
        return None

    async def close(self, s, code, reason=None):
        s.closed_by_us = code
        # Gone from now on, for Helix too, however long the client
        # takes to answer the close frame.
        with self.lock:
            s.status = "closing"
        await s.ws.close(code, reason or CLOSE.get(code, ("", ""))[0])

    async def one(self, s, spec):
        """Send one SPEC on session s; an error string or None."""
        if "sleep" in spec:
            await asyncio.sleep(float(spec["sleep"]))
        elif "silence" in spec:
            s.silent = bool(spec["silence"])
            self.log(s.conn, "silence", on=s.silent)
        elif "notification" in spec:
            sub = self.find_sub(s, spec["notification"])
            if sub is None:
                return "no %s subscription on connection %d" % (
                    spec["notification"], s.conn)
            ev = spec.get("event") or sample_event(sub["type"],
                                                   sub["condition"])
            mid, text = self.message(
                "notification", {"subscription": self.public(sub),
                                 "event": ev},
                sub, spec.get("age", 0), spec.get("id"))
            await self.send(s, text, "notification", mid)
        elif "revocation" in spec:
            sub = self.find_sub(s, spec["revocation"])
            if sub is None:
                return "no %s subscription on connection %d" % (
                    spec["revocation"], s.conn)
            sub["status"] = spec.get("status", "authorization_revoked")
            with self.lock:
                s.subs.pop(sub["id"], None)
            mid, text = self.message("revocation",
                                     {"subscription": self.public(sub)}, sub)
            await self.send(s, text, "revocation", mid)
        elif "reconnect" in spec:
            token = secrets.token_urlsafe(12)
            if not spec.get("bad_url"):
                self.tokens[token] = s
            host = s.ws.request_headers.get("Host")
            url = "%s://%s/ws?reconnect_id=%s" % (self.scheme, host, token)
            s.status = "reconnecting"
            mid, text = self.message("session_reconnect", {"session": {
                "id": s.id, "status": "reconnecting",
                "keepalive_timeout_seconds": None, "reconnect_url": url,
                "connected_at": s.connected_at}})
            await self.send(s, text, "session_reconnect", mid)
            self.loop.create_task(self.grace(s))
        elif "close" in spec:
            await self.close(s, int(spec["close"]), spec.get("reason"))
        elif "keepalive" in spec:
            mid, text = self.message("session_keepalive", {})
            await self.send(s, text, "session_keepalive", mid)
        elif "unknown" in spec:
            mid, text = self.message(spec["unknown"], {"x": 1})
            await self.send(s, text, "unknown", mid)
        elif "text" in spec:
            await self.send(s, spec["text"], "text")
        elif "json" in spec:
            await self.send(s, json.dumps(spec["json"]), "json")
        elif "huge" in spec:
            n = int(spec["huge"])
            await self.send(s, '{"pad":"' + "x" * max(0, n - 10) + '"}',
                            "huge")
        elif "binary" in spec:
            try:
                await s.ws.send(bytes.fromhex(spec["binary"]))
                self.log(s.conn, "sent", kind="binary")
            except websockets.ConnectionClosed:
                pass
        else:
            return "unknown spec %r" % spec
        return None

    async def run(self, js):
        with self.lock:
            open_ = [x for x in self.sessions
                     if x.status in ("connected", "reconnecting")]
            if "conn" in js:
                s = next((x for x in self.sessions
                          if x.conn == js["conn"]), None)
            else:
                s = open_[-1] if open_ else None
        if s is None:
            return {"sent": 0, "errors": ["no such connection"]}
        sent, errors = 0, []
        for spec in js.get("messages", []):
            target = s
            if spec.get("on") == "new":
                for _ in range(200):
                    if s.replaced_by is not None:
                        break
                    await asyncio.sleep(0.05)
                target = s.replaced_by
                if target is None:
                    errors.append("connection %d was not replaced" % s.conn)
                    continue
                try:
                    await asyncio.wait_for(target.welcomed.wait(), 10)
                except asyncio.TimeoutError:
                    errors.append("the new connection got no welcome")
                    continue
            err = await self.one(target, spec)
            if err:
                errors.append(err)
            else:
                sent += 1
        return {"sent": sent, "errors": errors}

    # --- per-connection tasks ---

    async def grace(self, s):
        await asyncio.sleep(self.args.reconnect_grace)
        if s.status == "reconnecting":
            self.log(s.conn, "grace expired")
            await self.close(s, 4004)

    async def keepalives(self, s):
        while True:
            await asyncio.sleep(min(0.2, s.keepalive / 10))
            if s.silent:
                continue
            # Twitch sends one when nothing else went out during the
            # window; a little early, so a loaded machine is no excuse.
            if time.monotonic() - s.last_sent >= s.keepalive * 0.75:
                mid, text = self.message("session_keepalive", {})
                if not await self.send(s, text, "session_keepalive", mid):
                    return

    async def pings(self, s):
        while True:
            await asyncio.sleep(self.args.ping_interval)
            if s.silent:
                continue
            try:
                waiter = await s.ws.ping()
            except websockets.ConnectionClosed:
                return
            try:
                await asyncio.wait_for(waiter, self.args.pong_timeout)
                self.log(s.conn, "pong")
            except asyncio.TimeoutError:
                self.log(s.conn, "no pong")
                await self.close(s, 4002)
                return
            except websockets.ConnectionClosed:
                return

    async def unused(self, s):
        await asyncio.sleep(self.args.welcome_window)
        if not s.ever_subscribed and s.status == "connected":
            self.log(s.conn, "unused")
            await self.close(s, 4003)

    async def handler(self, ws, path=None):
        path = path or ws.path
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(path).query))
        with self.lock:
            self.conns += 1
            conn = self.conns
        self.log(conn, "connect", path=path)
        old = None
        if "reconnect_id" in q:
            old = self.tokens.pop(q["reconnect_id"], None)
            if old is None or old.status != "reconnecting":
                self.log(conn, "bad reconnect")
                await ws.close(4007, CLOSE[4007][0])
                self.log(conn, "closed", code=4007, by="server")
                return
            s = Session(conn, ws, old.keepalive)
        else:
            try:
                ka = int(q.get("keepalive_timeout_seconds", "10"))
            except ValueError:
                ka = 10
            s = Session(conn, ws, max(self.args.keepalive_min,
                                      min(600, ka)))
        with self.lock:
            self.sessions.append(s)
            if old is not None:
                # Subscriptions carry over (1.6): same ids, new session.
                for sub in old.subs.values():
                    sub["transport"]["session_id"] = s.id
                s.subs, old.subs = old.subs, {}
                s.ever_subscribed = True
                old.replaced_by = s
        mid, text = self.message("session_welcome", {"session": {
            "id": s.id, "status": "connected",
            "keepalive_timeout_seconds": s.keepalive, "reconnect_url": None,
            "connected_at": s.connected_at}})
        await self.send(s, text, "session_welcome", mid)
        self.log(conn, "welcome", session=s.id, keepalive=s.keepalive,
                 reconnected=old is not None)
        s.welcomed.set()
        tasks = [self.loop.create_task(self.keepalives(s))]
        if self.args.ping_interval > 0:
            tasks.append(self.loop.create_task(self.pings(s)))
        if old is None:
            tasks.append(self.loop.create_task(self.unused(s)))
        try:
            async for frame in ws:
                # Only Pong may come from the client (1.1).
                self.log(conn, "client frame",
                         kind="binary" if isinstance(frame, bytes)
                         else "text")
                await self.close(s, 4001)
                break
        except websockets.ConnectionClosed:
            pass
        finally:
            for t in tasks:
                t.cancel()
            try:
                await asyncio.wait_for(ws.wait_closed(), 3)
            except asyncio.TimeoutError:
                pass
            code = ws.close_code
            by = "server" if s.closed_by_us is not None else "client"
            self.log(conn, "closed", code=code, by=by,
                     reason=ws.close_reason)
            with self.lock:
                s.status = "closed"
                status = CLOSE.get(s.closed_by_us or 0,
                                   ("", "websocket_disconnected"))[1]
                for sub in s.subs.values():
                    sub["status"] = status

    async def serve(self, stop):
        host, _, port = self.args.ws_listen.rpartition(":")
        ctx = None
        if self.args.ws_tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(self.args.cert, self.args.key)
        async with websockets.serve(self.handler, host.strip("[]"),
                                    int(port), ssl=ctx, ping_interval=None,
                                    max_size=2 ** 20) as server:
            addr = server.sockets[0].getsockname()
            tmp = self.args.ws_port_file + ".tmp"
            with open(tmp, "w") as f:
                f.write("%s:%d\n" % (addr[0], addr[1]))
            os.replace(tmp, self.args.ws_port_file)
            await stop


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    api.add_arguments(ap)
    ap.add_argument("--ws-listen", default="127.0.0.1:0")
    ap.add_argument("--ws-port-file", required=True)
    ap.add_argument("--ws-tls", action="store_true")
    ap.add_argument("--ws-log", required=True)
    ap.add_argument("--keepalive-min", type=int, default=10)
    ap.add_argument("--welcome-window", type=float, default=10)
    ap.add_argument("--ping-interval", type=float, default=5)
    ap.add_argument("--pong-timeout", type=float, default=10)
    ap.add_argument("--reconnect-grace", type=float, default=30)
    ap.add_argument("--max-total-cost", type=int, default=10)
    args = ap.parse_args()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    fake = FakeWS(args, loop)
    fake.st = api.start(args, ws_hooks=fake)
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set_result, None)
    loop.run_until_complete(fake.serve(stop))


if __name__ == "__main__":
    main()

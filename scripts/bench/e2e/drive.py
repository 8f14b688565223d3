#!/usr/bin/python3
"""End-to-end latency driver: POST signed EventSub webhook deliveries at a
fixed rate and time each one from the POST to its arrival at a WebSocket
client, matched by message id (the event id).

  TWITCH_EVENTSUB_SECRET=S drive.py --webhook http://HOST:PORT/eventsub \
      --ws ws://HOST:PORT/ [--rate 200] [--count 2000] [--warmup 200]

Prints one JSON line: {"sent":..,"received":..,"p50_ms":..,"p90_ms":..,
"p99_ms":..,"max_ms":..,"rate":..}. The sender keeps one HTTP/1.1
connection open and follows an absolute schedule (t0 + i/rate), so a slow
answer delays nothing after it; the first --warmup events are not counted.
"""
import argparse
import asyncio
import datetime
import hashlib
import hmac
import http.client
import json
import os
import threading
import time
import urllib.parse
import uuid

import websockets

SUB = {"id": "f1c2d3e4-0000-4a5b-8c9d-112233445566", "status": "enabled",
       "type": "channel.cheer", "version": "1",
       "condition": {"broadcaster_user_id": "1337"},
       "transport": {"method": "webhook",
                     "callback": "https://alerts.example.org/eventsub"},
       "created_at": "2026-03-01T10:00:00.000000000Z", "cost": 0}


def body(n):
    return json.dumps({"subscription": SUB, "event": {
        "is_anonymous": False, "user_id": "424242",
        "user_login": "pixelpanda", "user_name": "PixelPanda",
        "broadcaster_user_id": "1337", "broadcaster_user_login": "glowcaster",
        "broadcaster_user_name": "GlowCaster",
        "message": "Cheer100 bench %d" % n, "bits": 100}},
        separators=(",", ":")).encode()


def sender(a, sent, errors):
    u = urllib.parse.urlsplit(a.webhook)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    key = os.environ["TWITCH_EVENTSUB_SECRET"].encode()
    t0 = time.monotonic() + 0.2
    for i in range(a.count):
        mid = str(uuid.uuid4())
        ts = datetime.datetime.now(datetime.timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%S.%fZ")
        b = body(i)
        sig = hmac.new(key, mid.encode() + ts.encode() + b,
                       hashlib.sha256).hexdigest()
        delay = t0 + i / a.rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        sent[mid] = (i, time.monotonic())
        try:
            conn.request("POST", u.path, body=b, headers={
                "Content-Type": "application/json",
                "Twitch-Eventsub-Message-Id": mid,
                "Twitch-Eventsub-Message-Timestamp": ts,
                "Twitch-Eventsub-Message-Signature": "sha256=" + sig,
                "Twitch-Eventsub-Message-Type": "notification",
                "Twitch-Eventsub-Subscription-Type": "channel.cheer",
                "Twitch-Eventsub-Subscription-Version": "1"})
            r = conn.getresponse()
            r.read()
            if r.status // 100 != 2:
                errors.append(r.status)
        except (OSError, http.client.HTTPException) as ex:
            errors.append(str(ex))
            conn.close()
            conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    conn.close()


def pct(v, p):
    if not v:
        return None
    k = min(len(v) - 1, max(0, int(round(p / 100.0 * len(v) + 0.5)) - 1))
    return round(v[k], 2)


async def main(a):
    sent, lat, errors = {}, [], []
    async with websockets.connect(a.ws, max_size=2**20) as ws:
        th = threading.Thread(target=sender, args=(a, sent, errors))
        th.start()
        got = 0
        end = None
        while got < a.count:
            timeout = 5.0
            if not th.is_alive():
                end = end or time.monotonic() + 5
                timeout = max(0.01, end - time.monotonic())
            try:
                m = await asyncio.wait_for(ws.recv(), timeout)
            except asyncio.TimeoutError:
                if not th.is_alive():
                    break
                continue
            now = time.monotonic()
            ev = json.loads(m)
            s = sent.get(ev.get("id"))
            if s is None:
                continue
            got += 1
            if s[0] >= a.warmup:
                lat.append((now - s[1]) * 1000)
        th.join()
    lat.sort()
    print(json.dumps({"sent": a.count, "received": got,
                      "errors": len(errors), "rate": a.rate,
                      "p50_ms": pct(lat, 50), "p90_ms": pct(lat, 90),
                      "p99_ms": pct(lat, 99),
                      "max_ms": round(lat[-1], 2) if lat else None}))
    return 0 if got == a.count and not errors else 1


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--webhook", required=True)
    ap.add_argument("--ws", required=True)
    ap.add_argument("--rate", type=float, default=200)
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--warmup", type=int, default=200)
    raise SystemExit(asyncio.run(main(ap.parse_args())))

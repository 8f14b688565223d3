#!/usr/bin/python3
"""A fake EventSub webhook receiver, for testing senders (twitch-trigger).

It checks each delivery the way twitch-protocols.md section 2.4 says, with
Python's hmac (independent of our C code), records every request as one
JSON line ({"headers":{...},"body":"...","signature_ok":bool}) in --log,
and answers as told:

  --status N        answer notifications and revocations with N (204)
  --challenge MODE  echo (default): the challenge as text/plain;
                    wrong: another text; json: the challenge, but
                    as application/json
  --fail-first N    answer the first N requests 503 (retry tests)

The secret comes from TWITCH_EVENTSUB_SECRET. The bound address goes to
--port-file. TLS with --cert/--key.
"""
import argparse
import hashlib
import hmac
import http.server
import json
import os
import signal
import ssl
import sys
import threading


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", default="127.0.0.1:0")
    ap.add_argument("--port-file")
    ap.add_argument("--log", required=True)
    ap.add_argument("--status", type=int, default=204)
    ap.add_argument("--challenge", default="echo",
                    choices=["echo", "wrong", "json"])
    ap.add_argument("--fail-first", type=int, default=0)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    args = ap.parse_args()
    secret = os.environ.get("TWITCH_EVENTSUB_SECRET", "").encode()
    lock = threading.Lock()
    state = {"n": 0}

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def answer(self, status, ctype, body):
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(n)
            h = {k: v for k, v in self.headers.items()}
            mid = self.headers.get("Twitch-Eventsub-Message-Id", "")
            ts = self.headers.get("Twitch-Eventsub-Message-Timestamp", "")
            sig = self.headers.get("Twitch-Eventsub-Message-Signature", "")
            want = "sha256=" + hmac.new(
                secret, mid.encode() + ts.encode() + raw,
                hashlib.sha256).hexdigest()
            ok = hmac.compare_digest(want, sig)
            with lock:
                state["n"] += 1
                seq = state["n"]
                with open(args.log, "a") as f:
                    f.write(json.dumps({"path": self.path, "headers": h,
                                        "body": raw.decode("utf-8", "replace"),
                                        "signature_ok": ok}) + "\n")
            if seq <= args.fail_first:
                return self.answer(503, "text/plain", "busy")
            if not ok:
                return self.answer(403, "text/plain", "bad signature")
            mtype = self.headers.get("Twitch-Eventsub-Message-Type")
            if mtype == "webhook_callback_verification":
                c = json.loads(raw)["challenge"]
                if args.challenge == "wrong":
                    return self.answer(200, "text/plain", c + "x")
                if args.challenge == "json":
                    return self.answer(200, "application/json", c)
                return self.answer(200, "text/plain; charset=utf-8", c)
            return self.answer(args.status, "text/plain", "")

    host, port = args.listen.rsplit(":", 1)
    srv = http.server.ThreadingHTTPServer((host.strip("[]"), int(port)),
                                          Handler)
    if args.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.cert, args.key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%s:%d\n" % (host, srv.server_address[1]))
        os.rename(tmp, args.port_file)
    # Exit 0 on SIGTERM, as the servers of this project do (stop_bg).
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Fake Twitch id server (id.twitch.tv) and Helix API (api.twitch.tv/helix).

Written from ../shared/twitch-protocols.md sections 6 (OAuth) and 7 (Helix),
never from our C code, so the tests check our code against the documented
behaviour: the error bodies, the device code states, refresh token rotation,
validate, revoke, users, EventSub subscriptions with pagination, and rate
limits.

    twitch-api.py [--listen 127.0.0.1:0] [--port-file FILE]
                  [--tls-listen 127.0.0.1:0 --tls-port-file FILE
                   --cert server.pem --key server.key]
                  [--client ID[:SECRET]]... [--user LOGIN:ID]...
                  [--login LOGIN] [--access-ttl S] [--page-size N]
                  [--device-interval S] [--device-expires S]
                  [--approve-after N] [--slow-down N]...

Point the tools at it (the same server answers both):

    TWITCH_ID_URL=http://ADDR  TWITCH_API_URL=http://ADDR/helix

Clients: every --client ID:SECRET is confidential, --client ID is public (no
secret: device flow and refresh without client_secret). Without --client
there is one confidential client, DEFAULT_CLIENT:DEFAULT_SECRET below.
Users: --user LOGIN:ID (default glowcaster, lanternfish, pixelpanda, the
ids of the reference's examples). --login is who approves device codes and
authorize requests (default the first user).

Control interface, JSON over HTTP on the same port(s), under /_fake/:

    GET  /_fake/requests        every request so far, oldest first:
                                {"method","path","query":{k:[v..]},
                                 "headers":{lowercase name: value},
                                 "form":{k:v},"json":..,"status":N,
                                 "time":unix float}
    POST /_fake/reset           forget the request log
    POST /_fake/token           mint a token without a flow:
                                {"kind":"user"|"app","login","scopes":[..],
                                 "ttl":S,"client_id"} ->
                                {"access_token","refresh_token","expires_in",
                                 "login","user_id","client_id","scopes"}
    POST /_fake/expire          {"access_token":T} and/or {"refresh_token":R}:
                                make it invalid (expired or revoked)
    POST /_fake/device          {"user_code":C,"action":"approve"|"deny",
                                 "login":L}: what the user does on the
                                activate page
    POST /_fake/fail            inject answers: {"path":"/helix/users",
                                 "method":"GET","status":429,"count":1,
                                 "reset_in":1,"body":{..},"headers":{..}}
                                (429s, and answers with "reset_in", get
                                Ratelimit-Remaining 0 and Ratelimit-Reset
                                now+reset_in; error statuses get a Helix or
                                id error body unless "body" is given)
    POST /_fake/config          change settings at run time: access_ttl,
                                page_size, device_interval, device_expires,
                                approve_after, slow_down [poll numbers],
                                authorize ("approve"|"deny"),
                                delay_ms {"/oauth2/token": 500},
                                ws_sessions [ids] (null: any session id),
                                rotate_refresh (default true)
    POST /_fake/subscription    {"id":I,"status":S}: change a subscription
    GET  /_fake/state           tokens, devices, subscriptions, config

tests/fakes/eventsub-ws.py imports this file and runs it in the same
process as its EventSub WebSocket server (State.ws_hooks): websocket
subscriptions must then name a session that server has connected, within
the limits of section 1.10, and /_fake/ws/ paths are its control interface.

The fake logs one line per request on stderr (method, path, status) and
never the query or body, which hold credentials.
"""

import argparse
import base64
import json
import os
import secrets
import ssl
import string
import sys
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DEFAULT_CLIENT = "srvtestclient0123456789abcdefgh"
DEFAULT_SECRET = "srvtestsecret9876543210zyxwvuts"
DEFAULT_USERS = [("glowcaster", "512345678"), ("lanternfish", "31415926"),
                 ("pixelpanda", "77123456")]

# Section 3.0: type -> (version, required condition keys, scope).
# channel.raid needs exactly one of from/to (checked separately).
TYPES = {
    "channel.follow": ("2", ["broadcaster_user_id", "moderator_user_id"],
                       "moderator:read:followers"),
    "channel.subscribe": ("1", ["broadcaster_user_id"],
                          "channel:read:subscriptions"),
    "channel.subscription.gift": ("1", ["broadcaster_user_id"],
                                  "channel:read:subscriptions"),
    "channel.subscription.message": ("1", ["broadcaster_user_id"],
                                     "channel:read:subscriptions"),
    "channel.cheer": ("1", ["broadcaster_user_id"], "bits:read"),
    "channel.bits.use": ("1", ["broadcaster_user_id"], "bits:read"),
    "channel.raid": ("1", [], None),
    "channel.channel_points_custom_reward_redemption.add":
        ("1", ["broadcaster_user_id"], "channel:read:redemptions"),
    "stream.online": ("1", ["broadcaster_user_id"], None),
    "stream.offline": ("1", ["broadcaster_user_id"], None),
    "channel.hype_train.begin": ("2", ["broadcaster_user_id"],
                                 "channel:read:hype_train"),
    "channel.chat.notification": ("1", ["broadcaster_user_id", "user_id"],
                                  "user:read:chat"),
    # Not in lib/types: the tools pass it through as an unknown type.
    "channel.ad_break.begin": ("1", ["broadcaster_user_id"],
                               "channel:read:ads"),
}
# Removed versions answer 410 (section 0: channel.follow v1).
GONE = {("channel.follow", "1")}

REASONS = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
           404: "Not Found", 409: "Conflict", 410: "Gone",
           429: "Too Many Requests", 500: "Internal Server Error",
           503: "Service Unavailable"}


def rand_token(n=30):
    alphabet = string.ascii_lowercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(n))


def rand_refresh():
    # Refresh tokens may contain '/', '%' and '=' (section 6.4): make sure
    # the client URL-encodes them.
    alphabet = string.ascii_letters + string.digits
    body = "".join(secrets.choice(alphabet) for _ in range(44))
    return body[:10] + "/" + body[10:20] + "%" + body[20:] + "=="


def now_rfc3339():
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + \
        ".%09dZ" % int((t % 1) * 1e9)


class State:
    def __init__(self, args):
        self.lock = threading.Lock()
        self.clients = {}
        for c in args.client or ["%s:%s" % (DEFAULT_CLIENT, DEFAULT_SECRET)]:
            cid, _, sec = c.partition(":")
            self.clients[cid] = sec or None
        self.users = []
        for u in args.user or ["%s:%s" % lu for lu in DEFAULT_USERS]:
            login, _, uid = u.partition(":")
            self.users.append((login.lower(), uid))
        self.config = {
            "login": args.login or self.users[0][0],
            "access_ttl": args.access_ttl,
            "page_size": args.page_size,
            "device_interval": args.device_interval,
            "device_expires": args.device_expires,
            "approve_after": args.approve_after,
            "slow_down": args.slow_down or [],
            "authorize": "approve",
            "delay_ms": {},
            "ws_sessions": None,
            "rotate_refresh": True,
        }
        self.tokens = {}    # access token -> grant dict
        self.refresh = {}   # refresh token -> grant dict (valid ones)
        self.devices = {}   # device_code -> dict
        self.codes = {}     # authorization code -> dict
        self.subs = []      # subscriptions, in creation order
        self.failures = []  # injected answers
        self.requests = []
        # The EventSub WebSocket server sharing this state (eventsub-ws.py):
        # check(sid, owner, cost, state) -> None or (status, message),
        # subscribed(sub), deleted(sub), admin(request) -> answer.
        self.ws_hooks = None

    def user_by_login(self, login):
        for lg, uid in self.users:
            if lg == login.lower():
                return lg, uid
        return None

    def user_by_id(self, uid):
        for lg, i in self.users:
            if i == uid:
                return lg, i
        return None

    def mint(self, kind, client_id, login=None, scopes=(), ttl=None):
        ttl = self.config["access_ttl"] if ttl is None else ttl
        g = {"kind": kind, "client_id": client_id,
             "scopes": sorted(set(scopes)), "expires": time.time() + ttl,
             "revoked": False, "access_token": rand_token()}
        if kind == "user":
            lg, uid = self.user_by_login(login or self.config["login"])
            g["login"], g["user_id"] = lg, uid
            g["refresh_token"] = rand_refresh()
            self.refresh[g["refresh_token"]] = g
        self.tokens[g["access_token"]] = g
        return g

    def grant_body(self, g):
        body = {"access_token": g["access_token"],
                "expires_in": max(0, int(g["expires"] - time.time())),
                "token_type": "bearer"}
        if g["kind"] == "user":
            body["refresh_token"] = g["refresh_token"]
            body["scope"] = g["scopes"]
        return body

    def valid_token(self, tok):
        g = self.tokens.get(tok)
        if g is None or g["revoked"] or g["expires"] <= time.time():
            return None
        return g


def id_error(status, message):
    """An id.twitch.tv error body (section 6.9): no "error" member."""
    return status, {"status": status, "message": message}, {}


def helix_error(status, message):
    """A Helix error body (section 6.9)."""
    return status, {"error": REASONS.get(status, ""), "status": status,
                    "message": message}, {}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-twitch/1"
    st = None  # State, set in main()

    def log_message(self, fmt, *args):  # quiet: see log_request
        pass

    # --- plumbing ---

    def read_request(self):
        u = urllib.parse.urlsplit(self.path)
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n > 0 else b""
        ctype = (self.headers.get("Content-Type") or "").split(";")[0]
        form, js = {}, None
        if ctype == "application/x-www-form-urlencoded":
            form = dict(urllib.parse.parse_qsl(raw.decode("utf-8", "replace"),
                                               keep_blank_values=True))
        elif ctype == "application/json" and raw:
            try:
                js = json.loads(raw)
            except ValueError:
                js = ValueError
        return {"method": self.command, "path": u.path,
                "query": urllib.parse.parse_qs(u.query,
                                               keep_blank_values=True),
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "form": form, "json": js, "raw": raw, "time": time.time()}

    def send(self, status, body=None, headers=None, ctype=None):
        if body is None:
            data = b""
        elif isinstance(body, (bytes, str)):
            data = body.encode() if isinstance(body, str) else body
            ctype = ctype or "text/plain"
        else:
            data = json.dumps(body).encode()
            ctype = ctype or "application/json"
        self.send_response(status)
        if data or ctype:
            self.send_header("Content-Type", ctype or "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, str(v))
        self.end_headers()
        if data and self.command != "HEAD":
            self.wfile.write(data)
        sys.stderr.write("fake-twitch: %s %s %d\n" %
                         (self.command, self.path.split("?")[0], status))
        sys.stderr.flush()

    def handle_any(self):
        st = self.st
        rq = self.read_request()
        path = rq["path"]
        if path.startswith("/_fake/ws/") and st.ws_hooks is not None:
            # Not under st.lock: it waits for the WebSocket thread.
            status, body, hdrs = st.ws_hooks.admin(rq)
            self.send(status, body, hdrs)
            return
        if path.startswith("/_fake/"):
            status, body, hdrs = self.admin(rq)
            self.send(status, body, hdrs)
            return
        delay = st.config["delay_ms"].get(path)
        if delay:
            time.sleep(delay / 1000.0)
        with st.lock:
            status, body, hdrs = self.injected(rq)
            if status is None:
                status, body, hdrs = self.route(rq)
            if path.startswith("/helix/"):
                hdrs = dict(hdrs)
                hdrs.setdefault("Ratelimit-Limit", "800")
                hdrs.setdefault("Ratelimit-Remaining", "799")
                hdrs.setdefault("Ratelimit-Reset", str(int(time.time()) + 1))
            entry = {k: v for k, v in rq.items() if k != "raw"}
            if entry["json"] is ValueError:
                entry["json"] = None
            entry["status"] = status
            st.requests.append(entry)
        self.send(status, body, hdrs)

    do_GET = handle_any
    do_POST = handle_any
    do_DELETE = handle_any
    do_PATCH = handle_any
    do_PUT = handle_any

    def injected(self, rq):
        st = self.st
        for f in st.failures:
            if f["count"] <= 0 or f["path"] != rq["path"]:
                continue
            if f.get("method") and f["method"] != rq["method"]:
                continue
            f["count"] -= 1
            status = f["status"]
            hdrs = dict(f.get("headers") or {})
            if status == 429 or "reset_in" in f:
                reset = int(time.time()) + int(f.get("reset_in", 1))
                hdrs.setdefault("Ratelimit-Limit", "800")
                hdrs.setdefault("Ratelimit-Remaining", "0")
                hdrs.setdefault("Ratelimit-Reset", str(reset))
                f.setdefault("resets", []).append(reset)
            body = f.get("body")
            if body is None:
                if rq["path"].startswith("/helix/"):
                    body = helix_error(status, f.get("message") or
                                       REASONS.get(status, "error"))[1]
                else:
                    body = id_error(status, f.get("message") or
                                    REASONS.get(status, "error"))[1]
            return status, body, hdrs
        return None, None, None

    # --- control interface ---

    def admin(self, rq):
        st = self.st
        p, js = rq["path"], rq["json"] if rq["json"] is not ValueError else None
        js = js or {}
        with st.lock:
            if p == "/_fake/requests":
                return 200, st.requests, {}
            if p == "/_fake/reset":
                st.requests = []
                return 200, {}, {}
            if p == "/_fake/token":
                kind = js.get("kind", "user")
                cid = js.get("client_id") or next(iter(st.clients))
                if kind == "user" and js.get("login") and \
                        st.user_by_login(js["login"]) is None:
                    return 400, {"message": "no such user"}, {}
                g = st.mint(kind, cid, js.get("login"),
                            js.get("scopes", []), js.get("ttl"))
                out = dict(st.grant_body(g))
                out.update({"client_id": cid, "scopes": g["scopes"],
                            "login": g.get("login"),
                            "user_id": g.get("user_id")})
                return 200, out, {}
            if p == "/_fake/expire":
                hit = 0
                g = st.tokens.get(js.get("access_token", ""))
                if g:
                    g["revoked"] = True
                    hit += 1
                if st.refresh.pop(js.get("refresh_token", ""), None):
                    hit += 1
                return (200 if hit else 404), {"expired": hit}, {}
            if p == "/_fake/device":
                for d in st.devices.values():
                    if d["user_code"] == js.get("user_code") or \
                            d["device_code"] == js.get("device_code"):
                        d["state"] = ("approved" if js.get("action", "approve")
                                      == "approve" else "denied")
                        d["login"] = js.get("login") or st.config["login"]
                        return 200, {"state": d["state"]}, {}
                return 404, {"message": "no such device code"}, {}
            if p == "/_fake/fail":
                f = dict(js)
                f.setdefault("count", 1)
                f.setdefault("status", 500)
                st.failures.append(f)
                return 200, f, {}
            if p == "/_fake/config":
                for k, v in js.items():
                    if k not in st.config:
                        return 400, {"message": "unknown setting " + k}, {}
                    st.config[k] = v
                return 200, st.config, {}
            if p == "/_fake/subscription":
                for s in st.subs:
                    if s["id"] == js.get("id"):
                        s["status"] = js.get("status", s["status"])
                        return 200, self.public_sub(s), {}
                return 404, {"message": "no such subscription"}, {}
            if p == "/_fake/subscriptions":
                return 200, [self.public_sub(s) for s in st.subs], {}
            if p == "/_fake/state":
                return 200, {
                    "config": st.config,
                    "tokens": list(st.tokens.values()),
                    "refresh_tokens": list(st.refresh.keys()),
                    "devices": list(st.devices.values()),
                    "subscriptions": [self.public_sub(s) for s in st.subs],
                    "failures": st.failures}, {}
        return 404, {"message": "unknown control path"}, {}

    # --- id.twitch.tv ---

    def route(self, rq):
        p, m = rq["path"], rq["method"]
        routes = {
            ("POST", "/oauth2/device"): self.oauth_device,
            ("POST", "/oauth2/token"): self.oauth_token,
            ("GET", "/oauth2/validate"): self.oauth_validate,
            ("POST", "/oauth2/revoke"): self.oauth_revoke,
            ("GET", "/oauth2/authorize"): self.oauth_authorize,
            ("GET", "/helix/users"): self.helix_users,
            ("GET", "/helix/eventsub/subscriptions"): self.es_list,
            ("POST", "/helix/eventsub/subscriptions"): self.es_create,
            ("DELETE", "/helix/eventsub/subscriptions"): self.es_delete,
        }
        fn = routes.get((m, p))
        if fn is None:
            if p.startswith("/helix/"):
                return helix_error(404, "not found")
            return id_error(404, "not found")
        return fn(rq)

    def param(self, rq, key):
        """A parameter from the form body, else the query string (the
        Twitch CLI sends them in the query of a POST, section 6.3)."""
        if key in rq["form"]:
            return rq["form"][key]
        v = rq["query"].get(key)
        return v[0] if v else None

    def client_ok(self, rq, need_secret):
        """None when the client authenticates, else an error answer."""
        st = self.st
        cid = self.param(rq, "client_id")
        if not cid:
            return id_error(400, "missing client id")
        if cid not in st.clients:
            return id_error(403, "invalid client")
        sec = st.clients[cid]
        given = self.param(rq, "client_secret")
        if need_secret or (sec is not None and given is not None):
            if sec is None or given != sec:
                return id_error(403, "invalid client secret")
        return None

    def oauth_device(self, rq):
        st = self.st
        err = self.client_ok(rq, False)
        if err:
            return err
        scopes = (self.param(rq, "scopes") or "").split()
        dc = rand_token(32)
        uc = "".join(secrets.choice(string.ascii_uppercase) for _ in range(8))
        st.devices[dc] = {"device_code": dc, "user_code": uc,
                          "client_id": self.param(rq, "client_id"),
                          "scopes": scopes, "polls": 0, "state": "pending",
                          "expires": time.time() + st.config["device_expires"]}
        return 200, {"device_code": dc,
                     "expires_in": st.config["device_expires"],
                     "interval": st.config["device_interval"],
                     "user_code": uc,
                     "verification_uri":
                     "https://www.twitch.tv/activate?public=true"
                     "&device-code=" + uc}, {}

    def oauth_token(self, rq):
        gt = self.param(rq, "grant_type")
        if gt == "client_credentials":
            return self.grant_client_credentials(rq)
        if gt == "authorization_code":
            return self.grant_code(rq)
        if gt == "refresh_token":
            return self.grant_refresh(rq)
        if gt == "urn:ietf:params:oauth:grant-type:device_code":
            return self.grant_device(rq)
        return id_error(400, "unsupported grant type")

    def grant_client_credentials(self, rq):
        err = self.client_ok(rq, True)
        if err:
            return err
        g = self.st.mint("app", self.param(rq, "client_id"))
        return 200, self.st.grant_body(g), {}

    def grant_code(self, rq):
        st = self.st
        err = self.client_ok(rq, True)
        if err:
            return err
        c = st.codes.pop(self.param(rq, "code") or "", None)
        if c is None or c["client_id"] != self.param(rq, "client_id"):
            return id_error(400, "Invalid authorization code")
        if c["redirect_uri"] != self.param(rq, "redirect_uri"):
            return id_error(400,
                            "Parameter redirect_uri does not match registered URI")
        g = st.mint("user", c["client_id"], c["login"], c["scopes"])
        return 200, st.grant_body(g), {}

    def grant_refresh(self, rq):
        st = self.st
        err = self.client_ok(rq, False)
        if err:
            return err
        cid = self.param(rq, "client_id")
        if st.clients[cid] is not None and \
                self.param(rq, "client_secret") is None:
            return id_error(400, "missing client secret")
        rt = self.param(rq, "refresh_token") or ""
        old = st.refresh.get(rt)
        if old is None or old["client_id"] != cid:
            return id_error(400, "Invalid refresh token")
        g = st.mint("user", cid, old["login"], old["scopes"])
        if st.config["rotate_refresh"]:
            del st.refresh[rt]
        else:
            del st.refresh[g["refresh_token"]]
            g["refresh_token"] = rt
            st.refresh[rt] = g
        return 200, st.grant_body(g), {}

    def grant_device(self, rq):
        st = self.st
        err = self.client_ok(rq, False)
        if err:
            return err
        d = st.devices.get(self.param(rq, "device_code") or "")
        if d is None or d["client_id"] != self.param(rq, "client_id") or \
                d["state"] in ("used", "denied") or \
                d["expires"] <= time.time():
            return id_error(400, "invalid device code")
        d["polls"] += 1
        if d["polls"] in st.config["slow_down"]:
            return id_error(400, "slow_down")
        after = st.config["approve_after"]
        if d["state"] == "pending" and after and d["polls"] >= after:
            d["state"] = "approved"
            d.setdefault("login", st.config["login"])
        if d["state"] != "approved":
            return id_error(400, "authorization_pending")
        d["state"] = "used"
        g = st.mint("user", d["client_id"], d.get("login"), d["scopes"])
        return 200, st.grant_body(g), {}

    def oauth_validate(self, rq):
        auth = rq["headers"].get("authorization", "")
        scheme, _, tok = auth.partition(" ")
        if scheme not in ("OAuth", "Bearer") or not tok:
            return id_error(401, "missing authorization token")
        g = self.st.valid_token(tok)
        if g is None:
            return id_error(401, "invalid access token")
        body = {"client_id": g["client_id"], "scopes": g["scopes"],
                "expires_in": max(0, int(g["expires"] - time.time()))}
        if g["kind"] == "user":
            body["login"] = g["login"]
            body["user_id"] = g["user_id"]
        else:
            body["scopes"] = None  # app tokens: null (section 9 #24)
        return 200, body, {}

    def oauth_revoke(self, rq):
        st = self.st
        cid = self.param(rq, "client_id")
        if not cid:
            return id_error(404, "missing client id")
        g = st.tokens.get(self.param(rq, "token") or "")
        if g is None or g["revoked"] or g["client_id"] != cid:
            return id_error(400, "Invalid token")
        g["revoked"] = True
        # Revoking the access token ends the grant (section 6.8).
        st.refresh.pop(g.get("refresh_token", ""), None)
        return 200, None, {}

    def oauth_authorize(self, rq):
        st = self.st
        q = {k: v[0] for k, v in rq["query"].items()}
        if q.get("client_id") not in st.clients or \
                q.get("response_type") != "code" or not q.get("redirect_uri"):
            return 400, "bad authorize request", {}
        red = q["redirect_uri"]
        params = {"state": q.get("state", "")}
        if st.config["authorize"] == "deny":
            params.update({"error": "access_denied",
                           "error_description": "The user denied you access"})
        else:
            code = rand_token(30)
            scopes = (q.get("scope") or "").split()
            st.codes[code] = {"client_id": q["client_id"], "redirect_uri": red,
                              "scopes": scopes, "login": st.config["login"]}
            params.update({"code": code, "scope": " ".join(scopes)})
        loc = red + ("&" if "?" in red else "?") + \
            urllib.parse.urlencode(params, quote_via=urllib.parse.quote)
        return 302, None, {"Location": loc}

    # --- Helix ---

    def helix_auth(self, rq):
        """(grant, None) or (None, error answer), as section 7.1 says."""
        h = rq["headers"]
        cid = h.get("client-id")
        auth = h.get("authorization", "")
        if not cid or not auth:
            return None, helix_error(401, "OAuth token is missing")
        scheme, _, tok = auth.partition(" ")
        if scheme != "Bearer":
            return None, helix_error(401, "Invalid OAuth token")
        g = self.st.valid_token(tok)
        if g is None:
            return None, helix_error(401, "Invalid OAuth token")
        if g["client_id"] != cid:
            return None, helix_error(401,
                                     "Client ID and OAuth token do not match")
        return g, None

    def helix_users(self, rq):
        st = self.st
        g, err = self.helix_auth(rq)
        if err:
            return err
        logins = rq["query"].get("login", [])
        ids = rq["query"].get("id", [])
        if len(logins) + len(ids) > 100:
            return helix_error(400, "The sum of id and login parameters "
                               "exceeds the maximum of 100")
        if not logins and not ids:
            if g["kind"] != "user":
                return helix_error(400, "Missing required parameter "
                                   "\"id\" or \"login\"")
            ids = [g["user_id"]]
        found = []
        for lg, uid in st.users:
            if lg in [x.lower() for x in logins] or uid in ids:
                found.append({
                    "id": uid, "login": lg, "display_name": lg.capitalize(),
                    "type": "", "broadcaster_type": "affiliate",
                    "description": "", "profile_image_url": "",
                    "offline_image_url": "", "view_count": 0,
                    "created_at": "2019-06-02T14:51:09Z"})
        return 200, {"data": found}, {}

    def public_sub(self, s):
        return {k: v for k, v in s.items() if not k.startswith("_")}

    def owns(self, g, s):
        if g["kind"] == "app":
            return s["_owner"] == ("app", g["client_id"])
        return s["_owner"] == ("user", g["client_id"], g["user_id"])

    def es_create(self, rq):
        st = self.st
        g, err = self.helix_auth(rq)
        if err:
            return err
        b = rq["json"]
        if not isinstance(b, dict):
            return helix_error(400, "malformed JSON body")
        typ, ver = b.get("type"), b.get("version")
        cond, tr = b.get("condition"), b.get("transport")
        if not isinstance(typ, str) or not isinstance(ver, str) or \
                not isinstance(cond, dict) or not isinstance(tr, dict):
            return helix_error(400, "type, version, condition and transport "
                               "are required")
        if (typ, ver) in GONE:
            return helix_error(410, "This subscription type is not "
                               "available.")
        if typ not in TYPES or TYPES[typ][0] != ver:
            return helix_error(400, "invalid subscription type and version")
        need, scope = TYPES[typ][1], TYPES[typ][2]
        for k in need:
            if not isinstance(cond.get(k), str) or not cond[k]:
                return helix_error(400, "missing condition " + k)
        if typ == "channel.raid" and \
                (("from_broadcaster_user_id" in cond) ==
                 ("to_broadcaster_user_id" in cond)):
            return helix_error(400, "channel.raid needs exactly one of "
                               "from_broadcaster_user_id and "
                               "to_broadcaster_user_id")
        method = tr.get("method")
        out_tr = {"method": method}
        if method == "websocket":
            if g["kind"] != "user":
                return helix_error(400,
                                   "invalid transport and auth combination")
            sid = tr.get("session_id")
            if not sid:
                return helix_error(400, "session_id is required for the "
                                   "websocket transport")
            known = st.config["ws_sessions"]
            if known is not None and sid not in known:
                return helix_error(400, "websocket transport session does "
                                   "not exist or has already disconnected")
            if st.ws_hooks is not None:
                owner = ("user", g["client_id"], g.get("user_id"))
                err = st.ws_hooks.check(sid, owner,
                                        0 if TYPES[typ][2] else 1, st)
                if err:
                    return helix_error(*err)
            out_tr.update({"session_id": sid, "connected_at": now_rfc3339()})
            status = "enabled"
        elif method == "webhook":
            if g["kind"] != "app":
                return helix_error(400,
                                   "invalid transport and auth combination")
            cb, sec = tr.get("callback"), tr.get("secret")
            if not isinstance(cb, str) or not cb.startswith("https://"):
                return helix_error(400, "invalid callback: it must use "
                                   "https on port 443")
            if not isinstance(sec, str) or not 10 <= len(sec) <= 100:
                return helix_error(400, "secret must be between 10 and 100 "
                                   "characters")
            out_tr["callback"] = cb
            status = "webhook_callback_verification_pending"
        elif method == "conduit":
            if g["kind"] != "app":
                return helix_error(400,
                                   "invalid transport and auth combination")
            if not tr.get("conduit_id"):
                return helix_error(400, "conduit_id is required")
            out_tr["conduit_id"] = tr["conduit_id"]
            status = "enabled"
        else:
            return helix_error(400, "invalid transport method")
        if g["kind"] == "user" and scope:
            # A user token must carry the scope, and be the token of the
            # user the condition names (section 3.0).
            if typ == "channel.follow":
                who = cond.get("moderator_user_id")
            elif typ == "channel.chat.notification":
                who = cond.get("user_id")
            else:
                who = cond.get("broadcaster_user_id")
            if scope not in g["scopes"] or who != g["user_id"]:
                return helix_error(403, "subscription missing proper "
                                   "authorization")
        for s in st.subs:
            if self.owns(g, s) and s["type"] == typ and \
                    s["version"] == ver and s["condition"] == cond and \
                    s["transport"]["method"] == method and \
                    s["transport"].get("session_id") == \
                    out_tr.get("session_id") and \
                    s["transport"].get("callback") == out_tr.get("callback"):
                return helix_error(409, "subscription already exists")
        owner = ("app", g["client_id"]) if g["kind"] == "app" else \
            ("user", g["client_id"], g["user_id"])
        sub = {"id": str(uuid.uuid4()), "status": status, "type": typ,
               "version": ver, "condition": cond,
               "created_at": now_rfc3339(), "transport": out_tr,
               "cost": 0 if scope else 1, "_owner": owner}
        st.subs.append(sub)
        if method == "websocket" and st.ws_hooks is not None:
            st.ws_hooks.subscribed(sub)
        mine = [s for s in st.subs if s["_owner"] == owner]
        return 202, {"data": [self.public_sub(sub)], "total": len(mine),
                     "total_cost": sum(s["cost"] for s in mine),
                     "max_total_cost": 10 if method == "websocket"
                     else 10000}, {}

    def es_list(self, rq):
        st = self.st
        g, err = self.helix_auth(rq)
        if err:
            return err
        q = {k: v[0] for k, v in rq["query"].items()}
        filters = [k for k in ("status", "type", "user_id") if k in q]
        if len(filters) > 1:
            return helix_error(400, "only one of status, type and user_id "
                               "may be given")
        mine = [s for s in st.subs if self.owns(g, s)]
        sel = mine
        if "status" in q:
            sel = [s for s in sel if s["status"] == q["status"]]
        if "type" in q:
            sel = [s for s in sel if s["type"] == q["type"]]
        if "user_id" in q:
            sel = [s for s in sel if q["user_id"] in s["condition"].values()]
        start = 0
        if "after" in q:
            try:
                start = int(base64.urlsafe_b64decode(
                    q["after"].encode()).decode().split(":")[1])
            except (ValueError, IndexError):
                return helix_error(400, "invalid cursor")
        size = int(st.config["page_size"])
        page = sel[start:start + size]
        pag = {}
        if start + size < len(sel):
            pag["cursor"] = base64.urlsafe_b64encode(
                ("o:%d" % (start + size)).encode()).decode()
        return 200, {"total": len(mine), "data":
                     [self.public_sub(s) for s in page],
                     "total_cost": sum(s["cost"] for s in mine),
                     "max_total_cost": 10 if g["kind"] == "user" else 10000,
                     "pagination": pag}, {}

    def es_delete(self, rq):
        st = self.st
        g, err = self.helix_auth(rq)
        if err:
            return err
        sid = (rq["query"].get("id") or [None])[0]
        if not sid:
            return helix_error(400, "Missing required parameter \"id\"")
        for s in st.subs:
            if s["id"] == sid and self.owns(g, s):
                st.subs.remove(s)
                if st.ws_hooks is not None and \
                        s["transport"]["method"] == "websocket":
                    st.ws_hooks.deleted(s)
                return 204, None, {}
        return helix_error(404, "subscription not found")


def listen(spec):
    host, _, port = spec.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)


def write_port_file(path, server):
    host, port = server.server_address[:2]
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("%s:%d\n" % (host, port))
    os.replace(tmp, path)


def add_arguments(ap):
    ap.add_argument("--listen", default="127.0.0.1:0")
    ap.add_argument("--port-file")
    ap.add_argument("--tls-listen")
    ap.add_argument("--tls-port-file")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--client", action="append")
    ap.add_argument("--user", action="append")
    ap.add_argument("--login")
    ap.add_argument("--access-ttl", type=int, default=14400)
    ap.add_argument("--page-size", type=int, default=100)
    ap.add_argument("--device-interval", type=int, default=5)
    ap.add_argument("--device-expires", type=int, default=1800)
    ap.add_argument("--approve-after", type=int, default=0)
    ap.add_argument("--slow-down", type=int, action="append")


class Server(ThreadingHTTPServer):
    # socketserver's default backlog of 5 overflows when a loaded test
    # machine stalls this process while several tools connect at once.
    request_queue_size = 128
    daemon_threads = True


def start(args, ws_hooks=None):
    """Serve in background threads; returns the State."""
    Handler.st = State(args)
    Handler.st.ws_hooks = ws_hooks
    servers = []
    plain = Server(listen(args.listen), Handler)
    servers.append(plain)
    if args.tls_listen:
        tls = Server(listen(args.tls_listen), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.cert, args.key)
        tls.socket = ctx.wrap_socket(tls.socket, server_side=True,
                                     do_handshake_on_connect=False)
        servers.append(tls)
        if args.tls_port_file:
            write_port_file(args.tls_port_file, tls)
    if args.port_file:
        write_port_file(args.port_file, plain)
    else:
        print("%s:%d" % plain.server_address[:2], flush=True)
    for s in servers:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    return Handler.st


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_arguments(ap)
    args = ap.parse_args()
    start(args)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    import signal
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    main()

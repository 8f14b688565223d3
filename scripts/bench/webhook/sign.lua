-- wrk script: every request is an EventSub notification with a unique
-- message id, a current timestamp and its HMAC-SHA256 signature
-- (twitch-protocols.md 2.4), computed with OpenSSL through LuaJIT's FFI.
--   TWITCH_EVENTSUB_SECRET  the secret both servers check
--   BENCH_PATH              the callback path (default /eventsub)
--   BENCH_NONCE             up to 8 hex digits, different for every wrk
--                           run (scripts/bench/webhook/run sets it), so
--                           no two runs send the same message ids: the
--                           measured run after the warm-up would send
--                           duplicates, which a receiver does not print
-- The ids are NONCE-THREAD-4000-8000-COUNTER.
local ffi = require("ffi")

ffi.cdef [[
typedef struct evp_md_st EVP_MD;
const EVP_MD *EVP_sha256(void);
unsigned char *HMAC(const EVP_MD *md, const void *key, int key_len,
    const unsigned char *d, size_t n, unsigned char *out,
    unsigned int *out_len);
]]

-- wrk links libcrypto already; load it by name if it is not global.
local ok, crypto = pcall(function()
	local _ = ffi.C.HMAC
	return ffi.C
end)
if not ok then
	crypto = ffi.load("libcrypto.so.3")
end

local secret = os.getenv("TWITCH_EVENTSUB_SECRET") or "s3rvitor-bench-secret"
local path = os.getenv("BENCH_PATH") or "/eventsub"
local md = ffi.new("unsigned char[32]")
local mdlen = ffi.new("unsigned int[1]")
local hex = {}
for i = 0, 255 do
	hex[i] = string.format("%02x", i)
end

local function sign(msg)
	crypto.HMAC(crypto.EVP_sha256(), secret, #secret, msg, #msg, md, mdlen)
	local out = {}
	for i = 0, 31 do
		out[i + 1] = hex[md[i]]
	end
	return "sha256=" .. table.concat(out)
end

-- A channel.follow v2 notification as Twitch sends it (about 600 bytes).
local body = '{"subscription":{"id":"f1c2d3e4-0000-4a5b-8c9d-112233445566",' ..
	'"status":"enabled","type":"channel.follow","version":"2","condition":' ..
	'{"broadcaster_user_id":"1337","moderator_user_id":"1337"},"transport":' ..
	'{"method":"webhook","callback":"https://alerts.example.org/eventsub"},' ..
	'"created_at":"2026-03-01T10:00:00.000000000Z","cost":0},"event":' ..
	'{"user_id":"424242","user_login":"pixelpanda","user_name":"PixelPanda",' ..
	'"broadcaster_user_id":"1337","broadcaster_user_login":"servitorbot",' ..
	'"broadcaster_user_name":"ServitorBot",' ..
	'"followed_at":"2026-03-14T18:22:04.987654321Z"}}'

local threads = 0
function setup(thread)
	thread:set("tid", threads)
	threads = threads + 1
end

local n = 0
local nonce = tonumber(os.getenv("BENCH_NONCE") or "", 16)
if nonce == nil then
	-- LuaJIT's math.random starts from the same seed in every process.
	math.randomseed(os.time())
	nonce = math.random(0, 0x7fffffff)
end
local last_sec, ts = -1, nil
function request()
	n = n + 1
	local id = string.format("%08x-%04x-4000-8000-%012x", nonce, tid or 0, n)
	local now = os.time()
	if now ~= last_sec then
		last_sec = now
		ts = os.date("!%Y-%m-%dT%H:%M:%S", now) .. ".123456789Z"
	end
	return wrk.format("POST", path, {
		["Content-Type"] = "application/json",
		["Twitch-Eventsub-Message-Id"] = id,
		["Twitch-Eventsub-Message-Retry"] = "0",
		["Twitch-Eventsub-Message-Type"] = "notification",
		["Twitch-Eventsub-Message-Timestamp"] = ts,
		["Twitch-Eventsub-Message-Signature"] = sign(id .. ts .. body),
		["Twitch-Eventsub-Subscription-Type"] = "channel.follow",
		["Twitch-Eventsub-Subscription-Version"] = "2",
	}, body)
end

// The receiver a user would write instead of twitch-webhookd: node's http
// module, the same HMAC check (timing-safe), timestamp window, JSON parse,
// dedupe by message id, and the same event line on stdout. Only node's
// standard library.
//   node server.js PORT_FILE   (secret from TWITCH_EVENTSUB_SECRET)
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const http = require('http');

const secret = process.env.TWITCH_EVENTSUB_SECRET;
const seen = new Set();
const maxSeen = 10000;

function answer(res, status, type, body) {
	res.writeHead(status, { 'Content-Type': type });
	res.end(body);
}

const server = http.createServer((req, res) => {
	if (req.method !== 'POST' || req.url !== '/eventsub')
		return answer(res, 404, 'text/plain', 'not found\n');
	const chunks = [];
	let size = 0;
	req.on('data', (c) => {
		size += c.length;
		if (size > 65536)
			req.destroy();
		else
			chunks.push(c);
	});
	req.on('end', () => {
		const body = Buffer.concat(chunks);
		const id = req.headers['twitch-eventsub-message-id'];
		const ts = req.headers['twitch-eventsub-message-timestamp'];
		const sig = req.headers['twitch-eventsub-message-signature'];
		const type = req.headers['twitch-eventsub-message-type'];
		if (!id || !ts || !sig || !type)
			return answer(res, 403, 'text/plain', 'headers missing\n');
		const want = 'sha256=' + crypto.createHmac('sha256', secret)
			.update(id).update(ts).update(body).digest('hex');
		if (sig.length !== want.length ||
		    !crypto.timingSafeEqual(Buffer.from(sig), Buffer.from(want)))
			return answer(res, 403, 'text/plain', 'bad signature\n');
		const age = Date.now() - Date.parse(ts);
		if (!(age < 600000 && age > -60000))
			return answer(res, 403, 'text/plain', 'stale\n');
		let msg;
		try {
			msg = JSON.parse(body);
		} catch (e) {
			return answer(res, 400, 'text/plain', 'bad json\n');
		}
		if (type === 'webhook_callback_verification')
			return answer(res, 200, 'text/plain', msg.challenge);
		if (type === 'notification' && !seen.has(id)) {
			seen.add(id);
			if (seen.size > maxSeen)
				seen.delete(seen.values().next().value);
			process.stdout.write(JSON.stringify({
				id: id, type: msg.subscription.type,
				version: msg.subscription.version,
				source: 'eventsub-webhook',
				time: new Date(Date.parse(ts)).toISOString(),
				event: msg.event,
			}) + '\n');
		}
		answer(res, 204, 'text/plain', '');
	});
});

server.listen(0, '127.0.0.1', () => {
	const f = process.argv[2];
	fs.writeFileSync(f + '.tmp', '127.0.0.1:' + server.address().port + '\n');
	fs.renameSync(f + '.tmp', f);
});
process.on('SIGTERM', () => process.exit(0));

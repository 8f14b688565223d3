// The usual Node.js publisher: amqplib on a ConfirmChannel, at most
// WINDOW unconfirmed messages, the same message properties as amqp-pub.
//   node confirm-pub.js URL EXCHANGE WINDOW < lines.ndjson
'use strict';
const amqp = require('amqplib');
const readline = require('readline');

async function main() {
  const [url, exchange, windowArg] = process.argv.slice(2);
  const window = Number(windowArg || 1000);
  const conn = await amqp.connect(url);
  const ch = await conn.createConfirmChannel();
  await ch.assertExchange(exchange, 'topic', { durable: true });
  let inflight = 0;
  let wake = null;
  const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of rl) {
    let obj;
    try { obj = JSON.parse(line); } catch (e) { continue; }
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) continue;
    while (inflight >= window) await new Promise((r) => { wake = r; });
    inflight++;
    ch.publish(exchange, typeof obj.type === 'string' ? obj.type : 'unrouted',
      Buffer.from(line), {
        contentType: 'application/json', persistent: true,
        messageId: obj.id, type: obj.type,
        timestamp: Math.floor(Date.now() / 1000),
      }, (err) => {
        if (err) console.error('nack');
        inflight--;
        if (wake) { const w = wake; wake = null; w(); }
      });
  }
  await ch.waitForConfirms();
  await conn.close();
}
main().catch((e) => { console.error(e); process.exit(1); });

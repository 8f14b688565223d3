// Bench topology through amqplib: declare, count, purge, delete.
//   node topo.js URL setup QUEUE EXCHANGE KEY [durable]
//   node topo.js URL count|consumers|purge QUEUE
//   node topo.js URL delete QUEUE [EXCHANGE]
'use strict';
const amqp = require('amqplib');

async function main() {
  const [url, cmd, q, x, key, durable] = process.argv.slice(2);
  const conn = await amqp.connect(url);
  const ch = await conn.createChannel();
  if (cmd === 'setup') {
    await ch.assertExchange(x, 'topic', { durable: true });
    await ch.assertQueue(q, { durable: durable === 'durable', autoDelete: false });
    await ch.bindQueue(q, x, key);
  } else if (cmd === 'count') {
    console.log((await ch.checkQueue(q)).messageCount);
  } else if (cmd === 'consumers') {
    console.log((await ch.checkQueue(q)).consumerCount);
  } else if (cmd === 'purge') {
    await ch.purgeQueue(q);
  } else if (cmd === 'delete') {
    await ch.deleteQueue(q);
    if (x) await ch.deleteExchange(x);
  }
  await conn.close();
}
main().catch((e) => { console.error(e.message); process.exit(1); });

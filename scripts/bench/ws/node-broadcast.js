// The peer of scripts/bench/ws: a broadcast server written the usual way
// with node's `ws` package. Every stdin line goes to every open client;
// at the end of stdin it closes them with 1001 and exits.
//
//   NODE_PATH=build/bench/node_modules node node-broadcast.js PORTFILE
"use strict";
const fs = require("fs");
const readline = require("readline");
const { WebSocketServer, WebSocket } = require("ws");

const portFile = process.argv[2];
const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 }, () => {
  fs.writeFileSync(portFile + ".tmp", `127.0.0.1:${wss.address().port}\n`);
  fs.renameSync(portFile + ".tmp", portFile);
});
const rl = readline.createInterface({ input: process.stdin });
rl.on("line", (line) => {
  for (const c of wss.clients) if (c.readyState === WebSocket.OPEN) c.send(line);
});
rl.on("close", () => {
  for (const c of wss.clients) c.close(1001);
  setTimeout(() => process.exit(0), 200);
});

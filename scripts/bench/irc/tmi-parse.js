// Parse every line of an IRC log with tmi.js's own parser, in one node
// process, as a tmi.js client would: the baseline for twitch-irc-hosts.
"use strict";
const fs = require("fs");
const parser = require("tmi.js/lib/parser");

const data = fs.readFileSync(process.argv[2], "utf8");
const t0 = process.hrtime.bigint();
let n = 0, cmds = 0;
for (const line of data.split("\r\n")) {
	if (line.length === 0) continue;
	const m = parser.msg(line);
	if (m !== null) {
		n++;
		if (m.command === "USERNOTICE") cmds++;
	}
}
const ms = Number(process.hrtime.bigint() - t0) / 1e6;
console.error(`tmi.js: ${n} lines parsed (${cmds} USERNOTICE) in ${ms.toFixed(0)} ms`);

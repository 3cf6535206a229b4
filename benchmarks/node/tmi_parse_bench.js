// Peer figure for benchmarks/chat_parse.py: tmi.js's own IRC parser on the same lines.
// Usage: node tmi_parse_bench.js <lines.json> <rounds>
// Prints one JSON object: the best lines/s of parse.msg alone, and of parse.msg followed by
// the tag unescaping tmi.js's client does before using the tags (the work our parser does).
// Time is CPU time (process.cpuUsage), like the Python side (time.process_time), so a busy
// machine skews both sides alike.
"use strict";

const fs = require("fs");
const path = require("path");

const parser = require(path.join(__dirname, "node_modules", "tmi.js", "lib", "parser.js"));
const utils = require(path.join(__dirname, "node_modules", "tmi.js", "lib", "utils.js"));
const tmiVersion = require(path.join(__dirname, "node_modules", "tmi.js", "package.json")).version;

const lines = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const rounds = Number(process.argv[3] || 5);

function timeRound(withUnescape) {
  let sink = 0;
  const start = process.cpuUsage();
  for (let i = 0; i < lines.length; i++) {
    const msg = parser.msg(lines[i]);
    if (msg === null) continue;
    if (withUnescape) {
      const tags = msg.tags;
      for (const key in tags) {
        const value = tags[key];
        if (typeof value === "string") tags[key] = utils.unescapeIRC(value);
      }
    }
    sink += msg.params.length;
  }
  const used = process.cpuUsage(start); // CPU time of this process (user + system)
  const seconds = (used.user + used.system) / 1e6;
  return { seconds, sink };
}

function best(withUnescape) {
  timeRound(withUnescape); // warm-up: let the JIT compile the parser first
  let fastest = Infinity;
  for (let r = 0; r < rounds; r++) {
    fastest = Math.min(fastest, timeRound(withUnescape).seconds);
  }
  return lines.length / fastest;
}

const parseOnly = best(false);
const parseAndUnescape = best(true);
process.stdout.write(
  JSON.stringify({
    tmi_version: tmiVersion,
    node_version: process.version,
    parse_msg_lines_per_s: parseOnly,
    parse_msg_unescape_lines_per_s: parseAndUnescape,
  }) + "\n"
);

// Node 20 + better-sse: the same API subset as the floor (benchmarks/peers/contract.py).
// Run: node server.js PORT JWT_SECRET PUBLISH_TOKEN   (after `npm ci` in this folder)
//
// better-sse's own encoding is spec-compliant SSE the load generator cannot read: it writes
// `event:lt` before `id:1`, with no space after the colon. So the peer writes its fields
// through better-sse's public options: a sanitizer that puts the space back, and one
// EventBuffer per notification (id, event, data, in the generator's order), sent to each of
// its sessions with `session.batch` (one write per event per stream, as `session.push`).
//
// The token is checked with node:crypto (HS256 signature, alg, exp): jsonwebtoken 9 costs
// ≈ 300 µs per verify on this machine, 70× an HMAC check, and would be most of a connect.
import crypto from "node:crypto";
import http from "node:http";

import { createEventBuffer, Session } from "better-sse";

const [port, secret, publishToken] = process.argv.slice(2);
const spaced = (text) => " " + text.replace(/(\r\n|\r|\n)/g, "\n").replace(/\n+$/g, "");
const users = new Map(); // user id -> Set<Session>
let counter = 0;

function reply(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

function userOf(authorization) {
  const [header, payload, signature = ""] = (authorization ?? "").slice(7).split(".");
  const expected = crypto.createHmac("sha256", secret).update(`${header}.${payload}`).digest();
  const given = Buffer.from(signature, "base64url");
  if (given.length !== expected.length || !crypto.timingSafeEqual(given, expected)) return null;
  try {
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString());
    const alg = JSON.parse(Buffer.from(header, "base64url").toString()).alg;
    return alg === "HS256" && claims.exp > Date.now() / 1000 && claims.sub != null ? String(claims.sub) : null;
  } catch {
    return null;
  }
}

function stream(req, res) {
  const user = userOf(req.headers.authorization);
  if (user === null) return reply(res, 401, {});
  const session = new Session(req, res, { sanitizer: spaced });
  session.once("connected", () => {
    session.batch(createEventBuffer({ sanitizer: spaced }).id("0").event("connected").data({}).dispatch());
    if (!users.has(user)) users.set(user, new Set());
    users.get(user).add(session);
  });
  session.once("disconnected", () => {
    const held = users.get(user);
    held?.delete(session);
    if (held?.size === 0) users.delete(user);
  });
}

function publish(req, res) {
  if (req.headers.authorization !== `Bearer ${publishToken}`) return reply(res, 401, {});
  const chunks = [];
  req.on("data", (chunk) => chunks.push(chunk));
  req.on("end", () => {
    const document = JSON.parse(Buffer.concat(chunks).toString());
    const ids = [];
    for (const item of document.notifications ?? [document]) {
      const id = String(++counter);
      ids.push(id);
      const buffer = createEventBuffer({ sanitizer: spaced }).id(id).event(item.event ?? "notification").data(item.data).dispatch();
      const targets = item.broadcast ? users.keys() : (item.user_ids ?? [item.user_id]);
      for (const target of targets) for (const session of users.get(target) ?? []) session.batch(buffer);
    }
    reply(res, 202, { ids });
  });
}

const server = http.createServer((req, res) => {
  const path = req.url.split("?")[0];
  if (path === "/v1/stream" && req.method === "GET") return stream(req, res);
  if (path === "/v1/notifications" && req.method === "POST") return publish(req, res);
  reply(res, path === "/healthz" ? 200 : 404, {});
});
server.keepAliveTimeout = 75_000;
server.listen(Number(port), "127.0.0.1", 4096);
process.on("SIGTERM", () => process.exit(0));

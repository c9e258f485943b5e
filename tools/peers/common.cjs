// What both peer servers share (tools/peers/*/server.*): the viewer read from the
// bearer token, the pg pool, and the node:cluster supervisor. scripts/bench copies this
// file beside each installed server.
"use strict";
const cluster = require("node:cluster");
const crypto = require("node:crypto");

function decode(segment) {
  return JSON.parse(Buffer.from(segment, "base64url").toString("utf8"));
}

// The viewer of a request, as the benchmark's floor reads it (scripts/benchmark/floor.py):
// an HS256 bearer token signed with JWT_SECRET, of issuer JWT_ISSUER and audience
// JWT_AUDIENCE, unexpired, whose `sub` is a user id. The reader returns the id as a
// string, or "" (the peer's SQL then answers as for nobody: viewer and workspace null).
function viewerReader(env) {
  const secret = Buffer.from(env.JWT_SECRET || "", "utf8");
  const issuer = env.JWT_ISSUER || "harmony-dev";
  const audience = env.JWT_AUDIENCE || "harmony-gateway";
  return function viewerId(authorization) {
    const match = /^Bearer\s+(\S+)$/i.exec(authorization || "");
    if (!match || secret.length === 0) return "";
    const parts = match[1].split(".");
    if (parts.length !== 3) return "";
    try {
      const expected = crypto.createHmac("sha256", secret).update(`${parts[0]}.${parts[1]}`).digest();
      const given = Buffer.from(parts[2], "base64url");
      if (given.length !== expected.length || !crypto.timingSafeEqual(given, expected)) return "";
      if (decode(parts[0]).alg !== "HS256") return "";
      const claims = decode(parts[1]);
      const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
      if (claims.iss !== issuer || !audiences.includes(audience)) return "";
      if (!(claims.exp > Date.now() / 1000) || !/^[0-9]+$/.test(String(claims.sub))) return "";
      return String(claims.sub);
    } catch {
      return "";
    }
  };
}

// One process's pg pool: POOL_SIZE connections kept open (their backends' CPU is read
// per run), named PEER_APP_NAME in pg_stat_activity.
function makePool(Pool, env) {
  return new Pool({
    connectionString: env.PEER_DATABASE_URL,
    max: Number(env.POOL_SIZE || 10),
    idleTimeoutMillis: 0,
    application_name: env.PEER_APP_NAME || "harmony-bench-peer",
  });
}

// The port scripts/bench gives (`--host 127.0.0.1 --port N`).
function portArgument(argv) {
  return Number(argv[argv.indexOf("--port") + 1]);
}

// PEER_PROCESSES (default 1) processes under node:cluster, each running `serve()`; the
// primary only supervises, and exits when one of them dies.
function serveClustered(env, serve) {
  if (!cluster.isPrimary) {
    serve();
    return;
  }
  const processes = Number(env.PEER_PROCESSES || 1);
  for (let i = 0; i < processes; i++) cluster.fork();
  cluster.on("exit", (worker, code) => {
    console.error(`process ${worker.process.pid} exited (${code})`);
    process.exit(1);
  });
}

module.exports = { viewerReader, makePool, portArgument, serveClustered };

// The viewer of a request, as the benchmark's floor reads it (scripts/benchmark/floor.py):
// an HS256 bearer token signed with JWT_SECRET, of issuer JWT_ISSUER and audience
// JWT_AUDIENCE, unexpired, whose `sub` is a user id. Returns the id as a string, or ""
// (the peer's SQL then answers as it does for nobody: viewer null, workspace null).
"use strict";
const crypto = require("node:crypto");

function decode(segment) {
  return JSON.parse(Buffer.from(segment, "base64url").toString("utf8"));
}

function makeReader(env) {
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

module.exports = { makeReader };

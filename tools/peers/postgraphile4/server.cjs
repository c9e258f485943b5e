// PostGraphile 4 (library mode on node:http) over the bench database's schema `peer`
// (scripts/benchmark/peers.py writes it), as scripts/bench --peers runs it: production
// options (no query log, no GraphiQL, no watch), PEER_PROCESSES Node processes under
// node:cluster, each with a pg pool of POOL_SIZE. The viewer comes from the bearer token
// (bearer.cjs) and reaches SQL as the setting app.user_id: PostGraphile then runs each
// request in a transaction that sets it first.
//   node server --port N   (scripts/bench passes --host 127.0.0.1 --port N)
//   PEER_DATABASE_URL  PEER_PROCESSES (1)  POOL_SIZE (10)  PEER_APP_NAME
//   JWT_SECRET  JWT_ISSUER  JWT_AUDIENCE
"use strict";
const cluster = require("node:cluster");
const http = require("node:http");

const processes = Number(process.env.PEER_PROCESSES || 1);
if (cluster.isPrimary) {
  for (let i = 0; i < processes; i++) cluster.fork();
  cluster.on("exit", (worker, code) => {
    console.error(`process ${worker.process.pid} exited (${code})`);
    process.exit(1);
  });
} else {
  const { Pool } = require("pg");
  const { postgraphile } = require("postgraphile");
  const { makeReader } = require("./bearer.cjs");

  const viewerId = makeReader(process.env);
  const pool = new Pool({
    connectionString: process.env.PEER_DATABASE_URL,
    max: Number(process.env.POOL_SIZE || 10),
    idleTimeoutMillis: 0,
    application_name: process.env.PEER_APP_NAME || "harmony-bench-postgraphile4",
  });
  const handler = postgraphile(pool, ["peer"], {
    graphiql: false,
    disableQueryLog: true,
    watchPg: false,
    retryOnInitFail: false,
    ignoreRBAC: true,
    disableDefaultMutations: true,
    setofFunctionsContainNulls: false,
    pgSettings: (req) => ({ "app.user_id": viewerId(req.headers.authorization) }),
  });
  const port = Number(process.argv[process.argv.indexOf("--port") + 1]);
  http.createServer(handler).listen(port, "127.0.0.1", () => {
    console.log(`postgraphile4 ${process.pid} listening on ${port}`);
  });
}

// PostGraphile 4 (library mode on node:http) over the bench database's schema `peer`
// (scripts/benchmark/peer_schema.py), as scripts/bench --peers runs it: production
// options (no query log, no GraphiQL, no watch), PEER_PROCESSES processes under
// node:cluster, each with a pg pool of POOL_SIZE. The viewer comes from the bearer token
// and reaches SQL as the setting app.user_id: PostGraphile then runs each request in a
// transaction that sets it first.
//   node server.cjs --host 127.0.0.1 --port N
//   PEER_DATABASE_URL  PEER_PROCESSES (1)  POOL_SIZE (10)  PEER_APP_NAME
//   JWT_SECRET  JWT_ISSUER  JWT_AUDIENCE
"use strict";
const http = require("node:http");
const { viewerReader, makePool, portArgument, serveClustered } = require("./common.cjs");

serveClustered(process.env, () => {
  const { Pool } = require("pg");
  const { postgraphile } = require("postgraphile");

  const viewerId = viewerReader(process.env);
  const handler = postgraphile(makePool(Pool, process.env), ["peer"], {
    graphiql: false,
    disableQueryLog: true,
    watchPg: false,
    retryOnInitFail: false,
    ignoreRBAC: true,
    disableDefaultMutations: true,
    setofFunctionsContainNulls: false,
    pgSettings: (req) => ({ "app.user_id": viewerId(req.headers.authorization) }),
  });
  const port = portArgument(process.argv);
  http.createServer(handler).listen(port, "127.0.0.1", () => {
    console.log(`postgraphile4 ${process.pid} listening on ${port}`);
  });
});

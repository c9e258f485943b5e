// PostGraphile 5 (amber preset, grafserv on node:http; Node 22) over the bench database's
// schema `peer` (scripts/benchmark/peers.py writes it), as scripts/bench --peers runs it:
// no GraphiQL, no watch, no explain, PEER_PROCESSES Node processes under node:cluster,
// each with a pg pool of POOL_SIZE. The viewer comes from the bearer token (bearer.cjs)
// and reaches SQL as the setting app.user_id: PostGraphile then runs each request in a
// transaction that sets it first.
//   node server --port N   (scripts/bench passes --host 127.0.0.1 --port N)
//   PEER_DATABASE_URL  PEER_PROCESSES (1)  POOL_SIZE (10)  PEER_APP_NAME
//   JWT_SECRET  JWT_ISSUER  JWT_AUDIENCE
import cluster from "node:cluster";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import pg from "pg";
import { postgraphile } from "postgraphile";
import { makePgService } from "postgraphile/adaptors/pg";
import { grafserv } from "postgraphile/grafserv/node";
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";

const { makeReader } = createRequire(import.meta.url)("./bearer.cjs");
const processes = Number(process.env.PEER_PROCESSES || 1);
const port = Number(process.argv[process.argv.indexOf("--port") + 1]);

if (cluster.isPrimary) {
  for (let i = 0; i < processes; i++) cluster.fork();
  cluster.on("exit", (worker, code) => {
    console.error(`process ${worker.process.pid} exited (${code})`);
    process.exit(1);
  });
} else {
  const viewerId = makeReader(process.env);
  const pool = new pg.Pool({
    connectionString: process.env.PEER_DATABASE_URL,
    max: Number(process.env.POOL_SIZE || 10),
    idleTimeoutMillis: 0,
    application_name: process.env.PEER_APP_NAME || "harmony-bench-postgraphile5",
  });
  const preset = {
    extends: [PostGraphileAmberPreset],
    pgServices: [makePgService({ pool, schemas: ["peer"] })],
    grafserv: { port, graphqlPath: "/graphql", graphiql: false, watch: false },
    grafast: {
      explain: false,
      context(requestContext) {
        const authorization = requestContext.node?.req?.headers.authorization;
        return { pgSettings: { "app.user_id": viewerId(authorization) } };
      },
    },
  };
  const serv = postgraphile(preset).createServ(grafserv);
  const server = createServer();
  server.on("error", (error) => {
    console.error(error);
    process.exit(1);
  });
  serv
    .addTo(server)
    .then(() =>
      server.listen(port, "127.0.0.1", () => {
        console.log(`postgraphile5 ${process.pid} listening on ${port}`);
      }),
    )
    .catch((error) => {
      console.error(error);
      process.exit(1);
    });
}

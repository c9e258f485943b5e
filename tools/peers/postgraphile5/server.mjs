// PostGraphile 5 (amber preset, grafserv on node:http; Node 22) over the bench database's
// schema `peer` (scripts/benchmark/peer_schema.py), as scripts/bench --peers runs it: no
// GraphiQL, no watch, no explain, PEER_PROCESSES processes under node:cluster, each with
// a pg pool of POOL_SIZE. The viewer comes from the bearer token and reaches SQL as the
// setting app.user_id: PostGraphile then runs each request in a transaction that sets it
// first.
//   node server.mjs --host 127.0.0.1 --port N
//   PEER_DATABASE_URL  PEER_PROCESSES (1)  POOL_SIZE (10)  PEER_APP_NAME
//   JWT_SECRET  JWT_ISSUER  JWT_AUDIENCE
import { createServer } from "node:http";
import { createRequire } from "node:module";
import pg from "pg";
import { postgraphile } from "postgraphile";
import { makePgService } from "postgraphile/adaptors/pg";
import { grafserv } from "postgraphile/grafserv/node";
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";

const { viewerReader, makePool, portArgument, serveClustered } =
  createRequire(import.meta.url)("./common.cjs");

serveClustered(process.env, () => {
  const viewerId = viewerReader(process.env);
  const port = portArgument(process.argv);
  const preset = {
    extends: [PostGraphileAmberPreset],
    pgServices: [makePgService({ pool: makePool(pg.Pool, process.env), schemas: ["peer"] })],
    grafserv: { port, graphqlPath: "/graphql", graphiql: false, watch: false },
    grafast: {
      explain: false,
      context(requestContext) {
        const authorization = requestContext.node?.req?.headers.authorization;
        return { pgSettings: { "app.user_id": viewerId(authorization) } };
      },
    },
  };
  const server = createServer();
  server.on("error", (error) => {
    console.error(error);
    process.exit(1);
  });
  postgraphile(preset)
    .createServ(grafserv)
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
});

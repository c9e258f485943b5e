"""Self-hosted GraphiQL: the page (app.graphiql.page) and its assets (static/, built from
tools/graphiql/ and committed; see tools/graphiql/README.md)."""

// The graphql-http server audit (GraphQL over HTTP conformance) against a live gateway.
//
//   HTTP_AUDIT_TOKEN=<bearer token> node tools/http-audit/audit.mjs http://127.0.0.1:8000/graphql
//
// The gateway authenticates before it parses, so every audit request carries
// `Authorization: Bearer $HTTP_AUDIT_TOKEN` (mint one with `python -m app token EMAIL`).
// The audits run one after the other (the suite's own runner sends them all at once,
// which would measure the admission queue rather than the protocol). Prints one line per
// audit and a summary; exits 1 on any error or warning (a failed MUST or SHOULD), 2 when
// the audit could not run.

import { serverAudits } from 'graphql-http';

const url = process.argv[2];
const token = process.env.HTTP_AUDIT_TOKEN;
if (!url || !token) {
  console.error('usage: HTTP_AUDIT_TOKEN=<bearer token> node audit.mjs <graphql endpoint URL>');
  process.exit(2);
}

async function authenticatedFetch(input, init = {}) {
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${token}`);
  return fetch(input, { ...init, headers });
}

const counts = { ok: 0, notice: 0, warn: 0, error: 0 };
for (const { fn } of serverAudits({ url, fetchFn: authenticatedFetch })) {
  let result;
  try {
    result = await fn();
  } catch (error) {
    // not an audit's verdict: the server could not be reached, or answered no HTTP
    console.error(`the audit could not run: ${error}${error.cause ? ` (${error.cause})` : ''}`);
    process.exit(2);
  }
  counts[result.status] += 1;
  let line = `${result.status.padEnd(6)} ${result.id} ${result.name}`;
  if (result.status !== 'ok') {
    const response = result.response;
    const body = response ? await response.text().catch(() => '') : '';
    const type = response ? response.headers.get('content-type') : '';
    line += `\n       ${result.reason}\n       got ${response?.status} ${type} ${body.slice(0, 300)}`;
  }
  console.log(line);
}
console.log(
  `graphql-http audit: ${counts.ok} ok, ${counts.notice} notices, ` +
    `${counts.warn} warnings, ${counts.error} errors`,
);
process.exit(counts.warn + counts.error > 0 ? 1 : 0);

// Writes ../../app/graphiql/static/LICENSES.txt: name, version, licence and licence text
// of every package the bundle may contain (the lock file's non-dev packages).
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const lock = JSON.parse(readFileSync('package-lock.json', 'utf8'));
const parts = [
  'Third-party software in this folder (built by tools/graphiql/ from the pinned',
  'packages of its package-lock.json). Each package, its version, its licence:',
  '',
];
const entries = Object.entries(lock.packages)
  .filter(([path, meta]) => path.startsWith('node_modules/') && !meta.dev)
  .sort(([a], [b]) => a.localeCompare(b));
for (const [path, meta] of entries) {
  const name = path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
  const files = readdirSync(path).filter((f) => /^(licen[cs]e|copying|notice)/i.test(f));
  parts.push('='.repeat(78), `${name}@${meta.version} (${meta.license ?? 'see below'})`, '');
  if (!files.length) parts.push(`(no licence file in the package; declared: ${meta.license})`, '');
  for (const file of files.sort()) parts.push(readFileSync(join(path, file), 'utf8').trim(), '');
}
writeFileSync('../../app/graphiql/static/LICENSES.txt', parts.join('\n') + '\n');
console.log(`LICENSES.txt: ${entries.length} packages`);

// What the generated OpenAPI document promises beyond Redocly's rules: every success answer
// that carries content has a schema (docs/api.md, "Which routes declare schemas"), 204 and
// redirects carry none, and the routes that create, accept or answer nothing declare 201, 202,
// 204 or 302 rather than a 200 they never send.
import { readFileSync } from 'node:fs';

const document = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const failures = [];
const expected = {
  'post /api/v1/orgs': ['201'],
  'post /api/v1/orgs/{org_id}/oauth-clients': ['201'],
  'post /api/v1/admin/firewall/ip-rules': ['201'],
  'post /api/v1/auth/signup': ['202'],
  'post /api/v1/auth/logout': ['204'],
  'delete /api/v1/orgs/{org_id}/api-keys/{key_id}': ['204'],
  'get /oauth2/authorize': ['302'],
  'post /oauth2/token': ['200'],
};
for (const [path, item] of Object.entries(document.paths)) {
  for (const [method, operation] of Object.entries(item)) {
    const name = `${method} ${path}`;
    const successes = Object.keys(operation.responses).filter((status) => /^[23]/.test(status));
    if (successes.length === 0) failures.push(`${name}: no success or redirect status`);
    for (const status of successes) {
      const answer = operation.responses[status];
      const empty = status === '204' || status.startsWith('3');
      if (empty && answer.content) failures.push(`${name} ${status}: has content`);
      if (!empty) {
        const media = Object.values(answer.content ?? {});
        if (media.length === 0 || media.some((entry) => !entry.schema)) {
          failures.push(`${name} ${status}: no response schema`);
        }
      }
    }
    if (expected[name] && successes.join(',') !== expected[name].join(',')) {
      failures.push(`${name}: declares ${successes.join(',')}, expected ${expected[name]}`);
    }
    delete expected[name];
  }
}
for (const name of Object.keys(expected)) failures.push(`${name}: missing from the document`);
if (failures.length > 0) {
  console.error(failures.join('\n'));
  process.exit(1);
}
console.log('every success answer is described');

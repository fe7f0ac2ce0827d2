#!/bin/bash
# 31_http_node: the HTTP API from a Node client (the built-in fetch, as an
# application would call it): every endpoint, auth errors, problem+json,
# validation, idempotency under concurrent repeats (Promise.all), a batch, and
# keep-alive (undici reuses connections). Prints TAP lines.
. "$(dirname "$0")/http_setup.sh"

command -v node >/dev/null || { echo "node missing"; exit 77; }
export U KEY AKEY OKEY
node - >"$T/node.out" 2>&1 <<'JS'
const { U, KEY, AKEY, OKEY } = process.env;
let n = 0, failed = 0;
const ok = (cond, name, extra) => {
  n++;
  if (cond) console.log(`ok ${n} - ${name}`);
  else { failed++; console.log(`not ok ${n} - ${name}`); if (extra !== undefined) console.log('# ' + JSON.stringify(extra)); }
};
const call = async (method, path, { key, body, headers = {} } = {}) => {
  const h = { ...headers };
  if (key) h.authorization = `Bearer ${key}`;
  if (body !== undefined) h['content-type'] = 'application/json';
  const r = await fetch(U + path, { method, headers: h,
    body: body === undefined ? undefined : (typeof body === 'string' ? body : JSON.stringify(body)) });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch (e) {}
  return { status: r.status, type: r.headers.get('content-type'), json, text };
};
const isProblem = (r, status, field) => r.status === status && r.type === 'application/problem+json' &&
  r.json && r.json.status === status && typeof r.json.type === 'string' && typeof r.json.title === 'string' &&
  (field === undefined || (r.json.errors || []).some(e => e.field === field && typeof e.message === 'string'));
const msg = (extra = {}) => ({ from: 'Shop <orders@shop.example>', to: ['a@x.example', { email: 'b@y.example', name: 'B' }],
  subject: 'Node', text: 'hello', html: '<p>hello</p>', tags: ['node'], metadata: { k: 'v' }, stream: 'transactional', ...extra });

(async () => {
  let r = await call('GET', '/healthz');
  ok(r.status === 200 && r.json.status === 'ok', 'GET /healthz');
  const queued0 = r.json.queued;

  r = await call('POST', '/v1/messages', { body: msg() });
  ok(isProblem(r, 401), '401 without a key', r.json);
  r = await call('POST', '/v1/messages', { key: 'hm_nope', body: msg() });
  ok(isProblem(r, 401), '401 with a bad key');
  r = await call('POST', '/v1/domains', { key: KEY, body: { domain: 'n.example' } });
  ok(isProblem(r, 403), '403 send key on an admin endpoint');

  r = await call('POST', '/v1/messages', { key: KEY, body: msg() });
  ok(r.status === 202 && typeof r.json.id === 'string' && r.json.recipients.length === 2 &&
     r.json.recipients.every(x => x.status === 'queued'), 'POST /v1/messages 202', r.json);
  const id = r.json.id;
  r = await call('GET', `/v1/messages/${id}`, { key: KEY });
  ok(r.status === 200 && r.json.id === id && r.json.recipients.map(x => x.email).join() === 'a@x.example,b@y.example' &&
     Array.isArray(r.json.events), 'GET /v1/messages/{id}', r.json);
  r = await call('GET', `/v1/messages/${id}/raw`, { key: KEY });
  ok(r.status === 200 && r.type === 'message/rfc822' && /\r\nSubject: Node\r\n/.test(r.text) &&
     /^Received: from \[/.test(r.text), 'GET /v1/messages/{id}/raw');
  r = await call('GET', `/v1/messages/${id}`, { key: OKEY });
  ok(isProblem(r, 404), "another account's message is 404");

  r = await call('POST', '/v1/messages', { key: KEY, body: msg({ subject: 'x\r\nBcc: evil@x.example' }) });
  ok(isProblem(r, 422, 'subject'), 'CRLF in subject is 422, never a header');
  r = await call('POST', '/v1/messages', { key: KEY, body: msg({ to: [{ email: 'a@x.example', name: 'A\nB' }] }) });
  ok(isProblem(r, 422, 'to[0].name'), 'LF in a name is 422');
  r = await call('POST', '/v1/messages', { key: KEY, body: msg({ headers: { 'X-A': 'v\r\nX-B: w' } }) });
  ok(isProblem(r, 422, 'headers.X-A'), 'CRLF in a header value is 422');
  r = await call('POST', '/v1/messages', { key: KEY, body: msg({ from: 'x@other.example' }) });
  ok(isProblem(r, 422, 'from'), "from on another account's domain is 422");
  r = await call('POST', '/v1/messages', { key: KEY, body: msg({ to: [], cc: [], bcc: [] }) });
  ok(isProblem(r, 422, 'to'), 'no recipient is 422');
  r = await call('POST', '/v1/messages', { key: KEY, body: msg({ text: null, html: null }) });
  ok(isProblem(r, 422, 'text'), 'no body is 422');
  r = await call('POST', '/v1/messages', { key: KEY, body: msg({ attachments: [{ filename: 'a', content: '!!' }] }) });
  ok(isProblem(r, 422, 'attachments[0].content'), 'attachment not base64 is 422');
  r = await call('POST', '/v1/messages', { key: KEY, body: '{"from": ' });
  ok(isProblem(r, 400, 'body'), 'malformed JSON is 400');
  r = await call('POST', '/v1/messages', { key: KEY, body: '{"a":1,"a":2}' });
  ok(isProblem(r, 400, 'body'), 'duplicate keys are 400');
  r = await call('POST', '/v1/messages', { key: KEY, body: '['.repeat(40) + ']'.repeat(40) });
  ok(isProblem(r, 400, 'body'), 'deep JSON is 400');

  // Idempotency: 25 identical requests at once queue one message.
  const before = (await call('GET', '/healthz')).json.queued;
  const ik = 'node-' + Math.random();
  const rs = await Promise.all(Array.from({ length: 25 }, () =>
    call('POST', '/v1/messages', { key: KEY, body: msg(), headers: { 'idempotency-key': ik } })));
  ok(rs.every(x => x.status === 202) && new Set(rs.map(x => x.json.id)).size === 1, '25 concurrent repeats: one id');
  const after = (await call('GET', '/healthz')).json.queued;
  ok(after === before + 1, '25 concurrent repeats: one message queued', { before, after });
  r = await call('POST', '/v1/messages', { key: KEY, body: msg(), headers: { 'idempotency-key': ik } });
  ok(r.status === 202 && r.json.id === rs[0].json.id, 'a later repeat returns the first answer');

  r = await call('POST', '/v1/messages/batch', { key: KEY, body: { messages: [msg(), msg({ from: 'bad' }), msg()] } });
  ok(r.status === 200 && r.json.results.map(x => x.status).join() === '202,422,202' &&
     r.json.results.map(x => x.index).join() === '0,1,2', 'batch: a result per message', r.json);

  r = await call('GET', '/v1/events?limit=5', { key: KEY });
  ok(r.status === 200 && Array.isArray(r.json.events) && r.json.events.length >= 1 && r.json.events.length <= 5 && r.json.events.every(e => e.account && e.type) && typeof r.json.next === 'string', 'GET /v1/events');
  r = await call('POST', '/v1/domains', { key: AKEY, body: { domain: 'Node.Example' } });
  ok(r.status === 201 && r.json.domain === 'node.example' && r.json.verified === false && Array.isArray(r.json.records), 'POST /v1/domains 201');
  r = await call('GET', '/v1/domains', { key: KEY });
  ok(r.status === 200 && r.json.domains.map(d => d.domain).join() === 'node.example,shop.example', 'GET /v1/domains', r.json);
  r = await call('GET', '/v1/domains/node.example', { key: KEY });
  ok(r.status === 200 && r.json.domain === 'node.example', 'GET /v1/domains/{domain}');
  r = await call('GET', '/v1/domains/other.example', { key: KEY });
  ok(isProblem(r, 404), "another account's domain is 404");
  r = await call('PUT', '/v1/messages', { key: KEY, body: msg() });
  ok(isProblem(r, 405), 'wrong method is 405');

  const end = (await call('GET', '/healthz')).json.queued;
  ok(end === queued0 + 1 + 1 + 2, 'exactly the accepted messages were queued', { queued0, end });
  process.exit(failed ? 1 : 0);
})().catch(e => { console.log('not ok - exception ' + e); process.exit(1); });
JS
rc=$?
cat "$T/node.out"
NTEST=$(grep -c '^\(not \)\?ok ' "$T/node.out")
NFAIL=$(grep -c '^not ok ' "$T/node.out")
[ "$rc" -ne 0 ] && [ "$NFAIL" -eq 0 ] && NFAIL=1
stop_daemon
ok $? "SIGTERM: the daemon exits 0"
done_testing

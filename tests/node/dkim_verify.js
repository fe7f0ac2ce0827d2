// dkim_verify.js: verifies the DKIM signatures of message files with npm
// mailauth, an implementation independent of hermod, asking the DNS server
// given (the test's dnsmasq on loopback) for the keys.
//   node dkim_verify.js 127.0.0.1:PORT FILE...
// Prints one JSON line per file: {"file", "results": [{"domain", "selector",
// "algo", "result"}]}.
'use strict';
const fs = require('fs');
const dns = require('dns');
const { dkimVerify } = require('mailauth/lib/dkim/verify');

async function main() {
	const [server, ...files] = process.argv.slice(2);
	const r = new dns.promises.Resolver({ timeout: 2000, tries: 2 });
	r.setServers([server]);
	const resolver = (name, rrtype) => r.resolve(name, rrtype);
	for (const file of files) {
		const res = await dkimVerify(fs.readFileSync(file), { resolver });
		const results = (res.results || []).map((x) => ({
			domain: x.signingDomain,
			selector: x.selector,
			algo: x.algo,
			result: x.status && x.status.result,
			comment: x.status && x.status.comment,
		}));
		console.log(JSON.stringify({ file, results }));
	}
}
main().catch((e) => { console.error(e); process.exit(1); });

// A page's calls past the rate limit: node's fetch with an Origin header,
// as a browser sends it, bursts calls at the RPC location. Every answer,
// the ones nginx refuses with 429 (limit_req, limit_conn) included, must
// carry Access-Control-Allow-Origin (else a browser shows the page an
// opaque CORS failure) and be a Kraken envelope: {data} or
// {error: {status, code, description}}.
//
//   node rate-burst.js URL ORIGIN CALLS [PATH]

'use strict';

const [url, origin, calls] = process.argv.slice(2);
const n = Number(calls) || 60;

async function call(i) {
    const body = JSON.stringify({ id: 'burst' + i, method: 'info',
                                  params: [] });
    try {
        const res = await fetch(url, {
            method: 'POST', body,
            headers: { 'Content-Type': 'application/json', Origin: origin },
        });
        const text = await res.text();
        let json = null;
        try { json = JSON.parse(text); } catch (e) { /* judged below */ }
        return { status: res.status,
                 acao: res.headers.get('access-control-allow-origin'),
                 type: res.headers.get('content-type'),
                 kraken: [...res.headers.keys()]
                     .filter((h) => /^x-kraken-/i.test(h)),
                 json, text: text.slice(0, 200) };
    } catch (e) {
        return { status: 0, error: String(e) };
    }
}

(async () => {
    const answers = await Promise.all(Array.from({ length: n },
                                                 (_, i) => call(i)));
    const by = {};
    for (const a of answers) by[a.status] = (by[a.status] || 0) + 1;

    const envelope = (a) => a.json && typeof a.json === 'object'
        && (a.json.data !== undefined
            || (a.json.error && typeof a.json.error.code === 'number'
                && a.json.error.status === a.status
                && typeof a.json.error.description === 'string'));
    const limited = answers.filter((a) => a.status === 429);
    const noCors = answers.filter((a) => a.acao !== '*' && a.acao !== origin);
    const notEnvelope = answers.filter((a) => !envelope(a));
    const checks = [
        { name: `the burst of ${n} calls went past the limit (some 429)`,
          ok: limited.length > 0, detail: by },
        { name: 'every answer carries Access-Control-Allow-Origin',
          ok: noCors.length === 0, detail: noCors.slice(0, 3) },
        { name: 'every answer is a Kraken envelope',
          ok: notEnvelope.length === 0, detail: notEnvelope.slice(0, 3) },
        { name: 'every 429 is Kraken error 5001429, readable by the page',
          ok: limited.length > 0 && limited.every((a) => envelope(a)
              && a.json.error.code === 5001429
              && /application\/json/.test(a.type || '')),
          detail: limited.slice(0, 2) },
    ];
    console.log(JSON.stringify({ ok: checks.every((c) => c.ok), checks,
                                 statuses: by,
                                 kraken_headers: [...new Set(answers
                                     .flatMap((a) => a.kraken || []))] }));
    process.exit(checks.every((c) => c.ok) ? 0 : 1);
})();

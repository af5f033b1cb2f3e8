'use strict';
/*
 * A page of one origin calls Kraken on another, as kraken.fm does: fetch
 * with `Content-Type: application/json`, so that every call is preceded by
 * a CORS preflight (OPTIONS). Each call has a URL of its own (?tag=i), so
 * no preflight is taken from the browser's preflight cache: each one meets
 * the server's guards. A browser fails a call whose preflight is not 2xx,
 * whatever its headers and body, with a TypeError ("Failed to fetch") the
 * page cannot tell from a network error.
 *
 * Served by nginx at BASE:
 *   /        kraken_rpc behind limit_req and limit_conn (429)
 *   /front   kraken_front behind its own limit_req, proxying to /engine
 *   /auth    kraken_rpc behind auth_request: "Bearer good" passes
 * The page itself is served by a node server on another loopback port.
 *
 *   node t/js/chromium-preflight.js BASE [CALLS=40]
 *
 * Every fetch must resolve (no TypeError), every body must be a Kraken
 * envelope, the limited answers must be 429 with 5001429, an unauthorized
 * call 401 with 5001401. Prints one JSON line {ok, checks, ...}; exit 0
 * passed, 1 a check failed, 2 the script could not run.
 */

const http = require('http');
const { chromium } = require('playwright-core');
const { Checks, logger } = require('./lib/kraken-client');

const [base, callsArg] = process.argv.slice(2);
const CALLS = Number(callsArg || 40);
const CHROMIUM = process.env.CHROMIUM || '/usr/lib/chromium/chromium';
const FLAGS = [
    '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update',
    '--disable-sync',
];
const log = logger('chromium-preflight');

const checks = new Checks({ test: 'chromium-preflight', base, calls: CALLS });
let browser = null;
let server = null;
const pageErrors = [];

/* the page's own origin: a blank page on a loopback port of its own */
function servePage() {
    return new Promise((resolve, reject) => {
        const s = http.createServer((req, res) => {
            res.writeHead(200, { 'Content-Type': 'text/html' });
            res.end('<!doctype html><title>a page</title><p>calls</p>');
        });
        s.on('error', reject);
        s.listen(0, '127.0.0.1', () => resolve(s));
    });
}

/*
 * In the page: n calls at once to url?tag=i with extra headers, each
 * {status, body} or {status: 0, error} when fetch rejected.
 */
function burst(page, url, tag, n, headers) {
    return page.evaluate(async ({ url, tag, n, headers }) => {
        const one = async (i) => {
            try {
                const res = await fetch(`${url}?${tag}=${i}`, {
                    method: 'POST', credentials: 'omit',
                    headers: { 'Content-Type': 'application/json',
                               ...headers },
                    body: JSON.stringify({ id: `${tag}${i}`, method: 'info',
                                           params: [] }),
                });
                const text = await res.text();
                let json = null;
                try {
                    json = JSON.parse(text);
                } catch (e) {
                    /* judged by the caller */
                }
                return { status: res.status, json,
                         text: text.slice(0, 200) };
            } catch (e) {
                return { status: 0, error: `${e.name}: ${e.message}` };
            }
        };
        return Promise.all(Array.from({ length: n }, (_, i) => one(i)));
    }, { url, tag, n, headers });
}

const envelope = (a) => a.json !== null && typeof a.json === 'object'
    && (a.json.data !== undefined
        || (a.json.error && typeof a.json.error.code === 'number'
            && a.json.error.status === a.status
            && typeof a.json.error.description === 'string'));

function statuses(answers) {
    const by = {};
    for (const a of answers) {
        by[a.status] = (by[a.status] || 0) + 1;
    }
    return by;
}

/* the checks every burst must pass: resolved, envelopes, 429s readable */
function judge(label, answers, { limited }) {
    const failed = answers.filter((a) => a.status === 0);
    const notEnvelope = answers.filter((a) => a.status && !envelope(a));
    const refused = answers.filter((a) => a.status === 429);
    const other = answers.filter((a) => a.status !== 200
                                 && a.status !== 429);
    checks.check(`${label}: every fetch resolves (no "Failed to fetch": `
                 + 'the preflights passed)', failed.length === 0,
                 { statuses: statuses(answers), failed: failed.slice(0, 3) });
    checks.check(`${label}: every body is a Kraken envelope`,
                 failed.length < answers.length && notEnvelope.length === 0,
                 notEnvelope.slice(0, 3));
    if (limited) {
        checks.check(`${label}: the burst went past the rate limit, and `
                     + 'every refusal is 429 with 5001429',
                     refused.length > 0 && other.length === 0
                     && refused.every((a) => envelope(a)
                                      && a.json.error.code === 5001429),
                     { statuses: statuses(answers),
                       other: other.slice(0, 3),
                       refused: refused.slice(0, 2) });
    }
}

async function main() {
    if (!base) {
        throw new Error('usage: chromium-preflight.js BASE [CALLS]');
    }
    checks.deadline(120000, () => ({ pageErrors }));
    const root = base.replace(/\/$/, '');

    server = await servePage();
    const origin = `http://127.0.0.1:${server.address().port}`;
    checks.afterSummary(() => new Promise((r) => server.close(r)));

    checks.afterSummary(() => browser && browser.close());
    browser = await chromium.launch({ executablePath: CHROMIUM,
                                      headless: true, args: FLAGS,
                                      timeout: 30000 });
    log(`chromium ${browser.version()}, page origin ${origin}`);

    const context = await browser.newContext();
    const page = await context.newPage();
    page.setDefaultTimeout(60000);
    page.on('pageerror', (e) => pageErrors.push(e.message));
    const res = await page.goto(`${origin}/`);
    checks.check('the page of another origin loads',
                 res.status() === 200 && origin !== new URL(root).origin,
                 { origin, rpc: new URL(root).origin });

    const rpc = await burst(page, `${root}/`, 'rpc', CALLS, {});
    judge('kraken_rpc behind limit_req and limit_conn', rpc,
          { limited: true });

    const front = await burst(page, `${root}/front`, 'front', CALLS, {});
    judge('kraken_front behind limit_req', front, { limited: true });

    const good = await burst(page, `${root}/auth`, 'good', 8,
                             { Authorization: 'Bearer good' });
    judge('kraken_rpc behind auth_request', good, { limited: false });
    checks.check('behind auth_request: the authorized calls run',
                 good.every((a) => a.status === 200 && envelope(a)
                            && a.json.data !== undefined),
                 statuses(good));

    const bad = await burst(page, `${root}/auth`, 'bad', 3,
                            { Authorization: 'Bearer bad' });
    checks.check('behind auth_request: a call refused is a readable 401 '
                 + 'with 5001401',
                 bad.every((a) => a.status === 401 && envelope(a)
                           && a.json.error.code === 5001401), bad);

    checks.check('no JavaScript errors on the page', pageErrors.length === 0,
                 pageErrors);

    checks.finish({ origin,
                    statuses: { rpc: statuses(rpc), front: statuses(front),
                                good: statuses(good), bad: statuses(bad) } });
}

main().catch((e) => checks.abort(e, { pageErrors }));

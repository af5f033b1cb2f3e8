'use strict';
/*
 * A burst of calls for rooms that another worker owns (t/033).
 *
 *   node t/js/forward-burst.js URL TOTAL CONCURRENCY ROOMS
 *
 * ROOMS is a comma-separated list; every call is `list` on a fresh
 * connection, CONCURRENCY of them at a time. Prints one JSON line:
 * {total, answered, codes (error code or "data" -> count), transport
 * (failure -> count), wrong_id, max_ms, elapsed_ms}. Exit 0 when it ran
 * (the .t file judges), 2 when it could not.
 */

const http = require('http');

const [url, totalArg, concArg, remoteArg] = process.argv.slice(2);
const TOTAL = Number(totalArg || 5000);
const CONC = Number(concArg || 150);
const REMOTE = (remoteArg || '').split(',').filter((r) => r !== '');
const CALL_TIMEOUT = 20000;

function call(room, id) {
    const body = JSON.stringify({ id, method: 'list', params: [room] });

    return new Promise((resolve) => {
        const t0 = process.hrtime.bigint();
        const done = (r) => {
            r.ms = Number(process.hrtime.bigint() - t0) / 1e6;
            resolve(r);
        };
        const req = http.request(url, {
            method: 'POST',
            agent: false,
            headers: {
                'Content-Type': 'application/json',
                'Content-Length': Buffer.byteLength(body),
                'Connection': 'close',
            },
            timeout: CALL_TIMEOUT,
        }, (res) => {
            const chunks = [];
            res.on('data', (c) => chunks.push(c));
            res.on('end', () => {
                let json;
                try {
                    json = JSON.parse(Buffer.concat(chunks).toString());
                } catch (e) {
                    done({ transport: `HTTP ${res.statusCode}, not JSON` });
                    return;
                }
                const worker = res.headers['x-kraken-worker'] || '';
                if (json && json.error && typeof json.error === 'object') {
                    done({ code: String(json.error.code), worker,
                           id: json.id, status: res.statusCode });
                } else if (json && 'data' in json) {
                    done({ code: 'data', worker, id: json.id,
                           status: res.statusCode });
                } else {
                    done({ transport: `HTTP ${res.statusCode}, no envelope` });
                }
            });
            res.on('error', (e) => done({ transport: e.code || e.message }));
        });
        req.on('timeout', () => {
            req.destroy(new Error('timeout'));
        });
        req.on('error', (e) => done({ transport: e.code || e.message }));
        req.end(body);
    });
}

function count(map, key) {
    map[key] = (map[key] || 0) + 1;
}

async function main() {
    if (!url || REMOTE.length === 0) {
        throw new Error('usage: forward-burst.js URL TOTAL CONCURRENCY '
                        + 'ROOMS');
    }

    const out = { total: TOTAL, concurrency: CONC, answered: 0, codes: {},
                  transport: {}, wrong_id: 0, max_ms: 0 };
    const t0 = Date.now();
    let next = 0;

    async function lane() {
        while (next < TOTAL) {
            const i = next++;
            const id = `b${i}`;
            const r = await call(REMOTE[i % REMOTE.length], id);
            out.max_ms = Math.max(out.max_ms, r.ms);
            if (r.transport) {
                count(out.transport, r.transport);
                continue;
            }
            out.answered++;
            count(out.codes, r.code);
            if (r.id !== id) {
                out.wrong_id++;
            }
        }
    }

    const lanes = [];
    for (let i = 0; i < CONC; i++) {
        lanes.push(lane());
    }
    await Promise.all(lanes);

    out.elapsed_ms = Date.now() - t0;
    process.stdout.write(JSON.stringify(out) + '\n');
}

main().then(() => process.exit(0), (e) => {
    process.stderr.write(`${e.stack || e}\n`);
    process.stdout.write(JSON.stringify({ error: String(e) }) + '\n');
    process.exit(2);
});

'use strict';
/*
 * The track publish returns is a capability: a participant, or an outsider
 * who sees everything the server shows (info, with details too, list,
 * turn, the descriptions of wrong calls, a participant's subscribe offers
 * and its own track), cannot end, restart, answer, trickle or subscribe as
 * another live participant with any string it found. The victim keeps
 * hearing and being heard. Its own client rejoining after 5002002 still
 * can, and so can a kraken.fm page reloaded with the same uid (Kraken
 * replaces the old peer).
 *
 *   node t/js/wrtc-capabilities.js URL DETAILS_URL [POLL_MS=300]
 *
 * DETAILS_URL: a location with kraken_info_details on. Prints one JSON
 * line {ok, checks, ...}; exit 0 passed, 1 a check failed, 2 broke.
 */

const {
    Participant, Checks, rpc, rpcRaw, waitFor, randomId, logger, talking,
} = require('./lib/kraken-client');

const [url, detailsUrl, pollArg] = process.argv.slice(2);
const POLL_MS = Number(pollArg || 300);
const TONES = [300, 500, 700];
const log = logger('wrtc-capabilities');
const checks = new Checks({ test: 'wrtc-capabilities', url });
let all = [];

function summaries() {
    return { participants: all.map((p) => p.summary()) };
}

/* every string and number in v, whole and cut into tokens */
function collect(v, seen) {
    if (v === null || v === undefined) {
        return;
    }
    if (typeof v === 'string' || typeof v === 'number') {
        const s = String(v);
        seen.add(s);
        for (const t of s.split(/[\s:;,"'{}[\]=/]+/)) {
            if (t) {
                seen.add(t);
            }
        }
        return;
    }
    if (typeof v === 'object') {
        for (const [k, x] of Object.entries(v)) {
            seen.add(k);
            collect(x, seen);
        }
    }
}

async function main() {
    if (!url || !detailsUrl) {
        throw new Error('usage: wrtc-capabilities.js URL DETAILS_URL');
    }
    checks.deadline(150000, summaries);

    const tag = randomId();
    const room = `caps-${tag}`;
    const a = new Participant({ url, room, uid: `alice-${tag}`, tone: 300,
                                tones: TONES, pollMs: POLL_MS, log });
    const b = new Participant({ url, room, uid: `bob-${tag}`, tone: 500,
                                tones: TONES, pollMs: POLL_MS, log });
    all = [a, b];

    await a.join();
    await b.join();
    checks.check('alice and bob hear each other',
                 await talking([[a, b, 500], [b, a, 300]], 20000),
                 { alice: a.heard(b.uid), bob: b.heard(a.uid) });

    /* ---- what an outsider and bob can see ---- */
    const seen = new Set();
    const detailed = await rpcRaw(detailsUrl, 'info', []);
    checks.check('info with details on tells where the room lives',
                 JSON.stringify(detailed).includes(`"${room}"`),
                 detailed.data);
    collect(detailed, seen);
    collect(await rpcRaw(url, 'info', []), seen);
    collect(await rpcRaw(url, 'list', [room]), seen);
    collect(await rpcRaw(url, 'turn', [a.uid]), seen);

    /* well-formed descriptions, of bob's own making */
    const answerJson = JSON.stringify({ type: 'answer',
                                        sdp: b.localOffer });
    const offerJson = JSON.stringify({ type: 'offer', sdp: b.localOffer });
    const cand = JSON.stringify({
        candidate: 'candidate:1 1 udp 2130706431 127.0.0.1 9 typ host',
        sdpMid: '0', sdpMLineIndex: 0 });
    const descriptions = [];
    for (const [m, p] of [
        ['subscribe', [room, a.uid, 'x']],
        ['end', [room, a.uid, '']],
        ['restart', [room, a.uid, 'nope', offerJson]],
        ['trickle', [room, a.uid, 'nope', cand]],
        ['answer', [room, a.uid, 'nope', answerJson]],
        ['publish', [room, a.uid, 'not json']],
        ['subscribe', [room, 'nobody', 'x']],
        ['list', []],
    ]) {
        const res = await rpcRaw(url, m, p);
        descriptions.push(res.error && res.error.description);
        collect(res, seen);
    }

    /* bob: his subscribe offers (msid stream and track ids), his track */
    for (const o of b.offers) {
        for (const s of o.sections) {
            collect([s.stream, s.track, s.mid], seen);
        }
    }
    seen.add(b.track);
    const msids = b.offers.flatMap((o) => o.sections)
                          .filter((s) => s.stream === a.uid)
                          .map((s) => s.track);

    const leaks = [...seen].filter((s) => s.includes(a.track));
    checks.check('nothing observable holds alice\'s track', !leaks.length,
                 leaks);
    checks.check('bob was offered alice with a public track id',
                 msids.length > 0 && msids.every((t) => t !== a.track),
                 msids);
    checks.check('wrong calls name no track in their descriptions',
                 descriptions.every((d) => typeof d === 'string'
                                    && !d.includes(a.track)
                                    && !d.includes(b.track)),
                 descriptions);

    const info = await rpcRaw(url, 'info', []);
    checks.check('info shows no room id by default',
                 !JSON.stringify(info).includes(room)
                 && info.data && info.data.workers === undefined,
                 info.data);

    /* ---- every string found, as alice's track, on every method ---- */
    const found = [...seen, '', a.uid, room, b.uid];
    const calls = [
        ['end', (t) => [room, a.uid, t]],
        ['restart', (t) => [room, a.uid, t, offerJson]],
        ['answer', (t) => [room, a.uid, t, answerJson]],
        ['trickle', (t) => [room, a.uid, t, cand]],
        ['subscribe', (t) => [room, a.uid, t]],
    ];
    const wrong = [];
    let tried = 0;
    for (const t of found) {
        for (const [m, params] of calls) {
            const res = await rpcRaw(url, m, params(t));
            tried++;
            if (!res.error || res.error.code !== 5002003) {
                wrong.push({ method: m, track: t,
                             answer: JSON.stringify(res).slice(0, 200) });
            }
        }
    }
    log(`tried ${found.length} strings on ${calls.length} methods`);
    checks.check(`all ${tried} calls as alice with a string found are `
                 + 'track not found (5002003)', tried > 100 && !wrong.length,
                 wrong.slice(0, 10));

    checks.check('alice and bob still hear each other',
                 await talking([[a, b, 500], [b, a, 300]], 15000),
                 { alice: a.heard(b.uid), bob: b.heard(a.uid) });
    checks.check('alice was never cut off (no republish, no error)',
                 a.publishes === 1 && a.restarts === 0
                 && a.errors.length === 0, a.summary());

    /* ---- alice ends; her client rejoins with her uid (5002002) ---- */
    const first = a.track;
    await rpc(url, 'end', [room, a.uid, a.track]);
    checks.check('alice\'s client republishes her uid after 5002002',
                 await waitFor(() => a.publishes === 2 && a.track !== first
                                     && a.restarts === 1, 10000),
                 a.summary());
    checks.check('and alice and bob hear each other again',
                 await talking([[a, b, 500], [b, a, 300]], 20000),
                 { alice: a.heard(b.uid), bob: b.heard(a.uid) });

    /* ---- a kraken.fm page reloaded: the same uid, the old peer live ---- */
    await a.stopLoop();
    const a2 = new Participant({ url, room, uid: a.uid, tone: 700,
                                 tones: TONES, pollMs: POLL_MS, log });
    all.push(a2);
    await a2.join();
    checks.check('the reloaded page publishes the same uid',
                 typeof a2.track === 'string' && a2.track !== a.track);
    checks.check('bob hears the reloaded page, and it hears bob',
                 await talking([[b, a2, 700], [a2, b, 500]], 20000),
                 { bob: b.heard(a.uid), alice2: a2.heard(b.uid) });
    const old = await rpcRaw(url, 'subscribe', [room, a.uid, a.track]);
    checks.check('the old page\'s track acts no more', Boolean(old.error),
                 old);
    const listed = await rpc(url, 'list', [room]);
    checks.check('the room lists alice once',
                 listed.peers.filter((p) => p.id === a.uid).length === 1,
                 listed.peers);

    const ended = await Promise.allSettled([a2.end(), b.end()]);
    checks.check('end succeeds for the reloaded page and bob',
                 ended.every((r) => r.status === 'fulfilled'));

    checks.finish({ secrets: [first, a.track, a2.track, b.track],
                    ...summaries() });
}

main().catch((e) => checks.abort(e, summaries()));

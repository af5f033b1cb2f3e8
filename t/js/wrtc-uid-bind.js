'use strict';
/*
 * kraken_uid_bind: each URL carries a token that nginx maps to one
 * identity (alice, bob, mallory; none without a token). Alice and bob
 * talk. Mallory, bob and a caller without a token then try every method
 * as alice, with her real track too: each is refused with 5001000 before
 * anything runs, and alice keeps talking, never cut off. Alice's own
 * identity may still replace her peer (a kraken.fm page reloaded), and
 * mallory may publish as mallory.
 *
 *   node t/js/wrtc-uid-bind.js URL_ALICE URL_BOB URL_MALLORY URL_NONE
 *       [POLL_MS=300]
 *
 * Prints one JSON line {ok, checks, ...}; exit 0 passed, 1 a check
 * failed, 2 broke.
 */

const {
    Participant, Checks, rpc, rpcRaw, waitFor, randomId, logger, talking,
} = require('./lib/kraken-client');

const [urlA, urlB, urlM, urlNone, pollArg] = process.argv.slice(2);
const POLL_MS = Number(pollArg || 300);
const TONES = [300, 500, 700, 900];
const log = logger('wrtc-uid-bind');
const checks = new Checks({ test: 'wrtc-uid-bind' });
let all = [];

function summaries() {
    return { participants: all.map((p) => p.summary()) };
}

async function main() {
    if (!urlNone) {
        throw new Error('usage: wrtc-uid-bind.js URL_ALICE URL_BOB '
                        + 'URL_MALLORY URL_NONE');
    }
    checks.deadline(120000, summaries);

    const room = `bind-${randomId()}`;
    const a = new Participant({ url: urlA, room, uid: 'alice', tone: 300,
                                tones: TONES, pollMs: POLL_MS, log });
    const b = new Participant({ url: urlB, room, uid: 'bob', tone: 500,
                                tones: TONES, pollMs: POLL_MS, log });
    all = [a, b];

    await a.join();
    await b.join();
    checks.check('alice and bob, each under their own identity, talk',
                 await talking([[a, b, 500], [b, a, 300]], 20000),
                 { alice: a.heard('bob'), bob: b.heard('alice') });

    /* ---- every method as alice, from other identities ---- */
    const offer = JSON.stringify({ type: 'offer', sdp: b.localOffer });
    const answer = JSON.stringify({ type: 'answer', sdp: b.localOffer });
    const cand = JSON.stringify({
        candidate: 'candidate:1 1 udp 2130706431 127.0.0.1 9 typ host',
        sdpMid: '0', sdpMLineIndex: 0 });
    const calls = [
        ['publish', [room, 'alice', offer]],
        ['subscribe', [room, 'alice', a.track]],
        ['answer', [room, 'alice', a.track, answer]],
        ['trickle', [room, 'alice', a.track, cand]],
        ['trickle', [room, 'alice', a.track, 'null']],
        ['restart', [room, 'alice', a.track, offer]],
        ['end', [room, 'alice', a.track]],
        ['turn', ['alice']],
    ];
    const refused = [];
    const wrong = [];
    for (const [who, u] of [['mallory', urlM], ['bob', urlB],
                            ['nobody', urlNone]])
    {
        for (const [m, params] of calls) {
            const res = await rpcRaw(u, m, params);
            const ok = res.error && res.error.code === 5001000
                       && /not bound/.test(res.error.description);
            (ok ? refused : wrong).push(
                { who, method: m, answer: JSON.stringify(res).slice(0, 160) });
        }
    }
    checks.check('every call as alice from mallory, bob or nobody is '
                 + 'refused (5001000), her track or not',
                 refused.length === 3 * calls.length && !wrong.length,
                 wrong);

    const listed = await rpc(urlNone, 'list', [room]);
    checks.check('list still answers without an identity',
                 listed.peers.map((p) => p.id).sort().join() === 'alice,bob',
                 listed.peers);

    checks.check('alice and bob still talk',
                 await talking([[a, b, 500], [b, a, 300]], 15000),
                 { alice: a.heard('bob'), bob: b.heard('alice') });
    checks.check('alice was never cut off (no republish, no error)',
                 a.publishes === 1 && a.restarts === 0
                 && a.errors.length === 0, a.summary());

    /* ---- mallory may be mallory ---- */
    const m = new Participant({ url: urlM, room, uid: 'mallory', tone: 900,
                                tones: TONES, pollMs: POLL_MS, log });
    all.push(m);
    await m.join();
    checks.check('mallory may publish as mallory',
                 typeof m.track === 'string');
    checks.check('and bob hears mallory', await talking([[b, m, 900]], 20000),
                 b.heard('mallory'));

    /* ---- alice's own identity reloads her page: it replaces her ---- */
    await a.stopLoop();
    const a2 = new Participant({ url: urlA, room, uid: 'alice', tone: 700,
                                 tones: TONES, pollMs: POLL_MS, log });
    all.push(a2);
    await a2.join();
    checks.check('alice\'s identity may replace her peer (a reload)',
                 typeof a2.track === 'string' && a2.track !== a.track);
    checks.check('bob hears the reloaded alice, and she hears bob',
                 await talking([[b, a2, 700], [a2, b, 500]], 20000),
                 { bob: b.heard('alice'), alice2: a2.heard('bob') });

    const ended = await Promise.allSettled([a2.end(), b.end(), m.end()]);
    checks.check('each ends under its own identity',
                 ended.every((r) => r.status === 'fulfilled'),
                 ended.filter((r) => r.status === 'rejected')
                      .map((r) => r.reason.message));

    checks.finish(summaries());
}

main().catch((e) => checks.abort(e, summaries()));

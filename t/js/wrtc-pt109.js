'use strict';
/*
 * A participant whose offer puts Opus on payload type 109 (like Firefox)
 * and one on 111 (like Chrome) hear each other: the server answers each
 * with its own payload type, offers it the other's track on that same
 * payload type and rewrites the forwarded RTP to it.
 *
 *   node t/js/wrtc-pt109.js URL [SECONDS=4] [POLL_MS=500]
 *
 * Prints one JSON line {ok, checks:[{name, ok, detail}], ...};
 * exit 0 all checks passed, 1 a check failed, 2 the script could not run.
 */

const {
    Participant, Checks, parseSections, opusPt, swapPayloadType,
    waitFor, sleep, randomId, logger,
} = require('./lib/kraken-client');

const [url, secondsArg, pollArg] = process.argv.slice(2);
const SECONDS = Number(secondsArg || 4);
const POLL_MS = Number(pollArg || 500);
const log = logger('wrtc-pt109');

const checks = new Checks({ test: 'wrtc-pt109', url, seconds: SECONDS });
let peers = [];

function summaries() {
    return { participants: peers.map((p) => p.summary()) };
}

async function main() {
    if (!url) {
        throw new Error('usage: wrtc-pt109.js URL [SECONDS] [POLL_MS]');
    }
    checks.deadline(SECONDS * 4000 + 60000, summaries);

    const tag = randomId();
    const room = `pt109-${tag}`;
    const tones = [500, 700];
    const p109 = new Participant({
        url, room, uid: `opus109-${tag}`, tone: tones[0], tones,
        pollMs: POLL_MS, log,
        mungeOffer: (sdp) => swapPayloadType(sdp, 111, 109),
    });
    const p111 = new Participant({
        url, room, uid: `opus111-${tag}`, tone: tones[1], tones,
        pollMs: POLL_MS, log,
    });
    peers = [p109, p111];

    await p109.join();
    await p111.join();

    const offer109 = parseSections(p109.localOffer)[0];
    checks.check('the munged offer has opus on 109 and nothing else on it',
                 opusPt(offer109) === 109
                 && offer109.pts.filter((pt) => pt === 109).length === 1
                 && offer109.codecs['111'] !== 'opus',
                 { pts: offer109.pts, codecs: offer109.codecs });

    const answer109 = p109.publishAnswer.filter((s) => s.port !== 0);
    const answer111 = p111.publishAnswer.filter((s) => s.port !== 0);
    checks.check('publish answers the 109 offer with opus on 109, not 111',
                 answer109.length === 1 && opusPt(answer109[0]) === 109
                 && !answer109[0].pts.includes(111),
                 answer109.map((s) => ({ pts: s.pts, codecs: s.codecs })));
    checks.check('publish answers the 111 offer with opus on 111',
                 answer111.length === 1 && opusPt(answer111[0]) === 111,
                 answer111.map((s) => ({ pts: s.pts, codecs: s.codecs })));

    const offered = await waitFor(() =>
        p109.activeStreams().includes(p111.uid)
        && p111.activeStreams().includes(p109.uid), 20000);
    checks.check('each is offered the other\'s stream', offered,
                 { [p109.uid]: p109.activeStreams(),
                   [p111.uid]: p111.activeStreams() });

    const last = (p) => p.offers.length
        ? p.offers[p.offers.length - 1].sections : [];
    const pts109 = last(p109).filter((s) => s.sending).map(opusPt);
    const pts111 = last(p111).filter((s) => s.sending).map(opusPt);
    checks.check('the server offers the 109 peer opus on 109',
                 pts109.length > 0 && pts109.every((pt) => pt === 109),
                 pts109);
    checks.check('the server offers the 111 peer opus on 111',
                 pts111.length > 0 && pts111.every((pt) => pt === 111),
                 pts111);

    /* sound both ways, then a measuring window */
    await waitFor(() => {
        const a = p109.heard(p111.uid);
        const b = p111.heard(p109.uid);
        return a && b && a.activeFrames > 20 && b.activeFrames > 20;
    }, 15000, 250);
    for (const p of peers) {
        await p.sampleStats();
        p.resetAudio();
    }
    /* SECONDS at least; on a loaded machine the peers (both in this
     * process) send late, so the window stretches, up to a deadline,
     * until both streams brought what the checks below ask of them */
    await sleep(SECONDS * 1000);
    await waitFor(async () => {
        for (const p of peers) {
            await p.sampleStats();
        }
        return [[p109, p111], [p111, p109]].every(([p, q]) => {
            const h = p.heard(q.uid);
            return h && h.activeFrames >= SECONDS * 50
                   && h.packets >= SECONDS * 25;
        });
    }, SECONDS * 3000, 250);

    const h109 = p109.heard(p111.uid) || { activeFrames: 0, tone: null,
                                           toneShare: 0, packets: 0 };
    const h111 = p111.heard(p109.uid) || { activeFrames: 0, tone: null,
                                           toneShare: 0, packets: 0 };
    const in109 = (await p109.inbound())[p111.uid] || {};
    const in111 = (await p111.inbound())[p109.uid] || {};
    checks.check('the 109 peer hears the 111 peer\'s tone',
                 h109.activeFrames >= SECONDS * 50 && h109.tone === tones[1]
                 && h109.toneShare >= 0.8, h109);
    checks.check('the 111 peer hears the 109 peer\'s tone',
                 h111.activeFrames >= SECONDS * 50 && h111.tone === tones[0]
                 && h111.toneShare >= 0.8, h111);
    checks.check('RTP reaches the 109 peer with payload type 109',
                 in109.payloadType === 109 && h109.packets >= SECONDS * 25,
                 { ...in109, packets: h109.packets });
    checks.check('RTP reaches the 111 peer with payload type 111',
                 in111.payloadType === 111 && h111.packets >= SECONDS * 25,
                 { ...in111, packets: h111.packets });

    const ended = await Promise.allSettled(peers.map((p) => p.end()));
    checks.check('both end cleanly',
                 ended.every((r) => r.status === 'fulfilled'),
                 ended.filter((r) => r.status === 'rejected')
                      .map((r) => r.reason.message));
    checks.check('no participant had to republish',
                 peers.every((p) => p.restarts === 0));
    checks.finish({ ...summaries(), localOffer109: p109.localOffer });
}

main().catch((e) => checks.abort(e, summaries()));

'use strict';
/*
 * ROOMS rooms of PEERS libwebrtc participants each, every participant
 * sending its own sine tone: each must hear exactly the others of its room
 * (by msid stream id and by tone) and nothing from another room.
 *
 *   node t/js/wrtc-rooms.js URL [ROOMS=2] [PEERS=4] [SECONDS=5] [POLL_MS=500]
 *                           [turn]
 *
 * turn: each participant calls turn as it joins, as kraken.fm does, and
 * makes at most 6 calls at a time, as a browser.
 *
 * Prints one JSON line {ok, checks:[{name, ok, detail}], participants...};
 * exit 0 all checks passed, 1 a check failed, 2 the script could not run.
 */

const {
    Participant, Checks, rpc, waitFor, sleep, randomId, logger,
} = require('./lib/kraken-client');

const [url, roomsArg, peersArg, secondsArg, pollArg, turnArg]
    = process.argv.slice(2);
const ROOMS = Number(roomsArg || 2);
const PEERS = Number(peersArg || 4);
const SECONDS = Number(secondsArg || 5);
const POLL_MS = Number(pollArg || 500);
const CONVERGE_MS = 20000;
const log = logger('wrtc-rooms');

const checks = new Checks({ test: 'wrtc-rooms', url, rooms: ROOMS,
                            peers: PEERS, seconds: SECONDS });
let all = [];

function summaries() {
    return { participants: all.map((p) => p.summary()) };
}

async function main() {
    if (!url) {
        throw new Error('usage: wrtc-rooms.js URL [ROOMS] [PEERS] [SECONDS]');
    }
    checks.deadline(CONVERGE_MS + SECONDS * 4000 + 70000, summaries);

    /* tones 300, 500, ... Hz: multiples of 100 Hz sit on Goertzel bins of a
     * 10 ms frame, 200 Hz apart they do not leak into each other */
    const tones = [];
    for (let i = 0; i < ROOMS * PEERS; i++) {
        tones.push(300 + 200 * i);
    }
    const rooms = [];
    const tag = randomId();
    for (let r = 0; r < ROOMS; r++) {
        const members = [];
        for (let i = 0; i < PEERS; i++) {
            members.push(new Participant({
                url, room: `room${r}-${tag}`, uid: `peer${r}-${i}-${tag}`,
                tone: tones[r * PEERS + i], tones, pollMs: POLL_MS, log,
                turn: turnArg === 'turn',
                inFlight: turnArg === 'turn' ? 6 : 0,
            }));
        }
        rooms.push(members);
    }
    all = rooms.flat();
    const toneOf = new Map(all.map((p) => [p.uid, p.tone]));
    const roomOf = new Map(all.map((p) => [p.uid, p.room]));

    /* everybody publishes at once */
    const published = await Promise.allSettled(all.map((p) => p.join()));
    const failed = published.filter((r) => r.status === 'rejected');
    if (failed.length) {
        throw failed[0].reason;
    }
    checks.check(`all ${all.length} participants published`,
                 all.every((p) => p.track !== null));

    /*
     * list shows each room's members with public track ids: never the
     * tracks publish returned, which are their holders' secrets
     */
    const listed = [];
    const secrets = new Set(rooms.flat().map((p) => p.track));
    for (const members of rooms) {
        const data = await rpc(url, 'list', [members[0].room]);
        const peers = data.peers || [];
        const got = peers.map((x) => x.id).sort();
        const want = members.map((p) => p.uid).sort();
        listed.push(JSON.stringify(got) === JSON.stringify(want)
                    && peers.every((x) => typeof x.track === 'string'
                                   && x.track.length === 36
                                   && !secrets.has(x.track)));
        if (!listed[listed.length - 1]) {
            log(`list ${members[0].room}: got ${JSON.stringify(peers)} `
                + `want ${want}`);
        }
    }
    checks.check('list returns each room\'s participants, with public '
                 + 'track ids only',
                 listed.every(Boolean));

    /* wait until every participant is offered exactly its room mates */
    const expected = (p) => all.filter((q) => q !== p && q.room === p.room)
                               .map((q) => q.uid).sort();
    const t0 = Date.now();
    const converged = await waitFor(() => all.every((p) =>
        JSON.stringify(p.activeStreams()) === JSON.stringify(expected(p))),
        CONVERGE_MS);
    checks.check('every participant is offered exactly the others of its '
                 + 'room (msid stream ids)', converged,
                 Object.fromEntries(all.map((p) => [p.uid,
                                                    p.activeStreams()])));
    log(`offers converged in ${Date.now() - t0} ms`);

    checks.check('every participant connected (ICE)',
                 await waitFor(() => all.every((p) => p.connectedAt), 10000),
                 Object.fromEntries(all.map((p) => [p.uid, p.iceState])));

    /* wait for sound from every room mate, then measure a clean window */
    await waitFor(async () => {
        await Promise.all(all.map((p) => p.sampleStats()));
        return all.every((p) => expected(p).every((u) => {
            const h = p.heard(u);
            return h && h.activeFrames > 20;
        }));
    }, 15000, 250);
    for (const p of all) {
        p.resetAudio();
    }
    /* SECONDS at least; on a loaded machine the peers (all in this
     * process) send late, so the window stretches, up to a deadline,
     * until every stream brought what the checks below ask of it */
    await sleep(SECONDS * 1000);
    await waitFor(async () => {
        await Promise.all(all.map((p) => p.sampleStats()));
        return all.every((p) => expected(p).every((u) => {
            const h = p.heard(u);
            return h && h.activeFrames >= SECONDS * 50
                   && h.packets >= SECONDS * 25;
        }));
    }, SECONDS * 3000, 250);

    const detail = {};
    let hearsRoom = true;
    let tonesMatch = true;
    let packetsFlow = true;
    let noCross = true;
    let noStrangers = true;
    for (const p of all) {
        const want = expected(p);
        const d = {};
        for (const u of want) {
            const h = p.heard(u) || { activeFrames: 0, frames: 0, packets: 0,
                                      tone: null, toneShare: 0 };
            d[u] = { expectTone: toneOf.get(u), tone: h.tone,
                     toneShare: Number(h.toneShare.toFixed(3)),
                     activeFrames: h.activeFrames, frames: h.frames,
                     packets: h.packets };
            /* at least half of the window audible, 80% of it the right tone */
            if (h.activeFrames < SECONDS * 50) {
                hearsRoom = false;
            }
            if (h.tone !== toneOf.get(u) || h.toneShare < 0.8) {
                tonesMatch = false;
            }
            if (h.packets < SECONDS * 25) {
                packetsFlow = false;
            }
        }
        for (const u of p.recv.keys()) {
            if (!want.includes(u)) {
                noStrangers = false;
                d[u] = { unexpected: true, ...p.heard(u) };
            }
        }
        for (const s of p.streamsSeen) {
            if (roomOf.has(s) && roomOf.get(s) !== p.room) {
                noCross = false;
            }
        }
        /* no tone of another room's participant in anything we decoded */
        for (const u of p.recv.keys()) {
            const tonesHeard = p.heard(u).tones;
            for (const f of Object.keys(tonesHeard)) {
                const owner = [...toneOf].find(([, t]) => t === Number(f));
                if (owner && roomOf.get(owner[0]) !== p.room) {
                    noCross = false;
                }
            }
        }
        detail[p.uid] = d;
    }
    checks.check('every participant hears audio from each room mate',
                 hearsRoom, detail);
    checks.check('each room mate\'s stream carries that mate\'s tone',
                 tonesMatch);
    checks.check('RTP packets arrive on each room mate\'s stream',
                 packetsFlow);
    checks.check('no audio from streams other than the room mates',
                 noStrangers);
    checks.check('nothing from another room (stream ids and tones)', noCross);
    checks.check('no participant had to republish',
                 all.every((p) => p.restarts === 0 && p.publishes === 1),
                 Object.fromEntries(all.map((p) => [p.uid, p.restarts])));

    /* end everybody, then the rooms are empty (the peers stay open until
     * the summary is out: see Checks) */
    const ended = await Promise.allSettled(all.map((p) => p.end()));
    checks.check('end succeeds for every participant',
                 ended.every((r) => r.status === 'fulfilled'),
                 ended.filter((r) => r.status === 'rejected')
                      .map((r) => r.reason.message));
    const empty = await waitFor(async () => {
        for (const members of rooms) {
            const data = await rpc(url, 'list', [members[0].room]);
            if ((data.peers || []).length !== 0) {
                return false;
            }
        }
        return true;
    }, 5000, 200);
    checks.check('after end, list shows empty rooms', empty);

    checks.finish(summaries());
}

main().catch((e) => checks.abort(e, summaries()));

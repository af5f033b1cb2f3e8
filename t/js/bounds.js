'use strict';
/*
 * The operator's bounds, hit while a real call goes on in the same worker:
 * each refusal has its Kraken error, and the call's audio keeps flowing
 * (its participants' packetsReceived keep growing) through all of them.
 *
 *   node t/js/bounds.js URL bounds
 *       with kraken_media_room_peers 3, kraken_media_worker_rooms 4,
 *       kraken_media_worker_peers 7, kraken_media_worker_connecting 3,
 *       kraken_media_peer_candidates 16,
 *       kraken_media_closed_peer_time 1s, one worker:
 *       room full (5002000), candidates (5001002), connecting, rooms and
 *       peers (5003000 "server busy"), then FLOOD refusals of each kind
 *   node t/js/bounds.js URL registry
 *       with a small kraken_shm_size (two workers, kraken_info_details
 *       on): new rooms until the registry is full (5003000 "room registry
 *       full"), FLOOD more, info lists at most 100 rooms a worker, rooms
 *       it holds still take peers, the registry takes new rooms again once
 *       rooms have gone
 *
 * "Bare" publishes are a real offer (t/data) that never connects. Prints
 * one JSON line {ok, checks, ...}; exit 0 all checks passed, 1 a check
 * failed, 2 the script could not run.
 */

const fs = require('fs');
const path = require('path');
const {
    Participant, Checks, rpc, rpcRaw, waitFor, randomId, logger,
} = require('./lib/kraken-client');

const [url, mode] = process.argv.slice(2);
const FLOOD = 100;
const log = logger(`bounds-${mode}`);
const checks = new Checks({ test: `bounds-${mode}`, url, flood: FLOOD });
const tag = randomId();
const OFFER = JSON.stringify({
    type: 'offer',
    sdp: fs.readFileSync(path.join(__dirname, '..', 'data',
                                   'chromium-156-offer-audio.sdp'), 'utf8'),
});
const CANDIDATE = JSON.stringify({
    candidate: 'candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host',
    sdpMid: '0', sdpMLineIndex: 0,
});

let calls = [];
let refused = 0;                /* refusals this script caused */


function makeRoom(name, n, toneBase) {
    const members = [];
    for (let i = 0; i < n; i++) {
        members.push(new Participant({
            url, room: name, uid: `${name}-p${i}`, tone: toneBase + 200 * i,
            pollMs: 500, log,
        }));
    }
    return members;
}

function expected(members, p) {
    return members.filter((q) => q !== p).map((q) => q.uid).sort();
}

/* a call whose members are offered, and hear, each other */
async function startCall(name, n, toneBase) {
    const members = makeRoom(name, n, toneBase);
    await Promise.all(members.map((p) => p.join()));
    const ok = await waitFor(async () => {
        if (!members.every((p) => JSON.stringify(p.activeStreams())
                                  === JSON.stringify(expected(members, p))))
        {
            return false;
        }
        await Promise.all(members.map((p) => p.sampleStats()));
        return members.every((p) => expected(members, p).every((u) => {
            const h = p.heard(u);
            return h && h.activeFrames > 20;
        }));
    }, 30000, 250);
    checks.check(`the call in ${name} is heard by its ${n} participants`,
                 ok);
    if (!ok) {
        throw new Error(`the call in ${name} did not start`);
    }
    calls.push(members);
    return members;
}

async function received(p) {
    const streams = await p.inbound();
    return Object.values(streams).reduce((a, s) => a + s.packetsReceived,
                                         0);
}

/* every participant of every call receives 25 more packets (0.5 s) */
async function callsFlow(when) {
    const all = calls.flat();
    const before = await Promise.all(all.map(received));
    let after = before;
    const ok = await waitFor(async () => {
        after = await Promise.all(all.map(received));
        return after.every((n, i) => n >= before[i] + 25);
    }, 5000, 200);
    checks.check(`the calls keep their audio flowing ${when}`, ok,
                 { before, after });
}

async function publish(room, uid) {
    return rpcRaw(url, 'publish', [room, uid, OFFER]);
}

/* a bare publish that must be accepted: its track */
async function accepted(room, uid) {
    const res = await publish(room, uid);
    if (res.error !== undefined || !res.data || !res.data.track) {
        throw new Error(`publish ${room}/${uid}: `
                        + `${JSON.stringify(res.error || res.data)}`);
    }
    return { room, uid, track: res.data.track };
}

/* the answer is error `code` and its description matches `re` */
function isError(res, code, re) {
    return res.error !== undefined && res.error.code === code
           && re.test(res.error.description || '');
}

function refusal(name, res, code, re) {
    if (res.error !== undefined) {
        refused++;
    }
    checks.check(name, isError(res, code, re), res.error || res.data);
}

async function end(peers) {
    for (const x of peers) {
        await rpc(url, 'end', [x.room, x.uid, x.track]);
    }
}

/* closed peers forgotten (kraken_media_closed_peer_time), their rooms gone */
async function settled(active) {
    return waitFor(async () => {
        const i = await rpc(url, 'info', []);
        return i.closed_peers === 0 && i.active_peers === active;
    }, 10000, 200);
}

async function flood(what, fn, code, re) {
    let ok = 0;
    for (let i = 0; i < FLOOD; i++) {
        const res = await fn(i);
        if (res.error !== undefined) {
            refused++;
        }
        ok += isError(res, code, re) ? 1 : 0;
    }
    checks.check(`${FLOOD} more ${what} are refused alike`, ok === FLOOD,
                 { refused: ok });
}


async function bounds() {
    const a = await startCall(`a-${tag}`, 3, 300);
    const room = (x) => `${x}-${tag}`;

    /* room full: the call's room holds kraken_media_room_peers */
    refusal('a 4th peer in a room of kraken_media_room_peers 3 is 5002000',
            await publish(a[0].room, `a-extra-${tag}`), 5002000,
            /room full/);
    await callsFlow('while its room is full');

    /* candidates: kraken_media_peer_candidates 16 (wrtc trickles about 8) */
    const x = await accepted(room('b'), `x-${tag}`);
    let trickled = 0;
    for (let i = 0; i < 16; i++) {
        const res = await rpcRaw(url, 'trickle', [x.room, x.uid, x.track,
                                                  CANDIDATE]);
        trickled += res.error === undefined ? 1 : 0;
    }
    checks.check('16 candidates of kraken_media_peer_candidates 16 are taken',
                 trickled === 16, trickled);
    refusal('a 17th candidate is 5001002',
            await rpcRaw(url, 'trickle', [x.room, x.uid, x.track,
                                          CANDIDATE]),
            5001002, /too many candidates/);

    /* connecting: kraken_media_worker_connecting 3 (x, y, c1) */
    const y = await accepted(room('b'), `y-${tag}`);
    const c1 = await accepted(room('c'), `c1-${tag}`);
    refusal('a 4th unconnected publish of kraken_media_worker_connecting 3 '
            + 'is 5003000 server busy',
            await publish(room('c'), `c2-${tag}`), 5003000,
            /server busy: 3 peers connecting/);
    await callsFlow('while publishes are refused for connecting peers');
    await flood('unconnected publishes',
                (i) => publish(room(`flood${i}`), `f${i}-${tag}`),
                5003000, /server busy: 3 peers connecting/);
    await flood('publishes into the full room',
                (i) => publish(a[0].room, `af${i}-${tag}`),
                5002000, /room full/);

    /* rooms and peers: a second call, two bare peers in two rooms */
    await end([x, y, c1]);
    checks.check('ended peers are forgotten', await settled(3));
    await startCall(`a2-${tag}`, 2, 1100);
    await accepted(room('d'), `d1-${tag}`);
    await accepted(room('e'), `e1-${tag}`);
    refusal('a 5th room of kraken_media_worker_rooms 4 is 5003000 server busy',
            await publish(room('f'), `f1-${tag}`), 5003000,
            /server busy: 4 rooms/);
    refusal('an 8th peer of kraken_media_worker_peers 7 is 5003000 server busy',
            await publish(room('d'), `d2-${tag}`), 5003000,
            /server busy: 7 peers/);
    await flood('publishes into new rooms',
                (i) => publish(room(`more${i}`), `m${i}-${tag}`),
                5003000, /server busy: 4 rooms/);
    await callsFlow('while new rooms and peers are refused');

    const info = await rpc(url, 'info', []);
    checks.check('info counts each refusal in counters.bounds_hit',
                 info.counters && info.counters.bounds_hit === refused,
                 { bounds_hit: info.counters && info.counters.bounds_hit,
                   refused });
    checks.check('both calls are still all there, and saw no error',
                 info.active_peers === 7 && calls.flat().every((p) =>
                     p.restarts === 0 && p.publishes === 1
                     && p.errors.length === 0),
                 { active_peers: info.active_peers,
                   errors: calls.flat().map((p) => p.errors) });
}


async function registry() {
    await startCall(`reg-call-${tag}`, 2, 300);

    /* new rooms until the registry refuses one */
    const bare = [];
    let res = null;
    for (let i = 0; i < 1000; i++) {
        res = await publish(`reg${i}-${tag}`, `r${i}-${tag}`);
        if (res.error !== undefined) {
            break;
        }
        bare.push({ room: `reg${i}-${tag}`, uid: `r${i}-${tag}`,
                    track: res.data.track });
    }
    log(`${bare.length} new rooms taken, then ${JSON.stringify(res.error)}`);
    checks.check('a new room beyond what the registry holds is 5003000 '
                 + 'server busy: room registry full',
                 isError(res, 5003000, /room registry full/),
                 { taken: bare.length, error: res.error });
    if (res.error === undefined) {
        return;
    }
    refused++;

    await flood('new rooms', (i) => publish(`regmore${i}-${tag}`,
                                            `rm${i}-${tag}`),
                5003000, /room registry full/);
    await callsFlow('while the registry refuses new rooms');

    /* info (kraken_info_details on) stays small: 100 rooms a worker */
    const res2 = await rpcRaw(url, 'info', []);
    const ws = (res2.data && res2.data.workers) || [];
    const total = ws.reduce((n, w) => n + (w.room_count || 0), 0);
    checks.check('info lists at most 100 rooms of a worker and counts '
                 + 'them all (room_count)',
                 ws.length === 2 && total === bare.length + 1
                 && ws.some((w) => w.room_count > 100)
                 && ws.every((w) => w.rooms.length <= 100
                             && w.rooms.length
                                === Math.min(100, w.room_count)),
                 { rooms: bare.length + 1, size: JSON.stringify(res2).length,
                   workers: ws.map((w) => [w.rooms.length, w.room_count]) });

    /* rooms it holds still take peers */
    const more = await publish(bare[0].room, `r0b-${tag}`);
    checks.check('a room the registry holds still takes a new peer',
                 more.error === undefined, more.error);
    if (more.error === undefined) {
        bare.push({ room: bare[0].room, uid: `r0b-${tag}`,
                    track: more.data.track });
    }

    /* once rooms are gone, their places are free again */
    await end(bare);
    checks.check('ended peers are forgotten', await settled(2));
    const again = await publish(`regagain-${tag}`, `ra-${tag}`);
    checks.check('the registry takes a new room again once rooms are gone',
                 again.error === undefined, again.error);
    await callsFlow('after all that');
}


async function main() {
    checks.deadline(180000, () => ({}));
    if (mode === 'bounds') {
        await bounds();
    } else if (mode === 'registry') {
        await registry();
    } else {
        throw new Error(`unknown mode ${mode}`);
    }
    /* the peers stay open: the summary goes out first (Checks) */
    checks.finish({ refused });
}

main().catch((e) => checks.abort(e, { refused }));

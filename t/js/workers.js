'use strict';
/*
 * Several workers: rooms spread over them, each room on exactly one; a
 * worker killed mid-call does not disturb the rooms of the others; after a
 * reload, calls in progress go on in the old worker while new rooms go to
 * the new ones.
 *
 *   node t/js/workers.js URL MODE ROOMS PEERS [MASTER_PID]
 *
 * MODE: spread | kill | reload. Prints one JSON line {ok, checks, ...};
 * exit 0 all checks passed, 1 a check failed, 2 the script could not run.
 */

const {
    Participant, Checks, rpc, waitFor, sleep, randomId, logger,
} = require('./lib/kraken-client');

const [url, mode, roomsArg, peersArg, masterArg] = process.argv.slice(2);
const ROOMS = Number(roomsArg || 8);
const PEERS = Number(peersArg || 3);
const MASTER = Number(masterArg || 0);
const log = logger(`workers-${mode}`);
const checks = new Checks({ test: `workers-${mode}`, url, rooms: ROOMS,
                            peers: PEERS });
const tag = randomId();
let all = [];

function expected(p) {
    return all.filter((q) => q !== p && q.room === p.room)
              .map((q) => q.uid).sort();
}

function converged(members) {
    return members.every((p) => JSON.stringify(p.activeStreams())
                                === JSON.stringify(expected(p)));
}

async function hearing(members, min = 20) {
    await Promise.all(members.map((p) => p.sampleStats()));
    return members.every((p) => expected(p).every((u) => {
        const h = p.heard(u);
        return h && h.activeFrames > min;
    }));
}

/* room -> [slots] from info's workers view */
/* what the summary carries beside the checks */
let extra = {};

function placement(info) {
    const where = new Map();
    for (const w of info.workers || []) {
        for (const r of w.rooms) {
            if (!where.has(r)) {
                where.set(r, []);
            }
            where.get(r).push(w);
        }
    }
    return where;
}

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

/*
 * The longest silence any of these participants heard on a room mate's
 * stream over ms milliseconds: each inbound-rtp report's own time minus
 * its lastPacketReceivedTimestamp, sampled every 20 ms or so. Only what a
 * report saw counts, so a sampling loop slowed down by a loaded machine
 * does not stretch it; a real gap shows, less one sampling period at most.
 */
async function longestGap(members, ms) {
    let worst = 0;
    const end = Date.now() + ms;
    while (Date.now() < end) {
        await Promise.all(members.map(async (p) => {
            const report = await p.pc.getStats();
            report.forEach((st) => {
                if (st.type === 'inbound-rtp' && st.packetsReceived) {
                    worst = Math.max(worst, st.timestamp
                                            - st.lastPacketReceivedTimestamp);
                }
            });
        }));
        await sleep(20);
    }
    return Math.round(worst);
}

async function setup(rooms) {
    all = rooms.flat();
    await Promise.all(all.map((p) => p.join()));
    checks.check(`all ${all.length} participants published`,
                 all.every((p) => p.track !== null));
    checks.check('every participant is offered exactly its room mates',
                 await waitFor(() => converged(all), 30000));
    checks.check('every participant hears each room mate',
                 await waitFor(() => hearing(all), 20000, 250));
}

async function spread() {
    const rooms = [];
    for (let r = 0; r < ROOMS; r++) {
        rooms.push(makeRoom(`spread${r}-${tag}`, PEERS, 300));
    }
    await setup(rooms);

    const info = await rpc(url, 'info', []);
    const where = placement(info);
    const names = rooms.map((m) => m[0].room);
    checks.check('info shows each room on exactly one worker',
                 names.every((n) => (where.get(n) || []).length === 1),
                 Object.fromEntries(names.map((n) => [n,
                     (where.get(n) || []).map((w) => w.slot)])));
    const used = new Set(names.map((n) => (where.get(n) || [{}])[0].slot));
    checks.check('the rooms are spread over several workers',
                 used.size >= 2, [...used]);
    checks.check('info counts every participant as active',
                 info.active_peers === all.length, info.active_peers);
    const ports = new Set(all.flatMap((p) => p.serverPorts || []));
    checks.check('every answer names one and the same media port',
                 ports.size === 1
                 && all.every((p) => (p.serverPorts || []).length > 0),
                 [...ports]);
    checks.check('the steering mode is reported', typeof info.steering
                 === 'string', info.steering);
    extra = { steering: info.steering, counters: info.counters };

    /* every call was on a fresh connection, so most were forwarded */
    for (const p of all) {
        await p.end();
    }
    checks.check('after end, info shows no active peers',
                 await waitFor(async () =>
                     (await rpc(url, 'info', [])).active_peers === 0, 5000));
}

async function kill() {
    const rooms = [];
    for (let r = 0; r < ROOMS; r++) {
        rooms.push(makeRoom(`kill${r}-${tag}`, PEERS, 300));
    }
    await setup(rooms);

    const info = await rpc(url, 'info', []);
    const where = placement(info);
    const busy = (info.workers || []).filter((w) => w.rooms.length > 0);
    if (busy.length < 2) {
        throw new Error(`rooms on ${busy.length} worker(s): cannot kill one`);
    }
    const victim = busy[0];
    const doomed = rooms.filter((m) => victim.rooms.includes(m[0].room));
    const spared = rooms.filter((m) => !victim.rooms.includes(m[0].room));
    log(`killing worker slot ${victim.slot} pid ${victim.pid}: `
        + `${doomed.length} rooms, ${spared.length} spared`);
    checks.check('each room is on one worker before the kill',
                 rooms.every((m) => (where.get(m[0].room) || []).length
                                    === 1));

    /* the killed rooms republish after the measure: all participants
     * share this process, and new PeerConnections stall it (and the tones
     * it sends) long enough to look like a gap in the spared rooms */
    const victims = doomed.flat();
    for (const p of victims) {
        p.autoRestart = false;
    }
    const gap = longestGap(spared.flat(), 4000);
    await sleep(500);
    process.kill(victim.pid, 'SIGKILL');
    const worst = await gap;
    checks.check('rooms on the other workers show no gap over 200 ms',
                 worst < 200, { longestGapMs: worst });

    /* the killed rooms: 5002001 on subscribe, republish, heard again */
    for (const p of victims) {
        p.autoRestart = true;
    }
    checks.check('the killed rooms\' participants republish by themselves',
                 await waitFor(() => victims.every((p) => p.restarts > 0),
                               20000),
                 Object.fromEntries(victims.map((p) => [p.uid, p.restarts])));
    for (const p of victims) {
        p.resetAudio();
    }
    checks.check('the killed rooms are heard again after rejoining',
                 await waitFor(async () => converged(victims)
                                          && hearing(victims), 30000, 250));
    checks.check('the spared rooms never republished',
                 spared.flat().every((p) => p.restarts === 0));

    const after = placement(await rpc(url, 'info', []));
    checks.check('every room is again on exactly one live worker',
                 rooms.every((m) => (after.get(m[0].room) || []).length
                                    === 1));
    for (const p of all) {
        await p.end();
    }
}

async function reload() {
    if (!MASTER) {
        throw new Error('reload needs the master pid');
    }
    const old = makeRoom(`old-${tag}`, PEERS, 300);
    await setup([old]);
    const before = await rpc(url, 'info', []);
    const owner = placement(before).get(old[0].room)[0];

    const gap = longestGap(old, 4000);
    await sleep(300);
    process.kill(MASTER, 'SIGHUP');
    const worst = await gap;
    checks.check('the call in progress goes on through the reload',
                 worst < 500, { longestGapMs: worst });

    const newer = await waitFor(async () => {
        const i = await rpc(url, 'info', []);
        return (i.workers || []).some((w) => w.generation
                                             > owner.generation);
    }, 10000);
    checks.check('new workers start', newer);

    /* a latecomer to the old room joins it where it is */
    const late = new Participant({ url, room: old[0].room,
                                   uid: `${old[0].room}-late`, tone: 1900,
                                   pollMs: 500, log });
    old.push(late);
    all = [...old];
    await late.join();
    checks.check('a latecomer to a room in progress joins its old worker',
                 await waitFor(() => converged(old), 20000)
                 && placement(await rpc(url, 'info', [])).get(old[0].room)
                        .every((w) => w.pid === owner.pid));

    const fresh = makeRoom(`new-${tag}`, 2, 1100);
    all = [...old, ...fresh];
    await Promise.all(fresh.map((p) => p.join()));
    checks.check('a new room is heard',
                 await waitFor(async () => converged(fresh)
                                          && hearing(fresh), 20000, 250));
    const now = placement(await rpc(url, 'info', []));
    const placed = now.get(fresh[0].room) || [];
    checks.check('a new room goes to a new worker',
                 placed.length === 1
                 && placed[0].generation > owner.generation,
                 placed.map((w) => w.generation));
    checks.check('no room has peers on two workers',
                 [...now.values()].every((ws) => ws.length === 1));

    for (const p of old) {
        await p.end();
    }
    const gone = await waitFor(() => {
        try {
            process.kill(owner.pid, 0);
            return false;
        } catch (e) {
            return true;
        }
    }, 10000);
    checks.check('the old worker exits once its last call ended', gone);
    for (const p of fresh) {
        await p.end();
    }
}

async function main() {
    checks.deadline(150000, () => ({}));
    if (mode === 'spread') {
        await spread();
    } else if (mode === 'kill') {
        await kill();
    } else if (mode === 'reload') {
        await reload();
    } else {
        throw new Error(`unknown mode ${mode}`);
    }
    /* the peers stay open: the summary goes out first (Checks) */
    checks.finish(extra);
}

main().catch((e) => checks.abort(e, {}));

'use strict';
/*
 * Two fronts, three engines (t/060-cluster.t, KrakenCluster.pm): real
 * peers whose calls go through the fronts, each participant to the front
 * it picked at random.
 *
 *   node t/js/cluster.js preload  CONFIG_JSON
 *   node t/js/cluster.js scenario CONFIG_JSON
 *
 * CONFIG_JSON: {fronts: [url1, url2], engines: {engA: url, ...},
 *               rooms, peers, preloadRooms, tag, shard, shards,
 *               rejoinJitterMs, deadlineMs}
 * Several scenario processes (shards) may share the rooms out (room r
 * in shard r % shards, the same tag for all); the test answers a phase
 * once every shard reached it. Only shard 0 runs the newcomer.
 *
 * preload: preloadRooms rooms of 2 peers published directly at engA's RPC
 * and kept connected; prints {"phase":"preloaded",...} and stays until its
 * stdin closes, then prints its summary.
 *
 * scenario: a line protocol with the test. It prints {"phase": P, ...}
 * and waits for one JSON line on stdin before going on:
 *   joined           12 rooms x 3 peers joined through the fronts and hear
 *                    each other; the answer carries {placement: {room:
 *                    engine}} from the engines' own info
 *   kill             the gap measure runs: kill engine B now, answer {}
 *   rejoined         B's rooms rejoined (answer {placement})
 *   restart-front1   restart front 1 now, answer {}
 *   newcomer         a newcomer joined an existing room through front 1
 * then prints its summary {ok, checks, ...} (exit 0 passed, 1 a check
 * failed, 2 the script could not run). Progress goes to stderr.
 */

const readline = require('readline');
const {
    Participant, Checks, rpc, waitFor, sleep, randomId, logger,
    KrakenError, RpcTransportError,
} = require('./lib/kraken-client');

const [mode, cfgArg] = process.argv.slice(2);
const cfg = JSON.parse(cfgArg || '{}');
const FRONTS = cfg.fronts || [];
const ENGINES = cfg.engines || {};
const ROOMS = Number(cfg.rooms || 12);
const PEERS = Number(cfg.peers || 3);
const PRELOAD = Number(cfg.preloadRooms || 6);
/* the rooms are shared out over SHARDS processes (room r to shard r %
 * SHARDS): one node process's main thread feeding 36 tones is late by
 * hundreds of ms on a busy machine, which the others hear as gaps */
const SHARDS = Number(cfg.shards || 1);
const SHARD = Number(cfg.shard || 0);
const tag = cfg.tag || randomId();
const TONES = [300, 500, 700, 900];
const log = logger(`cluster-${mode}`);
const checks = new Checks({ test: `cluster-${mode}`, rooms: ROOMS,
                            peers: PEERS, preloadRooms: PRELOAD,
                            shard: SHARD, shards: SHARDS });
const extra = {};


/* ---- the line protocol ----------------------------------------------- */

const inbox = [];
let waiter = null;
let stdinClosed = false;
const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => {
    if (waiter) {
        const w = waiter;
        waiter = null;
        w(line);
    } else {
        inbox.push(line);
    }
});
rl.on('close', () => {
    stdinClosed = true;
    if (waiter) {
        const w = waiter;
        waiter = null;
        w(null);
    }
});

function nextLine() {
    if (inbox.length) {
        return Promise.resolve(inbox.shift());
    }
    if (stdinClosed) {
        return Promise.resolve(null);
    }
    return new Promise((r) => { waiter = r; });
}

function say(phase, data = {}) {
    process.stdout.write(JSON.stringify({ phase, ...data }) + '\n');
}

async function ask(phase, data = {}) {
    say(phase, data);
    const line = await nextLine();
    if (line === null) {
        throw new Error(`the test closed stdin at phase ${phase}`);
    }
    return JSON.parse(line);
}


/* ---- participants ------------------------------------------------------ */

let all = [];
const toneOf = new Map();

function expected(p) {
    return all.filter((q) => q !== p && q.room === p.room)
              .map((q) => q.uid).sort();
}

function converged(members) {
    return members.every((p) => JSON.stringify(p.activeStreams())
                                === JSON.stringify(expected(p)));
}

/* every member hears every room mate, on the mate's own tone */
async function hearing(members, min = 20) {
    return members.every((p) => expected(p).every((u) => {
        const h = p.heard(u);
        return h && h.activeFrames > min && h.tone === toneOf.get(u);
    }));
}

function iceLost(p) {
    return p.pc !== null
        && ['disconnected', 'failed', 'closed'].includes(
            p.pc.iceConnectionState);
}

/*
 * Counts what each call of p met, and republishes on transport errors
 * when the media is gone too (the client library republishes only on
 * 5002001/5002002): three failed subscribes in a row with ICE lost. A
 * front that restarts gives transport errors too, but the media, which
 * does not go through it, stays: no republish then.
 */
function instrument(p) {
    p.transportFails = 0;
    p.transportErrors = 0;
    p.transportRestarts = 0;
    p.codes = {};
    p.codeTimes = [];
    p.lastSubOkAt = 0;
    p.on('error', () => {});            /* kept in p.errors */
    /* hearing is told from the audio sinks here; the library's per-poll
     * getStats (one report per participant per poll) only loads the
     * process that also sends every tone */
    p.sampleStats = async () => {};
    const call = p.rpc.bind(p);
    p.rpc = async (method, params) => {
        try {
            const r = await call(method, params);
            p.transportFails = 0;
            if (method === 'subscribe') {
                p.lastSubOkAt = Date.now();
            }
            return r;
        } catch (e) {
            if (e instanceof RpcTransportError) {
                p.transportErrors++;
                p.transportFails++;
                if (method === 'subscribe' && p.autoRestart && p.running
                    && p.transportFails >= 3 && iceLost(p))
                {
                    p.transportRestarts++;
                    p.restarts++;
                    p.log('republish after transport errors, ICE '
                          + p.pc.iceConnectionState);
                    p.closePc();
                }
            } else if (e instanceof KrakenError) {
                p.codes[e.code] = (p.codes[e.code] || 0) + 1;
                p.codeTimes.push({ code: e.code, at: Date.now() });
            }
            throw e;
        }
    };
    return p;
}

/*
 * All participants share this one node process, on a 2-core machine
 * with the five nginx. Decoding every received stream in JavaScript (the
 * audio sinks) is what loads it most, and a starved process sends its
 * tones late, which the others would hear as gaps that no server made.
 * So once a room is known to hear itself, its sinks stop (RTP still
 * arrives and is counted by getStats, which the gap measure reads), and
 * start again only where hearing is checked again.
 */
function mute(p) {
    for (const sink of p.sinks.values()) {
        sink.stop();
    }
    p.sinks = new Map();    /* a later offer attaches new ones */
    p.muted = true;
}

function unmute(p) {
    if (!p.muted) {
        return;
    }
    p.muted = false;
    p.sinks = new Map();
    if (p.pc) {
        for (const t of p.pc.getTransceivers()) {
            if (t.mid !== null && t.receiver && t.receiver.track) {
                p.attachSink(t, t.receiver.track, []);
            }
        }
    }
}

/*
 * Republishing peers wait a random 0..REJOIN_JITTER ms first: real clients
 * run on machines of their own, here a dozen new PeerConnections at once
 * would stall the process that also sends every other room's audio.
 */
const REJOIN_JITTER = Number(cfg.rejoinJitterMs || 3000);

function jitter(p) {
    const publish = p.publish.bind(p);
    p.publish = async () => {
        if (p.publishes > 0) {
            await sleep(Math.random() * REJOIN_JITTER);
        }
        p.muted = false;
        return publish();
    };
    return p;
}

/*
 * The gap measure listens on the first member of each room (it hears
 * every other): fewer reports per round, so a shorter sampling period.
 */
function listeners(rooms) {
    return rooms.map((m) => m[0]);
}

function makeRoom(name, n, urlOf) {
    const members = [];
    const tones = TONES.slice(0, n + 1);
    for (let i = 0; i < n; i++) {
        const uid = `${name}-p${i}`;
        toneOf.set(uid, TONES[i]);
        members.push(jitter(instrument(new Participant({
            url: urlOf(i), room: name, uid, tone: TONES[i], tones,
            pollMs: 500, log,
        }))));
    }
    return members;
}

function pickFront() {
    return FRONTS[Math.floor(Math.random() * FRONTS.length)];
}

/*
 * The longest silence these participants heard on any stream they
 * receive, from each inbound-rtp report's own time minus its
 * lastPacketReceivedTimestamp (as t/031), sampled until ms pass or
 * stop() says so. A real gap shows, less one sampling period at most.
 */
async function longestGap(members, ms, stop = () => false) {
    /* how late this process's own timers ran meanwhile: a starved
     * client sends its tones late, a gap no server made */
    let lag = 0;
    let tick = Date.now();
    const lagTimer = setInterval(() => {
        const t = Date.now();
        lag = Math.max(lag, t - tick - 10);
        tick = t;
    }, 10);
    let worst = 0;
    let who = null;
    let samples = 0;
    const start = Date.now();
    const end = start + ms;
    while (Date.now() < end && !stop()) {
        await Promise.all(members.map(async (p) => {
            const pc = p.pc;
            if (!pc) {
                return;
            }
            const report = await pc.getStats();
            report.forEach((st) => {
                if (st.type === 'inbound-rtp' && st.packetsReceived
                    && st.lastPacketReceivedTimestamp)
                {
                    const gap = st.timestamp - st.lastPacketReceivedTimestamp;
                    if (gap > worst) {
                        worst = gap;
                        who = p.uid;
                    }
                }
            });
        }));
        samples++;
        await sleep(20);
    }
    clearInterval(lagTimer);
    return { longestGapMs: Math.round(worst), at: who, samples,
             eventLoopLagMs: lag,
             periodMs: Math.round((Date.now() - start) / Math.max(samples, 1)),
             windowMs: Date.now() - start };
}

/*
 * The part of a gap the servers may have made: the members of a room
 * share one client process, whose tones are pumped by its own timers, so
 * a process that stalled for L ms sent nothing for L ms itself. On a
 * quiet machine L is a few ms and the check is the plain 200 ms.
 */
function serverGap(g) {
    return g.longestGapMs - g.eventLoopLagMs;
}

/* the longest late timer of this process over ms, measuring nothing */
async function idleLag(ms) {
    let lag = 0;
    let tick = Date.now();
    const t = setInterval(() => {
        const n = Date.now();
        lag = Math.max(lag, n - tick - 10);
        tick = n;
    }, 10);
    await sleep(ms);
    clearInterval(t);
    return lag;
}

async function joinRooms(rooms) {
    /* room by room: a balancer sees each engine's figures change */
    for (const members of rooms) {
        await Promise.all(members.map((p) => p.join()));
    }
}

function roomOf(members) {
    return members[0].room;
}


/* ---- preload: engine A gets rooms of its own ------------------------ */

async function preload() {
    const url = ENGINES.engA;
    const rooms = [];
    for (let r = 0; r < PRELOAD; r++) {
        rooms.push(makeRoom(`pre${r}-${tag}`, 2, () => url));
    }
    all = rooms.flat();
    await joinRooms(rooms);
    checks.check(`all ${all.length} participants published at A`,
                 all.every((p) => p.track !== null));
    checks.check('every participant is offered its room mate',
                 await waitFor(() => converged(all), 30000));
    checks.check('every participant hears its room mate',
                 await waitFor(() => hearing(all), 30000, 250));
    all.forEach(mute);
    say('preloaded', { ok: checks.ok, rooms: rooms.map(roomOf),
                       peers: all.length });

    /* stays connected until the test is done with it */
    while (await nextLine() !== null) {
        /* nothing to do but wait */
    }
    checks.check('the participants never republished',
                 all.every((p) => p.restarts === 0),
                 Object.fromEntries(all.filter((p) => p.restarts)
                     .map((p) => [p.uid, p.restarts])));
    extra.participants = all.map((p) => ({ uid: p.uid,
        restarts: p.restarts, codes: p.codes }));
}


/* ---- the scenario ------------------------------------------------------ */

async function scenario() {
    /* the fronts hear the engines' figures (A loaded) */
    let infos = 0;
    for (const f of FRONTS) {
        for (let i = 0; i < 4; i++) {
            try {
                await rpc(f, 'info', []);
                infos++;
            } catch (e) {
                log(`info through ${f}: ${e.message}`);
            }
        }
    }
    checks.check('info answers through both fronts',
                 infos === 4 * FRONTS.length, infos);

    /* join: each participant through a front of its own choice */
    const rooms = [];
    for (let r = SHARD; r < ROOMS; r += SHARDS) {
        rooms.push(makeRoom(`room${r}-${tag}`, PEERS, pickFront));
    }
    all = rooms.flat();
    const t0 = Date.now();
    await joinRooms(rooms);
    checks.check(`all ${all.length} participants published through the`
                 + ' fronts', all.every((p) => p.track !== null));
    checks.check('every participant is offered exactly its room mates',
                 await waitFor(() => converged(all), 30000));
    checks.check('every participant hears each room mate (its tone)',
                 await waitFor(() => hearing(all), 40000, 250));
    extra.joinMs = Date.now() - t0;
    all.forEach(mute);
    extra.fronts = Object.fromEntries(all.map((p) => [p.uid, p.url]));
    const byFront = FRONTS.map((f) => all.filter((p) => p.url === f).length);
    log(`joined in ${extra.joinMs} ms; per front ${byFront}`);

    const joined = await ask('joined', {
        rooms: rooms.map(roomOf), peers: all.length,
        members: Object.fromEntries(rooms.map((m) => [roomOf(m),
                                                      m.map((p) => p.uid)])),
    });
    const placedAt = joined.placement || {};
    extra.placementAfterJoin = placedAt;

    /* kill -9 of engine B: its rooms rejoin, the others hear no gap */
    const doomed = rooms.filter((m) => placedAt[roomOf(m)] === 'engB');
    const spared = rooms.filter((m) => placedAt[roomOf(m)] !== 'engB');
    /* (whether B holds any room at all, the test checks over the shards) */
    const victims = doomed.flat();
    const calm = listeners(spared);
    for (const p of victims) {
        p.autoRestart = false;
    }
    /* the same measure with nothing happening: what the client adds */
    extra.idleLagMs = await idleLag(2000);
    extra.gapQuiet = await longestGap(calm, 4000);
    log(`quiet window: ${JSON.stringify(extra.gapQuiet)}`);
    /* until 3.5 s after the kill, however long the other shards took */
    let killedAt = null;
    const gapKill = longestGap(calm, 120000,
                               () => killedAt && Date.now() > killedAt + 3500);
    await sleep(500);
    const tKill = Date.now();
    await ask('kill', { engine: 'engB', rooms: doomed.map(roomOf) });
    killedAt = Date.now();
    extra.gapAtKill = await gapKill;
    checks.check('rooms on A and C hear no gap over 200 ms (beyond their'
                 + ' own clients\' stalls) at the kill',
                 serverGap(extra.gapAtKill) < 200, extra.gapAtKill);

    const tRejoin = Date.now();
    let rejoinDone = false;
    for (const p of victims) {
        p.autoRestart = true;
        p.resetAudio();
    }
    const gapRejoin = longestGap(calm, 60000, () => rejoinDone);
    const republished = await waitFor(
        () => victims.every((p) => p.restarts > 0 && p.track !== null),
        30000);
    const heardAgain = republished && await waitFor(
        async () => converged(victims) && hearing(victims), 40000, 250);
    rejoinDone = true;
    extra.gapAtRejoin = await gapRejoin;
    victims.forEach(mute);
    extra.rejoinMs = Date.now() - tRejoin;
    checks.check('B\'s rooms\' participants got errors (5002001 or transport)',
                 victims.every((p) => p.codeTimes.some((c) => c.at >= tKill)
                                      || p.transportErrors > 0),
                 Object.fromEntries(victims.map((p) => [p.uid,
                     { codes: p.codes, transport: p.transportErrors }])));
    checks.check('B\'s rooms\' participants republished through the fronts',
                 republished,
                 Object.fromEntries(victims.map((p) => [p.uid,
                     { restarts: p.restarts,
                       transportRestarts: p.transportRestarts }])));
    checks.check('B\'s rooms are heard again within 70 s', heardAgain,
                 { rejoinMs: extra.rejoinMs });
    checks.check('rooms on A and C hear no gap over 200 ms (beyond their'
                 + ' own clients\' stalls) while B\'s rooms rejoin',
                 serverGap(extra.gapAtRejoin) < 200, extra.gapAtRejoin);
    checks.check('rooms on A and C never republished',
                 calm.every((p) => p.restarts === 0),
                 Object.fromEntries(calm.filter((p) => p.restarts)
                     .map((p) => [p.uid, p.restarts])));

    const rejoined = await ask('rejoined', { rooms: doomed.map(roomOf) });
    const placedNow = rejoined.placement || {};
    extra.placementAfterRejoin = placedNow;

    /* restart of front 1 while the calls go on */
    const via1 = all.filter((p) => p.url === FRONTS[0]);
    const restartsBefore = new Map(all.map((p) => [p.uid, p.restarts]));
    let restartDone = false;
    const gapRestart = longestGap(listeners(rooms), 60000,
                                  () => restartDone);
    await sleep(300);
    const tStop = Date.now();
    const answer = await ask('restart-front1', {});
    const tUp = Date.now();
    extra.frontRestartMs = tUp - tStop;
    const polling = await waitFor(
        () => via1.every((p) => p.lastSubOkAt > tUp), 15000);
    await sleep(1500);
    restartDone = true;
    extra.gapAtFrontRestart = await gapRestart;
    checks.check('front 1 restarted', answer.restarted === true, answer);
    checks.check('subscribe polls through front 1 work again after its'
                 + ' restart', via1.length > 0 && polling,
                 { participants: via1.length,
                   late: via1.filter((p) => p.lastSubOkAt <= tUp)
                       .map((p) => p.uid) });
    const refused = all.filter((p) => p.codeTimes.some(
        (c) => c.at >= tStop && c.code === 5002001));
    checks.check('no participant got 5002001 across the front restart',
                 refused.length === 0, refused.map((p) => p.uid));
    checks.check('no participant republished across the front restart',
                 all.every((p) => p.restarts === restartsBefore.get(p.uid)),
                 all.filter((p) => p.restarts !== restartsBefore.get(p.uid))
                     .map((p) => p.uid));
    /* the media never goes through a front: what matters is that no
     * call lost it (a republish is checked above); the starting nginx
     * loads this 2-core machine, so the gap bound is loose here */
    const iceNow = all.filter((p) => !p.pc || !['connected', 'completed']
                                     .includes(p.pc.iceConnectionState));
    checks.check('every call\'s media went on across the front restart'
                 + ' (ICE connected, no gap over 1 s)',
                 iceNow.length === 0
                 && extra.gapAtFrontRestart.longestGapMs < 1000,
                 { ...extra.gapAtFrontRestart,
                   notConnected: iceNow.map((p) => p.uid) });

    if (SHARD !== 0) {
        await ask('newcomer', { room: null });
        return;
    }

    /* a newcomer to an existing room, through the restarted front 1 */
    const target = (doomed.length ? doomed : rooms)[0];
    const name = roomOf(target);
    const uid = `${name}-late`;
    toneOf.set(uid, TONES[PEERS]);
    const late = instrument(new Participant({
        url: FRONTS[0], room: name, uid, tone: TONES[PEERS],
        tones: TONES.slice(0, PEERS + 1), pollMs: 500, log,
    }));
    target.push(late);
    all.push(late);
    for (const p of target) {
        unmute(p);
        p.resetAudio();
    }
    await late.join();
    checks.check('the newcomer through front 1 is offered its room mates and'
                 + ' they it', await waitFor(() => converged(target), 30000));
    checks.check('the newcomer and its room mates hear each other',
                 await waitFor(() => hearing(target), 30000, 250),
                 target.map((p) => p.summary().heard));
    await ask('newcomer', { room: name, uid, engineBefore: placedNow[name] });

}


/* KRAKEN_CLUSTER_PROF=FILE: a CPU profile of this process (the client's
 * own load is what makes gaps no server made) */
function profile(file) {
    const inspector = require('inspector');
    const session = new inspector.Session();
    session.connect();
    session.post('Profiler.enable');
    session.post('Profiler.start');
    checks.afterSummary(() => new Promise((resolve) => {
        session.post('Profiler.stop', (err, res) => {
            if (!err) {
                require('fs').writeFileSync(file,
                                            JSON.stringify(res.profile));
            }
            resolve();
        });
    }));
}

async function main() {
    if (process.env.KRAKEN_CLUSTER_PROF) {
        profile(`${process.env.KRAKEN_CLUSTER_PROF}.${mode}.cpuprofile`);
    }
    checks.deadline(Number(cfg.deadlineMs || 420000), () => extra);
    if (mode === 'preload') {
        await preload();
    } else if (mode === 'scenario') {
        await scenario();
        extra.participants = all.map((p) => ({
            uid: p.uid, url: p.url, restarts: p.restarts,
            transportRestarts: p.transportRestarts, codes: p.codes,
            transportErrors: p.transportErrors,
        }));
    } else {
        throw new Error(`unknown mode ${mode}`);
    }
    /* the peers stay open: the summary goes out first (Checks) */
    checks.finish(extra);
}

main().catch((e) => checks.abort(e, extra));

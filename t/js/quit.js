'use strict';
/*
 * nginx quits (SIGQUIT, what `nginx -s quit` sends) or stops (SIGTERM,
 * `nginx -s stop`) during a call: its workers and master exit within the
 * bound, and each participant's DTLS transport is closed by the server's
 * close_notify at once, long before ICE would notice the silence.
 *
 *   node t/js/quit.js URL MASTER_PID SIGNAL BOUND_S [HOLD_S] [reload]
 *
 * SIGNAL: SIGQUIT or SIGTERM; HOLD_S: how long the call runs first (past
 * 10 s the server has freed its SSL objects and sends the close_notify it
 * sealed then); reload: a SIGHUP first, so the call is in a draining old
 * generation when nginx quits. Prints one JSON line {ok, checks, ...};
 * exit 0 all checks passed, 1 a check failed, 2 the script could not run.
 */

const fs = require('fs');
const {
    Participant, Checks, waitFor, randomId, logger,
} = require('./lib/kraken-client');

const [url, masterArg, signal, boundArg, holdArg, reload]
    = process.argv.slice(2);
const MASTER = Number(masterArg);
const BOUND_MS = Number(boundArg || 2) * 1000;
const HOLD_MS = Number(holdArg || 0) * 1000;
const log = logger('quit');
const checks = new Checks({ test: 'quit', url, signal, boundMs: BOUND_MS,
                            holdMs: HOLD_MS, reload: !!reload });
const tag = randomId();
const times = {};
const members = [];

/* a zombie has exited: its reaper (the namespace's init) may be slow */
function alive(pid) {
    try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
        return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
    } catch (e) {
        return false;
    }
}

/* the master's children */
function workers() {
    const pids = [];
    for (const d of fs.readdirSync('/proc')) {
        if (!/^\d+$/.test(d)) {
            continue;
        }
        try {
            const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
            const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
            if (Number(f[1]) === MASTER && f[0] !== 'Z') {
                pids.push(Number(d));
            }
        } catch (e) {
            /* gone meanwhile */
        }
    }
    return pids;
}

async function received(p) {
    const streams = await p.inbound();
    return Object.values(streams).reduce((a, s) => a + s.packetsReceived,
                                         0);
}

/* the states a participant's transports went through, with times */
function watch(p) {
    const w = { states: [], closedAt: null };
    const pc = p.pc;
    const sender = pc.getSenders()[0];
    const note = (what, state) => {
        w.states.push(`${what}:${state}@${Date.now() - (times.signal || 0)}`);
    };
    w.dtls = sender && sender.transport;
    w.pc = pc;
    w.last = { dtls: w.dtls ? w.dtls.state : null,
               conn: pc.connectionState, ice: pc.iceConnectionState };
    w.poll = setInterval(() => {
        const now = { dtls: w.dtls ? w.dtls.state : null,
                      conn: pc.connectionState,
                      ice: pc.iceConnectionState };
        for (const k of Object.keys(now)) {
            if (now[k] !== w.last[k]) {
                note(k, now[k]);
            }
        }
        w.last = now;
        if (w.closedAt === null && times.signal
            && (now.dtls === 'closed' || now.dtls === 'failed'))
        {
            w.closedAt = Date.now();
        }
    }, 10);
    return w;
}

async function hearing() {
    await Promise.all(members.map((p) => p.sampleStats()));
    return members.every((p) => members.filter((q) => q !== p)
        .every((q) => {
            const h = p.heard(q.uid);
            return h && h.activeFrames > 20;
        }));
}

async function main() {
    if (!MASTER || !['SIGQUIT', 'SIGTERM'].includes(signal)) {
        throw new Error('usage: quit.js URL MASTER_PID SIGQUIT|SIGTERM '
                        + 'BOUND_S [HOLD_S] [reload]');
    }
    checks.deadline(HOLD_MS + 60000, () => ({ times }));

    const room = `quit-${tag}`;
    for (let i = 0; i < 2; i++) {
        members.push(new Participant({ url, room, uid: `${room}-p${i}`,
                                       tone: 300 + 200 * i, pollMs: 500,
                                       autoRestart: false, log }));
    }
    await Promise.all(members.map((p) => p.join()));
    checks.check('the call is heard before the signal',
                 await waitFor(hearing, 20000, 250));

    if (HOLD_MS) {
        await new Promise((resolve) => setTimeout(resolve, HOLD_MS));
    }

    if (reload) {
        const old = workers();
        process.kill(MASTER, 'SIGHUP');
        const started = await waitFor(() => workers().some(
            (pid) => !old.includes(pid)), 10000, 50);
        const before = await Promise.all(members.map(received));
        let after = before;
        const flows = await waitFor(async () => {
            after = await Promise.all(members.map(received));
            return after.every((n, i) => n >= before[i] + 50);
        }, 5000, 200);
        checks.check('after a reload the call goes on in the old generation',
                     started && flows && old.some(alive),
                     { old, now: workers(), before, after });
    }

    const WORKERS = workers();
    const watches = members.map(watch);
    checks.check('each participant has a connected DTLS transport',
                 watches.every((w) => w.dtls && w.dtls.state === 'connected'),
                 watches.map((w) => w.last));

    process.kill(MASTER, signal);
    times.signal = Date.now();
    log(`${signal} to ${MASTER}, workers ${WORKERS.join(' ')}`);
    times.workers = WORKERS;

    const gone = await waitFor(() => !alive(MASTER)
                                     && !WORKERS.some(alive),
                               BOUND_MS, 20);
    times.goneAfterMs = gone ? Date.now() - times.signal : null;
    checks.check(`the workers and the master exit within `
                 + `${BOUND_MS / 1000}s`, gone,
                 { goneAfterMs: times.goneAfterMs,
                   alive: [MASTER, ...WORKERS].filter(alive) });

    /* close_notify: libwebrtc's DTLS transport closes on it */
    const closed = await waitFor(() => watches.every((w) => w.closedAt),
                                 BOUND_MS, 20);
    times.closedAfterMs = watches.map((w) => (w.closedAt
        ? w.closedAt - times.signal : null));
    checks.check(`each participant's DTLS transport is closed within `
                 + `${BOUND_MS / 1000}s`, closed,
                 { closedAfterMs: times.closedAfterMs,
                   states: watches.map((w) => w.states) });
    checks.check('closed, not failed: the server said close_notify',
                 watches.every((w) => w.states.some(
                     (s) => s.startsWith('dtls:closed'))
                     && !w.states.some((s) => s.startsWith('dtls:failed'))),
                 watches.map((w) => w.states));

    for (const w of watches) {
        clearInterval(w.poll);
    }
    for (const p of members) {
        await p.stopLoop();
    }
    checks.finish({ times, states: watches.map((w) => w.states) });
}

main().catch((e) => checks.abort(e, { times }));

'use strict';
/*
 * An old generation with a connected call leaves at kraken_media_drain_timeout:
 * the call goes on through the reload, the old workers exit at the drain
 * deadline (not before, not long after), and the participants, answered
 * 5002001 by the new generation, publish again there and hear each other.
 *
 *   node t/js/drain.js URL MASTER_PID OLD_PIDS DRAIN_S
 *
 * OLD_PIDS: the workers before the reload, comma separated; DRAIN_S: the
 * server's kraken_media_drain_timeout. Prints one JSON line {ok, checks, ...};
 * exit 0 all checks passed, 1 a check failed, 2 the script could not run.
 */

const {
    Participant, Checks, waitFor, randomId, logger,
} = require('./lib/kraken-client');

const [url, masterArg, oldArg, drainArg] = process.argv.slice(2);
const MASTER = Number(masterArg);
const OLD = (oldArg || '').split(',').filter(Boolean).map(Number);
const DRAIN_MS = Number(drainArg || 8) * 1000;
const SLACK_MS = 4000;          /* timer granularity, polling, scheduling */
const log = logger('drain');
const checks = new Checks({ test: 'drain', url, drainMs: DRAIN_MS });
const tag = randomId();
const times = {};
let members = [];

function alive(pid) {
    try {
        process.kill(pid, 0);
        return true;
    } catch (e) {
        return false;
    }
}

function expected(p) {
    return members.filter((q) => q !== p).map((q) => q.uid).sort();
}

async function hearing() {
    if (!members.every((p) => JSON.stringify(p.activeStreams())
                              === JSON.stringify(expected(p))))
    {
        return false;
    }
    await Promise.all(members.map((p) => p.sampleStats()));
    return members.every((p) => expected(p).every((u) => {
        const h = p.heard(u);
        return h && h.activeFrames > 20;
    }));
}

async function received(p) {
    const streams = await p.inbound();
    return Object.values(streams).reduce((a, s) => a + s.packetsReceived,
                                         0);
}

async function main() {
    if (!MASTER || OLD.length === 0) {
        throw new Error('usage: drain.js URL MASTER_PID OLD_PIDS DRAIN_S');
    }
    checks.deadline(DRAIN_MS + 90000, () => ({ times }));

    const room = `drain-${tag}`;
    for (let i = 0; i < 2; i++) {
        members.push(new Participant({ url, room, uid: `${room}-p${i}`,
                                       tone: 300 + 200 * i, pollMs: 500,
                                       log }));
    }
    await Promise.all(members.map((p) => p.join()));
    checks.check('the call is heard before the reload',
                 await waitFor(hearing, 20000, 250));

    process.kill(MASTER, 'SIGHUP');
    times.reload = Date.now();
    log(`SIGHUP to ${MASTER}, old workers ${OLD.join(' ')}`);

    /* the call goes on in the old generation */
    const before = await Promise.all(members.map(received));
    let after = before;
    const flows = await waitFor(async () => {
        after = await Promise.all(members.map(received));
        return after.every((n, i) => n >= before[i] + 50);
    }, Math.min(5000, DRAIN_MS - 2000), 200);
    checks.check('the call goes on after the reload',
                 flows && OLD.some(alive), { before, after });

    /* until the drain deadline */
    const gone = await waitFor(() => !OLD.some(alive),
                               DRAIN_MS + SLACK_MS + times.reload
                               - Date.now(), 100);
    times.oldGoneAfterMs = gone ? Date.now() - times.reload : null;
    checks.check(`the old workers exit by kraken_media_drain_timeout + `
                 + `${SLACK_MS / 1000}s`, gone, times.oldGoneAfterMs);
    checks.check('not before kraken_media_drain_timeout: the call kept them',
                 gone && times.oldGoneAfterMs >= DRAIN_MS - 500,
                 times.oldGoneAfterMs);

    /* the clients are told 5002001 and come back in the new generation */
    const back = await waitFor(() => members.every((p) => p.restarts > 0),
                               15000, 100);
    checks.check('each participant is answered 5002001 and publishes again',
                 back && members.every((p) => p.errors.some((e) =>
                     e.code === 5002001)),
                 members.map((p) => ({ restarts: p.restarts,
                                       errors: p.errors.map((e) =>
                                           e.code || e.message) })));
    for (const p of members) {
        p.resetAudio();
    }
    const again = await waitFor(hearing, 30000, 250);
    times.heardAgainAfterMs = Date.now() - times.reload;
    checks.check('the call is heard again, in the new generation',
                 again && members.every((p) => p.connectedAt));

    for (const p of members) {
        await p.end();
    }
    checks.finish({ times });
}

main().catch((e) => checks.abort(e, { times }));

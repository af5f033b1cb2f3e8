'use strict';
/*
 * A room at kraken_media_peer_streams: a publish the room could not deliver to
 * everyone is refused, and everyone already there keeps hearing everyone.
 *
 *   node t/js/room-limits.js URL streams
 *       with kraken_media_peer_streams 3, one worker: four participants hear
 *       each other; a fifth publish (a bare offer, t/data) is 5002000
 *       "room full", FLOOD more alike; the four still hear each other and
 *       their audio keeps flowing; a member publishing again is not
 *       refused.
 *
 * Prints one JSON line {ok, checks, ...}; exit 0 all checks passed, 1 a
 * check failed, 2 the script could not run.
 */

const fs = require('fs');
const path = require('path');
const {
    Participant, Checks, rpcRaw, waitFor, randomId, logger,
} = require('./lib/kraken-client');

const [url, mode] = process.argv.slice(2);
const FLOOD = 20;
const log = logger(`room-limits-${mode}`);
const checks = new Checks({ test: `room-limits-${mode}`, url,
                            flood: FLOOD });
const tag = randomId();
const OFFER = JSON.stringify({
    type: 'offer',
    sdp: fs.readFileSync(path.join(__dirname, '..', 'data',
                                   'chromium-156-offer-audio.sdp'), 'utf8'),
});


function expected(members, p) {
    return members.filter((q) => q !== p).map((q) => q.uid).sort();
}

/* every member is offered, and hears, every other */
async function everyoneHears(members, ms) {
    return waitFor(async () => {
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
    }, ms, 250);
}

/* packets a member received, by the uid they came from */
async function perSource(p) {
    const streams = await p.inbound();
    const out = {};
    for (const [uid, s] of Object.entries(streams)) {
        out[uid] = s.packetsReceived;
    }
    return out;
}

/* each member receives 25 more packets (0.5 s) from each of the others */
async function flowing(members, when) {
    const before = await Promise.all(members.map(perSource));
    let after = before;
    const ok = await waitFor(async () => {
        after = await Promise.all(members.map(perSource));
        return members.every((p, i) => expected(members, p).every(
            (u) => (after[i][u] || 0) >= (before[i][u] || 0) + 25));
    }, 5000, 200);
    checks.check(`every stream of the call keeps flowing ${when}`, ok,
                 { before, after });
}

function roomFull(res) {
    return res.error !== undefined && res.error.code === 5002000
           && /room full.*receives at most 3 streams/
               .test(res.error.description || '');
}

async function streams() {
    const room = `streams-${tag}`;
    const members = [];
    for (let i = 0; i < 4; i++) {
        members.push(new Participant({
            url, room, uid: `${room}-p${i}`, tone: 300 + 200 * i,
            pollMs: 500, log,
        }));
    }

    await Promise.all(members.map((p) => p.join()));
    const ok = await everyoneHears(members, 30000);
    checks.check('four participants with kraken_media_peer_streams 3 hear '
                 + 'each other', ok);
    if (!ok) {
        throw new Error('the call did not start');
    }

    const fifth = await rpcRaw(url, 'publish', [room, `${room}-p4`, OFFER]);
    checks.check('a fifth publish is 5002000 room full, with why',
                 roomFull(fifth), fifth.error || fifth.data);

    let alike = 0;
    for (let i = 0; i < FLOOD; i++) {
        const res = await rpcRaw(url, 'publish',
                                 [room, `${room}-x${i}`, OFFER]);
        alike += roomFull(res) ? 1 : 0;
    }
    checks.check(`${FLOOD} more publishes are refused alike`,
                 alike === FLOOD, { alike });

    await flowing(members, 'after the refusals');
    checks.check('the four still hear each other, and only each other',
                 await everyoneHears(members, 5000));
    checks.check('no member saw an error',
                 members.every((p) => p.errors.length === 0),
                 members.map((p) => p.errors));

    /* a member's republish takes its own place: not refused */
    const again = await rpcRaw(url, 'publish',
                               [room, members[3].uid, OFFER]);
    checks.check('a member publishing again is not refused',
                 again.error === undefined && again.data
                 && again.data.track, again.error);
}


async function main() {
    checks.deadline(120000, () => ({}));
    if (mode === 'streams') {
        await streams();
    } else {
        throw new Error(`unknown mode ${mode}`);
    }
    checks.finish({});
}

main().catch((e) => checks.abort(e, {}));

'use strict';
/*
 * Issue 17, finding 3: one worker must not take another worker's client
 * address in the shared steering tables (the eBPF map, the registry's
 * address table used for hand-overs).
 *
 * Alices publish in a room on worker X, Bob listens there. Eve publishes,
 * with ICE credentials of her own, in a room on another worker Y: one
 * publish per Alice, never connected. For each Alice, Eve sends one valid
 * check signed with her own credentials, spoofed from that Alice's
 * address (t/lib/spoof-udp.pl, a raw socket on loopback). The check's
 * ufrag steers it to Y, whose engine admits the address for Eve's peer.
 * Then:
 *   - the claim is refused (counters.stun_addr_refused), X still owns what
 *     it owned (workers[].addrs);
 *   - each Alice's packets still reach Bob (received / sent over a few
 *     seconds, per Alice);
 *   - Eve's peers end (their engine forgets the addresses): X's entries
 *     stay, and the Alices still reach Bob.
 *
 *   node t/js/steal-addr.js URL MEDIA_PORT ALICES
 *
 * Prints one JSON line {ok, checks, ...}; exit 0 all checks passed.
 */

const path = require('path');
const { execFileSync } = require('child_process');

const {
    Participant, Checks, rpc, waitFor, sleep, randomId, logger, wrtc,
    ToneSource,
} = require('./lib/kraken-client');

const [url, portArg, alicesArg] = process.argv.slice(2);
const PORT = Number(portArg);
const ALICES = Number(alicesArg || 3);
const log = logger('steal-addr');
const checks = new Checks({ test: 'steal-addr', url, alices: ALICES });
const tag = randomId();
const SPOOF = path.join(__dirname, '..', 'lib', 'spoof-udp.pl');

/* the share of an Alice's packets Bob must get */
const SHARE = 0.9;
const WINDOW_MS = 3000;

const { bindingRequest } = require('./lib/stun');

async function info() {
    return rpc(url, 'info', []);
}

/* slot -> worker, and room -> slot, from info's details */
function where(i, room) {
    for (const w of i.workers || []) {
        if ((w.rooms || []).includes(room)) {
            return w;
        }
    }
    return null;
}

function worker(i, slot) {
    return (i.workers || []).find((w) => w.slot === slot) || null;
}

/* the address and port the PeerConnection's selected pair sends from */
async function localAddress(p) {
    const report = await p.pc.getStats();
    const all = new Map();
    report.forEach((st) => all.set(st.id, st));
    let pair = null;
    for (const st of all.values()) {
        if (st.type === 'transport' && st.selectedCandidatePairId) {
            pair = all.get(st.selectedCandidatePairId);
        }
    }
    if (!pair) {
        for (const st of all.values()) {
            if (st.type === 'candidate-pair' && st.state === 'succeeded'
                && st.nominated)
            {
                pair = st;
            }
        }
    }
    const c = pair && all.get(pair.localCandidateId);
    if (!c) {
        return null;
    }
    return { ip: c.address || c.ip, port: c.port };
}

async function packetsSent(p) {
    let n = 0;
    const report = await p.pc.getStats();
    report.forEach((st) => {
        if (st.type === 'outbound-rtp' && st.kind === 'audio') {
            n += st.packetsSent || 0;
        }
    });
    return n;
}

/*
 * Over WINDOW_MS: how many packets each Alice sent and Bob received of
 * hers. Both counters are read at the start and the end of the window.
 */
async function delivery(alices, bob) {
    const sent0 = await Promise.all(alices.map(packetsSent));
    await bob.sampleStats();
    const got0 = alices.map((a) => (bob.heard(a.uid) || {}).packets || 0);
    await sleep(WINDOW_MS);
    const sent1 = await Promise.all(alices.map(packetsSent));
    await bob.sampleStats();
    const got1 = alices.map((a) => (bob.heard(a.uid) || {}).packets || 0);
    return alices.map((a, i) => ({
        uid: a.uid, sent: sent1[i] - sent0[i], received: got1[i] - got0[i],
    }));
}

function delivered(d) {
    return d.every((x) => x.sent > 0 && x.received >= SHARE * x.sent);
}

/* Eve's publish: a real offer (her own ICE credentials), never connected */
async function evePublish(room, uid) {
    const { RTCPeerConnection, MediaStream } = wrtc();
    const source = new ToneSource(900);
    const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle',
                                       rtcpMuxPolicy: 'require' });
    try {
        pc.addTrack(source.track, new MediaStream());
        const offer = await pc.createOffer();
        await pc.setLocalDescription(offer);
        const sdp = pc.localDescription.sdp;
        const pub = await rpc(url, 'publish', [room, uid,
            JSON.stringify({ type: 'offer', sdp })]);
        return {
            room, uid, track: pub.track,
            local: /a=ice-ufrag:(\S+)/.exec(sdp)[1],
            ufrag: /a=ice-ufrag:(\S+)/.exec(pub.sdp.sdp)[1],
            pwd: /a=ice-pwd:(\S+)/.exec(pub.sdp.sdp)[1],
        };
    } finally {
        pc.close();
        source.stop();
    }
}

async function main() {
    checks.deadline(150000, () => ({}));
    if (!url || !PORT) {
        throw new Error('usage: steal-addr.js URL MEDIA_PORT ALICES');
    }

    const room = `victims-${tag}`;
    const tones = [];
    for (let i = 0; i <= ALICES; i++) {
        tones.push(300 + 150 * i);
    }
    const bob = new Participant({ url, room, uid: `bob-${tag}`,
                                  tone: tones[ALICES], tones, pollMs: 300,
                                  log });
    const alices = [];
    for (let i = 0; i < ALICES; i++) {
        alices.push(new Participant({ url, room, uid: `alice${i}-${tag}`,
                                      tone: tones[i], tones, pollMs: 300,
                                      log }));
    }
    const everyone = [bob, ...alices];
    checks.afterSummary(() => Promise.all(everyone.map((p) => p.destroy())));

    await bob.join();
    for (const a of alices) {
        await a.join();
    }

    const hearsAll = async () => {
        await bob.sampleStats();
        return alices.every((a) => {
            const h = bob.heard(a.uid);
            return h && h.packets > 20;
        });
    };
    checks.check('Bob hears every Alice before the attack',
                 await waitFor(hearsAll, 20000, 200));

    let i0 = await info();
    const home = where(i0, room);
    checks.check('the victims\' room lives on one worker', Boolean(home),
                 i0.workers);
    if (!home) {
        checks.finish({});
        return;
    }

    /* Eve's room, on any other worker */
    let eves = null;
    for (let n = 0; n < 24 && !eves; n++) {
        const eroom = `eve-${tag}-${n}`;
        const first = await evePublish(eroom, `eve0-${tag}`);
        const w = where(await info(), eroom);
        if (!w || w.slot === home.slot) {
            await rpc(url, 'end', [eroom, first.uid, first.track]);
            continue;
        }
        eves = [first];
        for (let i = 1; i < ALICES; i++) {
            eves.push(await evePublish(eroom, `eve${i}-${tag}`));
        }
        eves.slot = w.slot;
    }
    checks.check('Eve publishes on another worker', Boolean(eves));
    if (!eves) {
        checks.finish({});
        return;
    }

    const addrs = [];
    for (const a of alices) {
        addrs.push(await localAddress(a));
    }
    checks.check('each Alice\'s address is known',
                 addrs.every((x) => x && x.ip === '127.0.0.1' && x.port),
                 addrs);

    const before = await delivery(alices, bob);
    checks.check('each Alice reaches Bob before the attack',
                 delivered(before), before);

    i0 = await info();
    const ownedBefore = (worker(i0, home.slot) || {}).addrs;
    const refusedBefore = i0.counters.stun_addr_refused || 0;

    /* the attack: for each Alice, Eve's check from Alice's address */
    for (let i = 0; i < ALICES; i++) {
        const e = eves[i];
        const m = [];
        for (let k = 0; k < 3; k++) {
            m.push(bindingRequest(`${e.ufrag}:${e.local}`, e.pwd,
                                  { controlling: true }).toString('hex'));
        }
        execFileSync('perl', [SPOOF, '127.0.0.1', String(addrs[i].port),
                              '127.0.0.1', String(PORT), ...m]);
    }
    log(`spoofed checks sent from ports ${addrs.map((x) => x.port)}`);

    const refused = await waitFor(async () => {
        const i = await info();
        return (i.counters.stun_addr_refused || 0) >= refusedBefore + ALICES
               ? i : null;
    }, 5000, 100);
    const i1 = refused || await info();
    checks.check('Eve\'s claims on the Alices\' addresses are refused',
                 Boolean(refused),
                 { before: refusedBefore,
                   after: i1.counters.stun_addr_refused });
    checks.check('the victims\' worker still owns its addresses',
                 typeof ownedBefore === 'number' && ownedBefore > ALICES
                 && (worker(i1, home.slot) || {}).addrs === ownedBefore,
                 { before: ownedBefore,
                   after: (worker(i1, home.slot) || {}).addrs });

    const during = await delivery(alices, bob);
    checks.check('each Alice still reaches Bob after the attack',
                 delivered(during), during);

    /* Eve's peers end: her worker forgets the addresses */
    for (const e of eves) {
        await rpc(url, 'end', [e.room, e.uid, e.track]);
    }
    const gone = await waitFor(async () => {
        const i = await info();
        return (worker(i, eves.slot) || {}).active_peers === 0 ? i : null;
    }, 5000, 100);
    const i2 = gone || await info();
    checks.check('Eve\'s peers are gone', Boolean(gone),
                 worker(i2, eves.slot));
    checks.check('Eve\'s forgetting leaves the victims\' entries',
                 typeof ownedBefore === 'number' && ownedBefore > ALICES
                 && (worker(i2, home.slot) || {}).addrs === ownedBefore,
                 { before: ownedBefore,
                   after: (worker(i2, home.slot) || {}).addrs });

    const after = await delivery(alices, bob);
    checks.check('each Alice still reaches Bob after Eve forgot',
                 delivered(after), after);
    checks.check('nobody had to republish',
                 everyone.every((p) => p.restarts === 0));

    checks.finish({ home: home.slot, eve: eves.slot, before, during,
                    after });
}

main().catch((e) => checks.abort(e, {}));

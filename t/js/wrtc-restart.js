'use strict';
/*
 * ICE restart through Kraken's restart method: new credentials in the
 * answer, the same DTLS association, and the two participants keep
 * hearing each other.
 *
 *   node t/js/wrtc-restart.js URL
 */

const {
    Participant, Checks, rpc, waitFor, randomId, logger,
} = require('./lib/kraken-client');

const [url] = process.argv.slice(2);
const log = logger('wrtc-restart');
const checks = new Checks({ test: 'wrtc-restart', url });

function ufrag(sdp) {
    return (/a=ice-ufrag:(\S+)/.exec(sdp) || [])[1];
}

function fingerprint(sdp) {
    return (/a=fingerprint:(.+)/.exec(sdp) || [])[1];
}

async function main() {
    checks.deadline(60000, () => ({}));
    const room = `restart-${randomId()}`;
    const a = new Participant({ url, room, uid: 'alice', tone: 300,
                                tones: [300, 500], pollMs: 300, log });
    const b = new Participant({ url, room, uid: 'bob', tone: 500,
                                tones: [300, 500], pollMs: 300, log });
    await a.join();
    await b.join();

    const hearing = async () => {
        await a.sampleStats();
        await b.sampleStats();
        const ha = a.heard('bob');
        const hb = b.heard('alice');
        return ha && hb && ha.packets > 10 && hb.packets > 10;
    };
    checks.check('alice and bob hear each other',
                 await waitFor(hearing, 15000, 200));

    const before = a.pc.remoteDescription.sdp;
    const offer = await a.pc.createOffer({ iceRestart: true });
    await a.pc.setLocalDescription(offer);
    const data = await rpc(url, 'restart', [room, 'alice', a.track,
        JSON.stringify({ type: 'offer', sdp: a.pc.localDescription.sdp })]);
    const answer = JSON.parse(data.jsep);
    checks.check('restart answers with an answer', answer.type === 'answer');
    checks.check('with new ICE credentials',
                 ufrag(answer.sdp) && ufrag(answer.sdp) !== ufrag(before),
                 [ufrag(before), ufrag(answer.sdp)]);
    checks.check('and the same DTLS fingerprint',
                 fingerprint(answer.sdp) === fingerprint(before));
    await a.pc.setRemoteDescription(answer);

    checks.check('ICE connects again',
                 await waitFor(() => ['connected', 'completed']
                                     .includes(a.pc.iceConnectionState),
                               10000));

    a.resetAudio();
    b.resetAudio();
    checks.check('after the restart they still hear each other',
                 await waitFor(hearing, 15000, 200));
    checks.check('nobody had to republish', a.restarts + b.restarts === 0);

    const stale = await rpc(url, 'list', [room]);
    checks.check('both are still listed', stale.peers.length === 2);

    await a.end();
    await b.end();
    checks.finish({});
}

main().catch((e) => checks.abort(e, {}));

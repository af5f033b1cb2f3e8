'use strict';
/*
 * Publishers that vanish are removed on the server's timeouts:
 *  - "never": publishes, then closes its PeerConnection without ever
 *    applying the answer, so no STUN check is ever sent (connect timeout);
 *  - "silent": connects and sends a tone (an observer hears it), then its
 *    process is SIGKILLed: no `end`, no DTLS close_notify, nothing more on
 *    the wire (consent timeout).
 * Both leave `list`, and the observer's next subscribe offer retires their
 * m-lines (inactive or absent). Every wait is a deadline, not a sleep.
 *
 *   node t/js/wrtc-timeouts.js URL [CONNECT_S=5] [CONSENT_S=3] [POLL_MS=500]
 *
 * CONNECT_S and CONSENT_S are the server's kraken_media_connect_timeout and
 * kraken_media_consent_timeout. Prints one JSON line {ok, checks, ...};
 * exit 0 all checks passed, 1 a check failed, 2 the script could not run.
 */

const { fork } = require('child_process');
const {
    Participant, Checks, rpc, waitFor, randomId, logger, wrtc,
} = require('./lib/kraken-client');

const SLACK_MS = 5000;       /* timer granularity, polling, scheduling */


/* the "silent" publisher runs in a child process so it can be SIGKILLed */
async function child(url, room, uid, tone) {
    const p = new Participant({ url, room, uid, tone, pollMs: 500,
                                log: logger(`silent ${uid}`) });
    process.on('disconnect', () => process.exit(0));
    try {
        await p.join();
        await waitFor(() => p.connectedAt, 10000);
        process.send({ uid, track: p.track, ice: p.iceState });
    } catch (e) {
        process.send({ error: e.message });
    }
}


async function main(url, connectS, consentS, pollMs) {
    const log = logger('wrtc-timeouts');
    const checks = new Checks({ test: 'wrtc-timeouts', url,
                                connectTimeout: connectS,
                                consentTimeout: consentS });
    const times = {};
    let observer = null;
    let silent = null;

    const extra = () => ({ times,
                           observer: observer ? observer.summary() : null });
    const finish = () => {
        if (silent && silent.exitCode === null) {
            silent.kill('SIGKILL');
        }
        checks.finish(extra());
    };
    checks.deadline((connectS + consentS) * 1000 + 90000, extra);
    process.on('exit', () => {
        if (silent && silent.exitCode === null) {
            silent.kill('SIGKILL');
        }
    });

    const tag = randomId();
    const room = `timeouts-${tag}`;
    const ids = { observer: `observer-${tag}`, never: `never-${tag}`,
                  silent: `silent-${tag}` };
    const tones = [300, 500, 700];

    const listed = async () => {
        const data = await rpc(url, 'list', [room]);
        return (data.peers || []).map((p) => p.id);
    };
    /* the observer's latest offer sends nothing from uid */
    const retired = (uid) => !observer.activeStreams().includes(uid);

    try {
        observer = new Participant({ url, room, uid: ids.observer,
                                     tone: tones[0], tones, pollMs, log });
        await observer.join();

        /* "never": publish, then close before any connectivity check */
        const { RTCPeerConnection, nonstandard } = wrtc();
        const src = new nonstandard.RTCAudioSource();
        const track = src.createTrack();
        const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle' });
        pc.addTrack(track);
        await pc.setLocalDescription(await pc.createOffer());
        const published = await rpc(url, 'publish', [room, ids.never,
            JSON.stringify({ type: 'offer', sdp: pc.localDescription.sdp })]);
        times.neverPublished = Date.now();
        pc.close();
        track.stop();
        log(`never: published ${published.track}, closed before ICE`);

        /* "silent": a child process that connects and sends a tone */
        silent = fork(__filename, ['--child', url, room, ids.silent,
                                   String(tones[1])],
                      { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
        const hello = await new Promise((resolve, reject) => {
            silent.once('message', resolve);
            silent.once('exit', (code) =>
                reject(new Error(`silent publisher exited (${code})`)));
        });
        if (hello.error) {
            throw new Error(`silent publisher: ${hello.error}`);
        }
        log(`silent: ${hello.track} ${hello.ice}`);

        const before = await listed();
        checks.check('list shows the never-connecting publisher right after '
                     + 'publish', before.includes(ids.never), before);
        checks.check('list shows the connected publisher', before.includes(
                     ids.silent), before);

        const heard = await waitFor(() => {
            const h = observer.heard(ids.silent);
            return h && h.activeFrames > 20 && h.tone === tones[1];
        }, 15000, 200);
        checks.check('the observer hears the publisher before it goes silent',
                     heard, observer.heard(ids.silent));

        silent.kill('SIGKILL');
        times.silentKilled = Date.now();
        log('silent: SIGKILLed');

        /* the never-connecting one goes on the connect timeout */
        const neverGone = await waitFor(async () =>
            !(await listed()).includes(ids.never),
            Math.max(0, times.neverPublished + connectS * 1000 + SLACK_MS
                        - Date.now()), 200);
        times.neverRemovedAfterMs = neverGone
            ? Date.now() - times.neverPublished : null;
        checks.check(`the never-connecting publisher leaves list within `
                     + `${connectS}s + ${SLACK_MS / 1000}s`, neverGone,
                     times.neverRemovedAfterMs);

        /* the silent one goes on the consent timeout */
        const silentGone = await waitFor(async () =>
            !(await listed()).includes(ids.silent),
            Math.max(0, times.silentKilled + consentS * 1000 + SLACK_MS
                        - Date.now()), 200);
        times.silentRemovedAfterMs = silentGone
            ? Date.now() - times.silentKilled : null;
        checks.check(`the silent publisher leaves list within `
                     + `${consentS}s + ${SLACK_MS / 1000}s`, silentGone,
                     times.silentRemovedAfterMs);

        /* and the observer's next offers retire both */
        const offersBefore = observer.offers.length;
        const retiredBoth = await waitFor(() =>
            retired(ids.silent) && retired(ids.never), pollMs * 4 + SLACK_MS);
        checks.check('the observer\'s next offer retires the silent '
                     + 'publisher\'s m-line', retired(ids.silent),
                     observer.activeStreams());
        checks.check('the observer is never offered a live m-line of the '
                     + 'never-connecting publisher at the end',
                     retired(ids.never), observer.activeStreams());
        const lastOffer = observer.offers[observer.offers.length - 1];
        const silentLine = lastOffer
            ? lastOffer.sections.filter((s) => s.stream === ids.silent) : [];
        checks.check('the silent publisher\'s m-line is now inactive or '
                     + 'absent', retiredBoth && silentLine.every((s) =>
                         s.direction === 'inactive' || s.port === 0
                         || s.direction === 'recvonly'),
                     { offersSinceRemoval: observer.offers.length
                                           - offersBefore,
                       sections: lastOffer ? lastOffer.sections.map((s) =>
                           ({ mid: s.mid, dir: s.direction, port: s.port,
                              stream: s.stream })) : [] });

        /* the observer itself is unharmed */
        const still = await listed();
        checks.check('the observer stays listed and never republished',
                     still.includes(ids.observer) && observer.restarts === 0
                     && observer.publishes === 1,
                     { list: still, restarts: observer.restarts });

        await observer.end();
        const empty = await waitFor(async () => (await listed()).length === 0,
                                    5000, 200);
        checks.check('after the observer ends, the room is empty', empty);
    } catch (e) {
        checks.abort(e, extra());
        return;
    }
    finish();
}


const argv = process.argv.slice(2);
if (argv[0] === '--child') {
    child(argv[1], argv[2], argv[3], Number(argv[4]));
} else if (!argv[0]) {
    process.stderr.write('usage: wrtc-timeouts.js URL [CONNECT_S] '
                         + '[CONSENT_S] [POLL_MS]\n');
    process.exit(2);
} else {
    main(argv[0], Number(argv[1] || 5), Number(argv[2] || 3),
         Number(argv[3] || 500));
}

'use strict';
/*
 * Kraken's on-track callback against a local HTTPS server.
 *
 *   node t/js/callback.js URL CBPORT REFUSEDPORT KEY CERT UNTRUSTEDPORT
 *           UNTRUSTEDKEY UNTRUSTEDCERT OTHERPORT OTHERKEY OTHERCERT
 *       serves https://127.0.0.1:CBPORT with KEY and CERT; the server
 *       trusts CERT through kraken_callback_trusted_certificate and
 *       allows https://127.0.0.1:CBPORT/cb/,
 *       https://127.0.0.1:REFUSEDPORT/cb/ (nobody listens),
 *       https://127.0.0.1:UNTRUSTEDPORT/cb/ (served here with a
 *       certificate it does not trust) and
 *       https://127.0.0.1:OTHERPORT/cb/ (served here with a trusted
 *       certificate for 127.0.0.2). Answers by path: /cb/ok 200 after
 *       HOLD ms, /cb/fail 500, /cb/never nothing, /cb/close a closed
 *       connection.
 *
 * Checks: the allowed url is POSTed once per track with Kraken's body;
 * the publisher's audio reaches the others only after the 200; a 500, a
 * timeout (kraken_callback_timeout 3s), a closed connection, a refused
 * connection, a certificate not trusted and one for another host (no
 * request reaches those servers) close the publisher; a url outside the
 * allowlist is 5001000; a callback that never answers does not slow the
 * other rooms.
 *
 * Prints one JSON line {ok, checks, ...}; exit 0 all checks passed, 1 a
 * check failed, 2 the script could not run.
 */

const fs = require('fs');
const https = require('https');
const {
    Participant, Checks, rpcRaw, waitFor, randomId, logger, sleep,
} = require('./lib/kraken-client');

const [url, cbPort, refusedPort, keyFile, certFile, untrustedPort,
       untrustedKey, untrustedCert, otherPort, otherKey, otherCert]
    = process.argv.slice(2);
const HOLD = 1500;                /* below kraken_callback_timeout 3s */
const log = logger('callback');
const checks = new Checks({ test: 'callback', url });
const tag = randomId();
const cb = (path) => `https://127.0.0.1:${cbPort}${path}`;

const requests = [];            /* {path, method, type, body, at} */
const hung = [];                /* responses /cb/never never ends */


function serve(port, key, cert) {
    const server = https.createServer({
        key: fs.readFileSync(key), cert: fs.readFileSync(cert),
    }, (req, res) => {
        let body = '';
        req.on('data', (d) => { body += d; });
        req.on('end', () => {
            const path = req.url.replace(/\?.*/, '');
            requests.push({ path: req.url, method: req.method,
                            type: req.headers['content-type'], body,
                            at: Date.now() });
            log(`callback ${req.method} ${req.url} ${body}`);
            if (path === '/cb/ok') {
                setTimeout(() => { res.writeHead(200); res.end('ok'); },
                           HOLD);
            } else if (path === '/cb/fail') {
                res.writeHead(500);
                res.end('no');
            } else if (path === '/cb/never') {
                hung.push(res);
            } else {
                req.socket.destroy();
            }
        });
    });
    return new Promise((resolve) => {
        server.listen(Number(port), '127.0.0.1', () => resolve(server));
    });
}

function ofTrack(track) {
    return requests.filter((r) => {
        try {
            return JSON.parse(r.body).cid === track;
        } catch (e) {
            return false;
        }
    });
}

async function listed(room, uid) {
    const res = await rpcRaw(url, 'list', [room]);
    const peers = (res.data && res.data.peers) || [];
    return peers.some((p) => p.id === uid);
}

async function packetsFrom(p, uid) {
    await p.sampleStats();
    const h = p.heard(uid);
    return h ? h.packets : 0;
}


async function admitted() {
    const room = `ok-${tag}`;
    const bob = new Participant({ url, room, uid: 'bob', tone: 500,
                                  pollMs: 300, log });
    await bob.join();
    const alice = new Participant({
        url, room, uid: 'alice', tone: 300, pollMs: 300, log,
        publishExtra: [0, cb('/cb/ok?room=1')],
    });
    await alice.join();

    const asked = await waitFor(() => ofTrack(alice.track).length > 0,
                                10000);
    checks.check('the allowed url is called when the first audio arrives',
                 asked);
    if (!asked) {
        throw new Error('no callback request');
    }

    const r = ofTrack(alice.track)[0];
    checks.check('it is a POST of application/json to the url\'s path',
                 r.method === 'POST' && /application\/json/.test(r.type)
                 && r.path === '/cb/ok?room=1', r);
    checks.check('with Kraken\'s body {rid, uid, cid, action: ontrack}',
                 JSON.stringify(JSON.parse(r.body))
                 === JSON.stringify({ rid: room, uid: 'alice',
                                      cid: alice.track,
                                      action: 'ontrack' }), r.body);

    /* before the 200: bob hears nothing of alice; alice hears bob */
    await sleep(Math.max(0, r.at + HOLD - 400 - Date.now()));
    const before = await packetsFrom(bob, 'alice');
    checks.check('no audio of alice reaches bob before the 200',
                 before === 0, { before });

    const heard = await waitFor(async () => {
        await bob.sampleStats();
        const h = bob.heard('alice');
        return h && h.activeFrames > 20;
    }, 15000, 250);
    checks.check('after the 200, bob hears alice', heard,
                 bob.heard('alice'));
    checks.check('alice hears bob throughout',
                 (await packetsFrom(alice, 'bob')) > 0);

    await sleep(1000);
    checks.check('the url was called exactly once for the track',
                 ofTrack(alice.track).length === 1,
                 { calls: ofTrack(alice.track).length });
    checks.check('alice is still in the room', await listed(room, 'alice'));

    return [alice, bob];
}


/* a publisher whose callback fails is closed */
async function refused(name, callback, withinMs) {
    const room = `${name.replace(/\W+/g, '-')}-${tag}`;
    const p = new Participant({
        url, room, uid: 'carol', tone: 700, pollMs: 300, log,
        autoRestart: false, publishExtra: [0, callback],
    });
    await p.join();
    const gone = await waitFor(async () => !(await listed(room, 'carol')),
                               withinMs, 250);
    checks.check(`a publisher whose callback ${name} is closed`, gone);
    return p;
}


async function main() {
    checks.deadline(150000, () => ({ requests }));
    await serve(cbPort, keyFile, certFile);
    await serve(untrustedPort, untrustedKey, untrustedCert);
    await serve(otherPort, otherKey, otherCert);

    const res = await rpcRaw(url, 'publish', [`x-${tag}`, 'mallory',
                             JSON.stringify({ type: 'offer', sdp: 'v=0' }),
                             0, cb('/other')]);
    checks.check('a url outside the allowlist is 5001000',
                 res.error && res.error.code === 5001000, res.error);

    const [alice, bob] = await admitted();

    /* the never-answering callback first: it hangs while the rest runs */
    const never = refused('never answers', cb('/cb/never'), 15000)
        .catch((e) => e);

    await sleep(500);
    const t0 = Date.now();
    const listedOk = await listed(`ok-${tag}`, 'bob');
    const rpcMs = Date.now() - t0;
    const a0 = await packetsFrom(bob, 'alice');
    await sleep(1000);
    const a1 = await packetsFrom(bob, 'alice');
    checks.check('while a callback hangs, calls of other rooms answer fast',
                 listedOk && rpcMs < 500, { rpcMs });
    checks.check('and their audio keeps flowing', a1 - a0 >= 40,
                 { packets: a1 - a0 });

    const others = await Promise.all([
        refused('answers 500', cb('/cb/fail'), 10000),
        refused('closes the connection', cb('/cb/close'), 10000),
        refused('cannot connect',
                `https://127.0.0.1:${refusedPort}/cb/x`, 10000),
        refused('has a certificate not trusted',
                `https://127.0.0.1:${untrustedPort}/cb/ok`, 10000),
        refused('has a certificate for another host',
                `https://127.0.0.1:${otherPort}/cb/ok`, 10000),
    ]);
    const hang = await never;
    if (hang instanceof Error) {
        throw hang;
    }

    checks.check('no participant of the admitted call saw an error',
                 alice.errors.length === 0 && bob.errors.length === 0,
                 [alice.errors, bob.errors]);
    checks.check('each track was asked about once',
                 [alice, ...others].every((p) => ofTrack(p.track).length
                                                 <= 1), requests);
    checks.check('no request reached the servers with the untrusted '
                 + 'certificate or the other host\'s',
                 ofTrack(others[3].track).length === 0
                 && ofTrack(others[4].track).length === 0);

    for (const res of hung) {
        res.destroy();
    }
    checks.finish({ requests: requests.length });
}

main().catch((e) => checks.abort(e, { requests }));

'use strict';
/*
 * Hostile traffic at the media port while a room talks: STUN checks with a
 * wrong password, a DTLS client whose certificate is not the one its offer
 * names, RTP from an address no check admitted, and garbage. Each is
 * dropped and counted (info's counters), and the room keeps flowing.
 * Then a reflection: a publisher's own valid check and a ClientHello,
 * from a socket standing for a spoofed victim's address, earn that
 * address no more bytes than were sent from it, also once the server's
 * retransmission timer (1 s, then 2 s) has run.
 *
 *   node t/js/attacks.js URL MEDIA_PORT
 */

const crypto = require('crypto');
const dgram = require('dgram');

const {
    Participant, Checks, rpc, waitFor, randomId, logger, ToneSource,
} = require('./lib/kraken-client');

const [url, portArg] = process.argv.slice(2);
const PORT = Number(portArg);
const log = logger('attacks');
const checks = new Checks({ test: 'attacks', url });
const tag = randomId();

function wrtc() {
    return require('@roamhq/wrtc');
}

const { bindingRequest } = require('./lib/stun');

/*
 * A DTLS 1.2 ClientHello as a browser's: ECDHE-ECDSA suites, P-256,
 * use_srtp with AEAD_AES_128_GCM and AES128_CM_SHA1_80, no cookie.
 */
function clientHello() {
    const u16 = (n) => Buffer.from([n >> 8, n & 0xff]);
    const u24 = (n) => Buffer.from([n >> 16, (n >> 8) & 0xff, n & 0xff]);
    const ext = (type, body) => Buffer.concat([u16(type), u16(body.length),
                                               body]);
    const exts = Buffer.concat([
        ext(0x000a, Buffer.from([0, 4, 0x00, 0x17, 0x00, 0x1d])),
        ext(0x000b, Buffer.from([1, 0])),
        ext(0x000d, Buffer.from([0, 4, 0x04, 0x03, 0x08, 0x04])),
        ext(0x000e, Buffer.from([0, 4, 0x00, 0x07, 0x00, 0x01, 0])),
        ext(0x0017, Buffer.alloc(0)),
        ext(0xff01, Buffer.from([0])),
    ]);
    const suites = Buffer.from([0xc0, 0x2b, 0xc0, 0x0a, 0xc0, 0x09]);
    const body = Buffer.concat([
        Buffer.from([0xfe, 0xfd]), crypto.randomBytes(32),
        Buffer.from([0, 0]),                    /* session id, cookie */
        u16(suites.length), suites, Buffer.from([1, 0]),
        u16(exts.length), exts,
    ]);
    const hs = Buffer.concat([Buffer.from([1]), u24(body.length), u16(0),
                              u24(0), u24(body.length), body]);
    return Buffer.concat([Buffer.from([22, 0xfe, 0xff, 0, 0, 0, 0, 0, 0, 0, 0]),
                          u16(hs.length), hs]);
}

/*
 * The reflection: 'victim' sends what an attacker would in its name and
 * counts what comes back. The peer is the attacker's own publish.
 */
async function reflection(room) {
    const { RTCPeerConnection } = wrtc();
    const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle',
                                       rtcpMuxPolicy: 'require' });
    const source = new ToneSource(900);
    pc.addTrack(source.track, new (wrtc().MediaStream)());
    await pc.setLocalDescription(await pc.createOffer());
    const local = /a=ice-ufrag:(\S+)/.exec(pc.localDescription.sdp)[1];
    const pub = await rpc(url, 'publish', [room, `eve-${tag}`,
        JSON.stringify({ type: 'offer', sdp: pc.localDescription.sdp })]);
    /* eve's own side never connects: no remote description */
    pc.close();
    source.stop();
    const ufrag = /a=ice-ufrag:(\S+)/.exec(pub.sdp.sdp)[1];
    const pwd = /a=ice-pwd:(\S+)/.exec(pub.sdp.sdp)[1];

    const victim = dgram.createSocket('udp4');
    const got = { stun: 0, dtls: 0, bytes: 0, types: [] };
    victim.on('message', (m) => {
        got.bytes += m.length;
        if (m[0] <= 3) {
            got.stun++;
        } else if (m[0] >= 20 && m[0] <= 63) {
            got.dtls++;
            got.types.push(m.length > 13 ? m[13] : -1);
        }
    });
    await new Promise((r) => victim.bind(0, '127.0.0.1', r));

    let sent = 0;
    const send = (buf) => {
        sent += buf.length;
        victim.send(buf, PORT, '127.0.0.1');
    };

    send(bindingRequest(`${ufrag}:${local}`, pwd));
    checks.check('reflection: the publisher\'s own check is answered at '
                 + 'the spoofed address', await waitFor(() => got.stun > 0,
                                                        5000, 50), got);
    send(clientHello());
    checks.check('reflection: the ClientHello is answered',
                 await waitFor(() => got.dtls > 0, 5000, 50), got);

    /* absence is observed over a window: two retransmission timeouts */
    await new Promise((r) => setTimeout(r, 3500));
    victim.close();
    log(`reflection: ${sent} bytes sent, ${got.bytes} received`
        + ` (${got.stun} STUN, ${got.dtls} DTLS, types ${got.types})`);

    checks.check('reflection: the spoofed address gets no more bytes than '
                 + 'were sent in its name', got.bytes <= sent,
                 { sent, received: got.bytes });
    checks.check('reflection: only a HelloVerifyRequest, not resent',
                 got.dtls === 1 && got.types[0] === 3, got);
}

async function counters() {
    return (await rpc(url, 'info', [])).counters;
}

async function main() {
    checks.deadline(90000, () => ({}));
    if (!url || !PORT) {
        throw new Error('usage: attacks.js URL MEDIA_PORT');
    }

    const room = `attacked-${tag}`;
    const a = new Participant({ url, room, uid: `a-${tag}`, tone: 300,
                                tones: [300, 500], pollMs: 300, log });
    const b = new Participant({ url, room, uid: `b-${tag}`, tone: 500,
                                tones: [300, 500], pollMs: 300, log });
    await a.join();
    await b.join();
    const talking = async () => {
        await a.sampleStats();
        await b.sampleStats();
        const ha = a.heard(b.uid);
        const hb = b.heard(a.uid);
        return ha && hb && ha.packets > 10 && hb.packets > 10;
    };
    checks.check('the room talks before the attacks',
                 await waitFor(talking, 15000, 200));
    const before = await counters();

    /* STUN with the right username and a wrong password */
    const sock = dgram.createSocket('udp4');
    await new Promise((r) => sock.bind(0, '127.0.0.1', r));
    const ufrag = /a=ice-ufrag:(\S+)/.exec(a.pc.remoteDescription.sdp)[1];
    const local = /a=ice-ufrag:(\S+)/.exec(a.pc.localDescription.sdp)[1];
    for (let i = 0; i < 20; i++) {
        sock.send(bindingRequest(`${ufrag}:${local}`, 'not-the-password-at-all'),
                  PORT, '127.0.0.1');
        sock.send(bindingRequest(`nosuchufrag:${local}`, 'whatever-password'),
                  PORT, '127.0.0.1');
    }

    /* RTP from an address no check admitted, and garbage */
    for (let i = 0; i < 50; i++) {
        const rtp = crypto.randomBytes(120);
        rtp[0] = 0x80;
        rtp[1] = 111;
        sock.send(rtp, PORT, '127.0.0.1');
        const dtls = crypto.randomBytes(60);
        dtls[0] = 22;
        sock.send(dtls, PORT, '127.0.0.1');
        sock.send(crypto.randomBytes(1 + i * 7), PORT, '127.0.0.1');
    }

    /* a DTLS client whose certificate does not match its offer */
    const { RTCPeerConnection } = wrtc();
    const source = new ToneSource(700);
    const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle',
                                       rtcpMuxPolicy: 'require' });
    pc.addTrack(source.track, new (wrtc().MediaStream)());
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    const forged = pc.localDescription.sdp.replace(
        /a=fingerprint:sha-256 (\S+)/g,
        (m, fp) => `a=fingerprint:sha-256 ${fp.split(':').map(
            () => crypto.randomBytes(1).toString('hex').toUpperCase()).join(':')}`);
    const pub = await rpc(url, 'publish', [room, `forger-${tag}`,
        JSON.stringify({ type: 'offer', sdp: forged })]);
    await pc.setRemoteDescription(pub.sdp);

    const after = await waitFor(async () => {
        const c = await counters();
        return c.stun_unauthorized >= before.stun_unauthorized + 20
               && c.stun_bad >= before.stun_bad + 20
               && c.unknown_source >= before.unknown_source + 100
               && c.malformed > before.malformed
               && c.dtls_failed >= before.dtls_failed + 1 ? c : null;
    }, 15000, 200);
    const now = await counters();
    checks.check('STUN with a wrong password is dropped and counted',
                 now.stun_unauthorized >= before.stun_unauthorized + 20,
                 now);
    checks.check('STUN for an unknown ufrag is dropped and counted',
                 now.stun_bad >= before.stun_bad + 20);
    checks.check('RTP and DTLS from an unknown address are dropped and '
                 + 'counted', now.unknown_source >= before.unknown_source + 100);
    checks.check('garbage is dropped and counted',
                 now.malformed > before.malformed);
    checks.check('a certificate that does not match the offer fails DTLS',
                 now.dtls_failed >= before.dtls_failed + 1);
    checks.check('all of it within the deadline', Boolean(after));

    const listed = await rpc(url, 'list', [room]);
    checks.check('the forger is closed, the room mates stay',
                 JSON.stringify(listed.peers.map((p) => p.id).sort())
                 === JSON.stringify([a.uid, b.uid].sort()),
                 listed.peers);

    /* the room still talks */
    a.resetAudio();
    b.resetAudio();
    checks.check('the room keeps talking through the attacks',
                 await waitFor(talking, 10000, 200));
    checks.check('nobody had to republish', a.restarts + b.restarts === 0);

    await reflection(`reflected-${tag}`);

    /* no PeerConnection is closed before the summary is out (Checks) */
    sock.close();
    await a.end();
    await b.end();
    checks.finish({});
}

main().catch((e) => checks.abort(e, {}));

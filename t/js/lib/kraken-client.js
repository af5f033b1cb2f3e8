'use strict';
/*
 * A Kraken JSON-RPC client and a libwebrtc participant (@roamhq/wrtc) that
 * follows kraken.fm's flow: publish an offer, poll subscribe, answer the
 * server's renegotiation offers, trickle candidates, end; republish when
 * the server says the peer is gone (5002001) or closed (5002002).
 *
 * Each participant sends a sine tone and measures, per remote stream id
 * (= the publisher's uid), which candidate tone it hears (Goertzel) and how
 * many RTP packets arrive (getStats inbound-rtp), so a test can tell who
 * hears whom.
 */

const http = require('http');
const { EventEmitter } = require('events');

const RATE = 48000;
const FRAME = 480;                 /* 10 ms of 48 kHz mono */
const RESTART_CODES = new Set([5002001, 5002002]);
/*
 * Which tone a stream carries is told from one audible frame in TONE_EVERY:
 * a Goertzel filter per candidate tone on every frame of every stream cost
 * more than half a core for 24 peers (they share one node process), and a
 * starved client sends late and hears late on a busy 2-core machine.
 */
const TONE_EVERY = 4;

let wrtcModule = null;

function wrtc() {
    if (wrtcModule === null) {
        wrtcModule = require('@roamhq/wrtc');
    }
    return wrtcModule;
}


/* ---- JSON-RPC ------------------------------------------------------- */

class KrakenError extends Error {
    constructor(method, error) {
        super(`${method}: error ${error.code} (status ${error.status}): `
              + `${error.description}`);
        this.method = method;
        this.code = error.code;
        this.status = error.status;
        this.description = error.description;
    }
}

class RpcTransportError extends Error {
}

let rpcSeq = 0;

/*
 * One call on a fresh connection (agent: false, Connection: close), so
 * consecutive calls may land on different nginx workers. Resolves with the
 * whole response object ({id, data} or {id, error}).
 */
function rpcRaw(url, method, params, timeoutMs = 10000) {
    const body = JSON.stringify({ id: `t${++rpcSeq}`, method, params });

    return new Promise((resolve, reject) => {
        const req = http.request(url, {
            method: 'POST',
            agent: false,
            headers: {
                'Content-Type': 'application/json',
                'Content-Length': Buffer.byteLength(body),
                'Connection': 'close',
            },
            timeout: timeoutMs,
        }, (res) => {
            const chunks = [];
            res.on('data', (c) => chunks.push(c));
            res.on('end', () => {
                const text = Buffer.concat(chunks).toString('utf8');
                let json;
                try {
                    json = JSON.parse(text);
                } catch (e) {
                    reject(new RpcTransportError(
                        `${method}: HTTP ${res.statusCode} from ${url}, not `
                        + `JSON: ${JSON.stringify(text.slice(0, 200))}`));
                    return;
                }
                if (json === null || typeof json !== 'object'
                    || (!('data' in json) && !('error' in json)))
                {
                    reject(new RpcTransportError(
                        `${method}: HTTP ${res.statusCode} from ${url}, `
                        + `neither data nor error: ${text.slice(0, 200)}`));
                    return;
                }
                json.httpStatus = res.statusCode;
                resolve(json);
            });
            res.on('error', reject);
        });
        req.on('timeout', () => {
            req.destroy(new RpcTransportError(
                `${method}: no answer from ${url} within ${timeoutMs} ms`));
        });
        req.on('error', (e) => {
            if (e instanceof RpcTransportError) {
                reject(e);
            } else {
                reject(new RpcTransportError(
                    `${method}: cannot reach ${url}: ${e.message}`));
            }
        });
        req.end(body);
    });
}

/* Resolves with `data`, rejects with a KrakenError on `error`. */
async function rpc(url, method, params, timeoutMs) {
    const res = await rpcRaw(url, method, params, timeoutMs);
    if (res.error !== undefined) {
        const e = typeof res.error === 'object' && res.error !== null
                  ? res.error
                  : { code: 0, status: res.httpStatus,
                      description: String(res.error) };
        throw new KrakenError(method, e);
    }
    return res.data;
}


/* ---- SDP ------------------------------------------------------------ */

/*
 * The media sections of an SDP: mid, kind, port, direction, the msid
 * stream and track ids, and payload type -> codec name.
 */
function parseSections(sdp) {
    const sections = [];
    let cur = null;
    let sessionDirection = 'sendrecv';

    for (const line of sdp.split(/\r?\n/)) {
        let m;
        if ((m = /^m=(\S+) (\d+) \S+ ?(.*)$/.exec(line))) {
            cur = {
                kind: m[1], port: Number(m[2]),
                pts: m[3].split(' ').filter(Boolean).map(Number),
                mid: null, direction: null, stream: null, track: null,
                codecs: {}, ssrcs: [],
            };
            sections.push(cur);
            continue;
        }
        if ((m = /^a=(sendrecv|sendonly|recvonly|inactive)$/.exec(line))) {
            if (cur) {
                cur.direction = m[1];
            } else {
                sessionDirection = m[1];
            }
            continue;
        }
        if (!cur) {
            continue;
        }
        if ((m = /^a=mid:(\S+)/.exec(line))) {
            cur.mid = m[1];
        } else if ((m = /^a=msid:(\S+)(?: (\S+))?/.exec(line))) {
            cur.stream = m[1];
            cur.track = m[2] || null;
        } else if ((m = /^a=rtpmap:(\d+) ([^/\s]+)/.exec(line))) {
            cur.codecs[m[1]] = m[2].toLowerCase();
        } else if ((m = /^a=ssrc:(\d+) /.exec(line))) {
            if (!cur.ssrcs.includes(Number(m[1]))) {
                cur.ssrcs.push(Number(m[1]));
            }
        }
    }

    for (const s of sections) {
        if (s.direction === null) {
            s.direction = sessionDirection;
        }
        /* what the far end sends us, if this SDP is the far end's */
        s.sending = s.port !== 0 && (s.direction === 'sendonly'
                                     || s.direction === 'sendrecv');
    }
    return sections;
}

/* The payload type an SDP section maps to opus, or null. */
function opusPt(section) {
    for (const pt of section.pts) {
        if (section.codecs[pt] === 'opus') {
            return pt;
        }
    }
    return null;
}

/*
 * Renumbers payload type `from` to `to` in every media section (m= format
 * list, rtpmap, fmtp, rtcp-fb, RED's "pt/pt" list and RTX's apt=); a codec
 * that already uses `to` gets `from` in exchange, so no number is used twice.
 */
function swapPayloadType(sdp, from, to) {
    const a = String(from);
    const b = String(to);
    const swap = (pt) => (pt === a ? b : pt === b ? a : pt);
    const eol = sdp.includes('\r\n') ? '\r\n' : '\n';

    return sdp.split(/\r?\n/).map((line) => {
        let m;
        if ((m = /^(m=\S+ \d+ \S+)((?: \d+)*)$/.exec(line))) {
            return m[1] + m[2].split(' ').map((pt) => (pt ? swap(pt) : pt))
                                          .join(' ');
        }
        if ((m = /^a=(rtpmap|rtcp-fb|fmtp):(\d+)(.*)$/.exec(line))) {
            let rest = m[3];
            if (m[1] === 'fmtp' && /^ \d+(\/\d+)*$/.test(rest)) {
                /* RED: a=fmtp:63 111/111 */
                rest = ' ' + rest.trim().split('/').map(swap).join('/');
            } else if (m[1] === 'fmtp') {
                /* RTX: a=fmtp:97 apt=96 */
                rest = rest.replace(/\bapt=(\d+)/,
                                    (all, pt) => `apt=${swap(pt)}`);
            }
            return `a=${m[1]}:${swap(m[2])}${rest}`;
        }
        return line;
    }).join(eol);
}


/* ---- audio ------------------------------------------------------------ */

/*
 * Goertzel power of `freq` in `samples`, normalised by the frame's energy:
 * about 1 for a pure sine on a bin frequency (a multiple of RATE/FRAME =
 * 100 Hz for a 480-sample frame), about 0 when the tone is absent.
 */
function toneShare(samples, freq, rate = RATE) {
    const n = samples.length;
    const w = 2 * Math.PI * freq / rate;
    const coeff = 2 * Math.cos(w);
    let s1 = 0;
    let s2 = 0;
    let energy = 0;

    for (let i = 0; i < n; i++) {
        const x = samples[i];
        const s0 = x + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
        energy += x * x;
    }
    if (energy === 0) {
        return 0;
    }
    const power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    return 2 * power / (n * energy);
}

function rms(samples) {
    let e = 0;
    for (let i = 0; i < samples.length; i++) {
        e += samples[i] * samples[i];
    }
    return Math.sqrt(e / samples.length) / 32768;
}

/*
 * A wrtc audio track carrying a sine tone (or silence when freq is null):
 * 48 kHz, 16-bit mono, 10 ms frames fed on a drift-corrected schedule.
 */
class ToneSource {
    constructor(freq, amplitude = 0.25) {
        const { RTCAudioSource } = wrtc().nonstandard;
        this.freq = freq;
        this.amplitude = freq ? amplitude : 0;
        this.source = new RTCAudioSource();
        this.track = this.source.createTrack();
        this.sent = 0;
        this.start = process.hrtime.bigint();
        this.timer = setInterval(() => this.pump(), 5);
    }

    pump() {
        const elapsedMs = Number(process.hrtime.bigint() - this.start) / 1e6;
        let due = Math.floor(elapsedMs / 10) - this.sent;

        if (due > 20) {
            /* the event loop stalled: skip ahead rather than burst */
            this.sent += due - 20;
            due = 20;
        }
        while (due-- > 0) {
            const samples = new Int16Array(FRAME);
            const w = 2 * Math.PI * (this.freq || 0) / RATE;
            const base = this.sent * FRAME;
            const a = this.amplitude * 32767;
            for (let i = 0; i < FRAME; i++) {
                samples[i] = Math.round(a * Math.sin(w * (base + i)));
            }
            this.source.onData({ samples, sampleRate: RATE, bitsPerSample: 16,
                                 channelCount: 1, numberOfFrames: FRAME });
            this.sent++;
        }
    }

    stop() {
        clearInterval(this.timer);
        this.track.stop();
    }
}


/* ---- participant ---------------------------------------------------- */

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function now() {
    return Date.now();
}

/*
 * options:
 *   url, room, uid           where and who
 *   tone                     Hz of the sine this participant sends (or null)
 *   tones                    candidate frequencies to look for in received
 *                            audio (default: [tone of everyone] unknown, so
 *                            pass the list of all tones of the test)
 *   pollMs                   subscribe period (kraken.fm: 3000)
 *   turn                     call turn before publishing, as kraken.fm
 *   inFlight                 the most calls at a time (a browser: 6)
 *   mungeOffer(sdp) -> sdp   applied to our publish offer before
 *                            setLocalDescription (e.g. Opus on PT 109)
 *   autoRestart              republish on 5002001/5002002 (default true)
 *   publishExtra             params after the offer: [limit, callback]
 *   log(line)                progress lines (default: none)
 *
 * events: 'published' {track, answer}, 'offer' sections, 'restart' error,
 *         'error' Error (only when listened to; always kept in .errors),
 *         'ice' state
 */
class Participant extends EventEmitter {
    constructor(opts) {
        super();
        this.url = opts.url;
        this.room = opts.room;
        this.uid = opts.uid;
        this.tone = opts.tone || null;
        this.tones = opts.tones || (this.tone ? [this.tone] : []);
        this.pollMs = opts.pollMs || 500;
        this.turn = !!opts.turn;
        this.inFlight = opts.inFlight || 0;
        this.busy = 0;
        this.queue = [];
        this.mungeOffer = opts.mungeOffer || null;
        this.autoRestart = opts.autoRestart !== false;
        this.logFn = opts.log || null;
        this.rpcTimeoutMs = opts.rpcTimeoutMs || 10000;
        this.publishExtra = opts.publishExtra || [];   /* limit, callback */

        this.source = null;
        this.pc = null;
        this.track = null;          /* Kraken's track id of our publish */
        this.running = false;
        this.loop = null;
        this.pending = [];          /* candidates gathered before publish */
        this.sinks = new Map();     /* mid -> RTCAudioSink */
        this.remote = new Map();    /* mid -> section of the server's SDP */

        this.publishes = 0;
        this.restarts = 0;
        this.offers = [];           /* [{at, sections}] applied offers */
        this.errors = [];
        this.iceState = 'new';
        this.connectedAt = null;
        this.publishAnswer = null;  /* parsed sections of publish's answer */
        this.localOffer = null;     /* the SDP we published */
        this.streamsSeen = new Set();
        this.lastStats = new Map(); /* 'publish#:mid' -> packetsReceived */
        this.resetAudio();
    }

    log(line) {
        if (this.logFn) {
            this.logFn(`${this.room}/${this.uid}: ${line}`);
        }
    }

    /*
     * With inFlight N, at most N calls at a time, the others queued: a
     * browser opens at most 6 HTTP/1.1 connections to one host.
     */
    async rpc(method, params) {
        if (this.inFlight) {
            while (this.busy >= this.inFlight) {
                await new Promise((resolve) => this.queue.push(resolve));
            }
        }
        this.busy++;
        try {
            return await rpc(this.url, method,
                             [this.room, this.uid, ...params],
                             this.rpcTimeoutMs);
        } finally {
            this.busy--;
            const next = this.queue.shift();
            if (next) {
                next();
            }
        }
    }

    /* publish and start polling subscribe */
    async join() {
        if (!this.source) {
            this.source = new ToneSource(this.tone);
        }
        this.running = true;
        /* kraken.fm asks for its TURN servers as it joins */
        if (this.turn) {
            await rpc(this.url, 'turn', [this.uid]);
        }
        await this.publish();
        this.loop = this.pollLoop();
    }

    async publish() {
        try {
            await this.publishOnce();
        } catch (e) {
            this.closePc();
            throw e;
        }
    }

    async publishOnce() {
        this.closePc();

        const { RTCPeerConnection, MediaStream } = wrtc();
        const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle',
                                           rtcpMuxPolicy: 'require' });
        this.pc = pc;
        this.track = null;
        this.pending = [];
        this.iceState = 'new';

        pc.addTrack(this.source.track, new MediaStream());
        pc.onicecandidate = (e) => {
            if (pc !== this.pc || !e.candidate || !e.candidate.candidate) {
                return;
            }
            const init = { candidate: e.candidate.candidate,
                           sdpMid: e.candidate.sdpMid,
                           sdpMLineIndex: e.candidate.sdpMLineIndex };
            if (this.track === null) {
                this.pending.push(init);
            } else {
                this.trickle(init);
            }
        };
        pc.ontrack = (e) => {
            if (pc === this.pc) {
                this.attachSink(e.transceiver, e.track, e.streams);
            }
        };
        pc.oniceconnectionstatechange = () => {
            if (pc !== this.pc || pc.iceConnectionState === this.iceState) {
                return;
            }
            this.iceState = pc.iceConnectionState;
            if ((this.iceState === 'connected'
                 || this.iceState === 'completed') && !this.connectedAt)
            {
                this.connectedAt = now();
            }
            this.log(`ice ${this.iceState}`);
            this.emit('ice', this.iceState);
        };

        const offer = await pc.createOffer();
        let sdp = offer.sdp;
        if (this.mungeOffer) {
            sdp = this.mungeOffer(sdp);
        }
        await pc.setLocalDescription({ type: 'offer', sdp });
        this.localOffer = pc.localDescription.sdp;

        const data = await this.rpc('publish', [
            JSON.stringify({ type: 'offer', sdp: pc.localDescription.sdp }),
            ...this.publishExtra]);
        if (pc !== this.pc) {
            return;
        }
        if (!data || typeof data.track !== 'string' || !data.sdp
            || data.sdp.type !== 'answer' || typeof data.sdp.sdp !== 'string')
        {
            throw new Error(`publish: malformed result `
                            + `${JSON.stringify(data).slice(0, 300)}`);
        }
        if (typeof data.jsep !== 'string'
            || JSON.parse(data.jsep).sdp !== data.sdp.sdp)
        {
            throw new Error('publish: jsep is not the JSON of sdp');
        }
        /* where the server said its media is */
        this.serverPorts = [...data.sdp.sdp.matchAll(
            /^a=candidate:\S+ \d+ udp \d+ \S+ (\d+) typ host/gmi)]
            .map((m) => Number(m[1]));
        this.track = data.track;
        this.publishes++;
        this.publishAnswer = parseSections(data.sdp.sdp);
        await pc.setRemoteDescription(data.sdp);
        this.log(`published track ${this.track}`);
        this.emit('published', { track: this.track, answer: data.sdp });

        const pending = this.pending;
        this.pending = [];
        for (const c of pending) {
            this.trickle(c);
        }
    }

    async trickle(init) {
        const pc = this.pc;
        try {
            await this.rpc('trickle', [this.track, JSON.stringify(init)]);
        } catch (e) {
            if (pc === this.pc) {
                this.noteError(e);
            }
        }
    }

    async pollLoop() {
        while (this.running) {
            try {
                if (this.pc === null) {
                    await this.publish();
                } else {
                    await this.subscribeOnce();
                }
                await this.sampleStats();
            } catch (e) {
                if (!this.running) {
                    break;
                }
                this.noteError(e);
                if (e instanceof KrakenError && RESTART_CODES.has(e.code)
                    && this.autoRestart)
                {
                    this.restarts++;
                    this.log(`restart after ${e.code}`);
                    this.emit('restart', e);
                    this.closePc();
                    continue;       /* republish at once, like kraken.fm */
                }
            }
            await sleep(this.pollMs);
        }
    }

    async subscribeOnce() {
        const pc = this.pc;
        const data = await this.rpc('subscribe', [this.track]);
        if (!this.running || pc !== this.pc) {
            return;
        }
        if (!data || data.type !== 'offer') {
            return;                 /* nothing changed */
        }
        await pc.setRemoteDescription({ type: 'offer', sdp: data.sdp });
        const answer = await pc.createAnswer();
        await pc.setLocalDescription(answer);
        await this.rpc('answer', [this.track, JSON.stringify(
            { type: 'answer', sdp: pc.localDescription.sdp })]);
        this.applyRemote(data.sdp);
    }

    applyRemote(sdp) {
        const sections = parseSections(sdp);
        this.remote = new Map();
        for (const s of sections) {
            if (s.mid !== null) {
                this.remote.set(s.mid, s);
            }
            if (s.sending && s.stream) {
                this.streamsSeen.add(s.stream);
            }
        }
        this.offers.push({ at: now(), sections });
        /* a reused m-line fires no ontrack in some versions: attach anyway */
        for (const t of this.pc.getTransceivers()) {
            if (t.mid !== null && !this.sinks.has(t.mid)
                && t.receiver && t.receiver.track)
            {
                this.attachSink(t, t.receiver.track, []);
            }
        }
        this.log(`offer: ${this.activeStreams().join(' ') || '(none)'}`);
        this.emit('offer', sections);
    }

    attachSink(transceiver, track, streams) {
        const mid = transceiver ? transceiver.mid : null;
        for (const s of streams) {
            this.streamsSeen.add(s.id);
        }
        if (mid === null || this.sinks.has(mid) || track.kind !== 'audio') {
            return;
        }
        const { RTCAudioSink } = wrtc().nonstandard;
        const sink = new RTCAudioSink(track);
        sink.ondata = (d) => this.onAudio(mid, d);
        this.sinks.set(mid, sink);
    }

    onAudio(mid, d) {
        const s = this.remote.get(mid);
        if (!s || !s.sending || !s.stream) {
            return;
        }
        if (d.bitsPerSample !== 16 || !d.samples) {
            return;
        }
        let samples = d.samples;
        if (d.channelCount > 1) {
            samples = samples.filter((_, i) => i % d.channelCount === 0);
        }
        const r = this.recvFor(s.stream);
        r.frames++;
        const level = rms(samples);
        if (level < 0.01) {
            return;
        }
        r.activeFrames++;
        if (r.firstAudioAt === null) {
            r.firstAudioAt = now();
        }
        if ((r.activeFrames - 1) % TONE_EVERY !== 0) {
            return;
        }
        r.analyzed++;
        let best = null;
        let bestShare = 0;
        for (const f of this.tones) {
            const share = toneShare(samples, f, d.sampleRate || RATE);
            if (share > bestShare) {
                best = f;
                bestShare = share;
            }
        }
        if (best !== null && bestShare >= 0.5) {
            r.tones[best] = (r.tones[best] || 0) + 1;
        } else {
            r.noTone++;
        }
    }

    recvFor(uid) {
        let r = this.recv.get(uid);
        if (!r) {
            r = { frames: 0, activeFrames: 0, analyzed: 0, noTone: 0,
                  tones: {}, packets: 0, firstAudioAt: null };
            this.recv.set(uid, r);
        }
        return r;
    }

    /* forget what was heard so far (start of a measuring window) */
    resetAudio() {
        this.recv = new Map();
        this.windowStart = now();
    }

    /* adds inbound-rtp packet deltas to the uid each mid carries now */
    async sampleStats() {
        const pc = this.pc;
        if (!pc) {
            return;
        }
        const report = await pc.getStats();
        if (pc !== this.pc) {
            return;
        }
        report.forEach((st) => {
            if (st.type !== 'inbound-rtp' || st.kind !== 'audio') {
                return;
            }
            const mid = st.mid !== undefined ? st.mid
                        : this.midOfTrack(st.trackIdentifier);
            if (mid === null || mid === undefined) {
                return;
            }
            const key = `${this.publishes}:${mid}`;
            const before = this.lastStats.get(key) || 0;
            const delta = (st.packetsReceived || 0) - before;
            this.lastStats.set(key, st.packetsReceived || 0);
            const s = this.remote.get(mid);
            if (delta > 0 && s && s.sending && s.stream) {
                this.recvFor(s.stream).packets += delta;
            }
        });
    }

    /*
     * inbound-rtp of each stream the server sends now, by uid: packets,
     * level, energy and the codec (payload type) the packets arrive with
     */
    async inbound() {
        const out = {};
        if (!this.pc) {
            return out;
        }
        const report = await this.pc.getStats();
        const codecs = new Map();
        report.forEach((st) => {
            if (st.type === 'codec') {
                codecs.set(st.id, st);
            }
        });
        report.forEach((st) => {
            if (st.type !== 'inbound-rtp' || st.kind !== 'audio') {
                return;
            }
            const mid = st.mid !== undefined ? st.mid
                        : this.midOfTrack(st.trackIdentifier);
            const s = this.remote.get(mid);
            if (!s || !s.sending || !s.stream) {
                return;
            }
            const codec = codecs.get(st.codecId) || {};
            out[s.stream] = {
                mid,
                packetsReceived: st.packetsReceived || 0,
                audioLevel: st.audioLevel || 0,
                totalAudioEnergy: st.totalAudioEnergy || 0,
                payloadType: codec.payloadType !== undefined
                             ? codec.payloadType : null,
                mimeType: codec.mimeType || null,
            };
        });
        return out;
    }

    midOfTrack(trackId) {
        for (const t of this.pc.getTransceivers()) {
            if (t.receiver && t.receiver.track
                && t.receiver.track.id === trackId)
            {
                return t.mid;
            }
        }
        return null;
    }

    /* uids whose m-line the server currently sends on */
    activeStreams() {
        const out = [];
        for (const s of this.remote.values()) {
            if (s.sending && s.stream) {
                out.push(s.stream);
            }
        }
        return out.sort();
    }

    noteError(e) {
        const msg = e && e.message ? e.message : String(e);
        this.errors.push({ at: now(), code: e.code || null, message: msg });
        this.log(`error: ${msg}`);
        if (this.listenerCount('error') > 0) {
            this.emit('error', e);      /* unheard 'error' events throw */
        }
    }

    /* which tone dominates what we heard from `uid`, and how clearly */
    heard(uid) {
        const r = this.recv.get(uid);
        if (!r) {
            return null;
        }
        let tone = null;
        let n = 0;
        let toned = 0;
        for (const [f, c] of Object.entries(r.tones)) {
            toned += c;
            if (c > n) {
                tone = Number(f);
                n = c;
            }
        }
        return {
            frames: r.frames,
            activeFrames: r.activeFrames,
            packets: r.packets,
            tone,
            /* of the audible frames whose tone was told (TONE_EVERY) */
            toneShare: r.analyzed ? n / r.analyzed : 0,
            tones: { ...r.tones },
            firstAudioMs: r.firstAudioAt === null
                          ? null : r.firstAudioAt - this.windowStart,
        };
    }

    summary() {
        const heard = {};
        for (const uid of this.recv.keys()) {
            heard[uid] = this.heard(uid);
        }
        return {
            room: this.room,
            uid: this.uid,
            tone: this.tone,
            track: this.track,
            ice: this.iceState,
            publishes: this.publishes,
            restarts: this.restarts,
            offers: this.offers.length,
            active: this.activeStreams(),
            streamsSeen: [...this.streamsSeen].sort(),
            heard,
            errors: this.errors.map((e) => e.message),
        };
    }

    closePc() {
        for (const sink of this.sinks.values()) {
            sink.stop();
        }
        this.sinks = new Map();
        this.remote = new Map();
        if (this.pc) {
            const pc = this.pc;
            this.pc = null;
            pc.onicecandidate = null;
            pc.ontrack = null;
            pc.oniceconnectionstatechange = null;
            pc.close();
        }
    }

    async stopLoop() {
        this.running = false;
        if (this.loop) {
            const loop = this.loop;
            this.loop = null;
            await loop.catch(() => {});
        }
    }

    /*
     * end [room, uid, track] and stop polling; the PeerConnection stays
     * open: closing libwebrtc peers is where libwebrtc sometimes crashes,
     * so a script ends its participants, prints its summary, and lets the
     * process exit take the peers down (Checks.finish)
     */
    async end() {
        await this.stopLoop();
        if (this.track !== null) {
            await this.rpc('end', [this.track]);
        }
    }

    /* end, then close the PeerConnection */
    async leave() {
        let err = null;
        try {
            await this.end();
        } catch (e) {
            err = e;
        }
        this.closePc();
        if (err) {
            throw err;
        }
    }

    /* go away without a word: no end, the PeerConnection just closes */
    async abandon() {
        await this.stopLoop();
        this.closePc();
    }

    async destroy() {
        await this.stopLoop();
        this.closePc();
        if (this.source) {
            this.source.stop();
            this.source = null;
        }
    }
}


/* ---- script helpers -------------------------------------------------- */

/* polls `fn` (sync or async) until truthy or the deadline passes */
async function waitFor(fn, ms, stepMs = 100) {
    const end = now() + ms;
    for (;;) {
        const v = await fn();
        if (v) {
            return v;
        }
        if (now() >= end) {
            return v;
        }
        await sleep(stepMs);
    }
}

/* a random id that passes Kraken's id check (only [A-Za-z0-9_.~-]) */
function randomId(prefix = '') {
    return prefix + require('crypto').randomBytes(6).toString('hex');
}

function logger(name) {
    const t0 = now();
    return (line) => {
        const t = ((now() - t0) / 1000).toFixed(2).padStart(6);
        process.stderr.write(`[${name} ${t}] ${line}\n`);
    };
}

/*
 * The tests' result protocol: one JSON line on stdout, exit 0 when every
 * check passed, 1 when one failed, 2 when the script itself broke.
 *
 * The summary is written before anything is torn down: libwebrtc may die
 * by a signal while peers close or while node unwinds, and the harness
 * (KrakenTest::run_node) judges a client that died after its summary by
 * the summary. Teardown that must run (closing a browser) is registered
 * with afterSummary(); libwebrtc peers are not closed at all: the script
 * leaves with process.exit, which runs no N-API cleanup.
 */
class Checks {
    constructor(meta) {
        this.meta = meta;
        this.list = [];
        this.cleanups = [];
        this.finished = false;
    }

    /* fn (may be async) runs after the summary is out, before the exit */
    afterSummary(fn) {
        this.cleanups.push(fn);
    }

    check(name, ok, detail) {
        const c = { name, ok: Boolean(ok) };
        if (detail !== undefined) {
            c.detail = detail;
        }
        this.list.push(c);
        return c.ok;
    }

    get ok() {
        return this.list.length > 0 && this.list.every((c) => c.ok);
    }

    finish(extra = {}, exitCode) {
        if (this.finished) {
            return;
        }
        this.finished = true;
        const out = { ok: this.ok, ...this.meta, checks: this.list, ...extra };
        out.failures = this.list.filter((c) => !c.ok).map((c) => c.name);
        const code = exitCode !== undefined ? exitCode : (out.ok ? 0 : 1);
        /* synchronous for files and pipes on Linux: out before teardown */
        process.stdout.write(JSON.stringify(out) + '\n',
                             () => this.teardown(code));
    }

    async teardown(code) {
        const limit = setTimeout(() => process.exit(code), 15000);
        for (const fn of this.cleanups) {
            try {
                await fn();
            } catch (e) {
                process.stderr.write(`teardown: ${e && e.message}\n`);
            }
        }
        clearTimeout(limit);
        process.exit(code);
    }

    /* the script broke (server down, malformed answer, deadline...) */
    abort(err, extra = {}) {
        if (this.finished) {
            return;
        }
        const msg = (err && err.message ? err.message : String(err))
            .replace(/\u001b\[[0-9;]*m/g, '');
        process.stderr.write(`${err && err.stack ? err.stack : msg}\n`);
        this.check(`script ran to completion (${msg.split('\n')[0]})`,
                   false);
        this.finish({ error: msg, ...extra }, 2);
    }

    /* hard deadline for the whole script */
    deadline(ms, extra = () => ({})) {
        const t = setTimeout(() => {
            this.abort(new Error(`deadline of ${ms} ms passed`), extra());
        }, ms);
        t.unref();
        return t;
    }
}

/*
 * Each pair [a, b, tone]: a hears b (RTP, and b's tone on b's stream)
 * since now, within ms.
 */
async function talking(pairs, ms) {
    const hears = async (a, b, tone) => {
        await a.sampleStats();
        const h = a.heard(b.uid);
        return Boolean(h && h.packets > 25 && h.activeFrames > 50
                       && h.tone === tone && h.toneShare > 0.8);
    };
    for (const [a] of pairs) {
        a.resetAudio();
    }
    return waitFor(async () => {
        for (const [a, b, tone] of pairs) {
            if (!await hears(a, b, tone)) {
                return false;
            }
        }
        return true;
    }, ms, 200);
}


module.exports = {
    RATE, FRAME, RESTART_CODES,
    KrakenError, RpcTransportError,
    rpc, rpcRaw,
    parseSections, opusPt, swapPayloadType,
    toneShare, rms, ToneSource,
    Participant,
    waitFor, sleep, randomId, logger, Checks, talking,
    wrtc,
};

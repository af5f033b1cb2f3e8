/*
 * ngx_kraken demo: join a room with the microphone and hear everyone.
 *
 * Kraken's flow: publish our offer, then poll subscribe; when the server
 * has a renegotiation offer (people came or went), answer it. Each remote
 * audio m-line carries a=msid:<uid> <track>, so the stream id says whose
 * voice it is. On 5002001 (peer not found) or 5002002 (peer closed) we
 * publish again, like kraken.fm.
 *
 * Query parameters: room=NAME, poll=MS (subscribe period, default 3000).
 * State for tests and the curious: window.kraken.
 */
'use strict';

(function () {

    const params = new URLSearchParams(location.search);
    const POLL_MS = Math.max(100, Number(params.get('poll')) || 3000);
    const RPC_URL = location.origin + '/';
    const RESTART_CODES = [5002001, 5002002];
    const SPEAKING_LEVEL = 0.02;

    const $ = (id) => document.getElementById(id);
    const ui = {
        form: $('controls'), room: $('room'), join: $('join'),
        leave: $('leave'), status: $('status'), view: $('room-view'),
        people: $('people'), count: $('count'), players: $('players'),
    };

    const me = {
        uid: newUid(),
        room: '',
        track: null,        /* our publish's track id */
        state: 'idle',      /* idle, joining, joined, leaving */
        restarts: 0,
        error: null,
    };

    let mic = null;         /* MediaStream of the microphone, kept */
    let pc = null;
    let session = 0;        /* bumps on join/leave: stale loops stop */
    let pending = [];       /* candidates found before publish answered */
    let remote = new Map(); /* uid -> {mid, audio, level} heard now */
    let roster = [];        /* [{id, track}] from list */
    let levelTimer = null;
    let myLevel = 0;
    let rpcSeq = 0;


    /* ---- ids, RPC ----------------------------------------------------- */

    /* Kraken accepts ids made of [A-Za-z0-9-_.~] */
    function newUid() {
        const b = new Uint8Array(8);
        crypto.getRandomValues(b);
        return 'web-' + Array.from(b, (x) => x.toString(16)
                                             .padStart(2, '0')).join('');
    }

    async function rpc(method, args) {
        const res = await fetch(RPC_URL, {
            method: 'POST',
            headers: { 'Content-Type': 'application/json' },
            body: JSON.stringify({ id: String(++rpcSeq), method,
                                   params: args }),
        });
        const body = await res.json();
        if (body.error) {
            const e = new Error(`${method}: ${body.error.description} `
                                + `(${body.error.code})`);
            e.code = body.error.code;
            throw e;
        }
        return body.data;
    }

    /* mid -> {stream, sending} of the audio m-lines of an SDP */
    function sections(sdp) {
        const out = new Map();
        let cur = null;
        for (const line of sdp.split(/\r?\n/)) {
            if (line.startsWith('m=')) {
                cur = { mid: null, stream: null,
                        sending: !/^m=\S+ 0 /.test(line), dir: 'sendrecv' };
            } else if (cur && line.startsWith('a=mid:')) {
                cur.mid = line.slice(6).trim();
                out.set(cur.mid, cur);
            } else if (cur && line.startsWith('a=msid:')) {
                cur.stream = line.slice(7).split(' ')[0];
            } else if (cur && /^a=(sendrecv|sendonly|recvonly|inactive)$/
                              .test(line)) {
                cur.dir = line.slice(2);
            }
        }
        for (const s of out.values()) {
            s.sending = s.sending && s.stream !== null
                        && (s.dir === 'sendonly' || s.dir === 'sendrecv');
        }
        return out;
    }

    const sleep = (ms) => new Promise((r) => setTimeout(r, ms));


    /* ---- the call ----------------------------------------------------- */

    async function join(room) {
        leaveQuietly();
        me.room = room;
        me.state = 'joining';
        me.error = null;
        const mine = ++session;
        render();
        try {
            if (!mic) {
                mic = await navigator.mediaDevices.getUserMedia(
                    { audio: true, video: false });
            }
            await publish(mine);
        } catch (e) {
            if (mine === session) {
                me.state = 'idle';
                me.error = e.message;
                closePc();
                render();
            }
            return;
        }
        levelTimer = setInterval(updateLevels, 300);
        run(mine);
    }

    async function publish(mine) {
        closePc();
        const conn = new RTCPeerConnection({ bundlePolicy: 'max-bundle',
                                             rtcpMuxPolicy: 'require' });
        pc = conn;
        me.track = null;
        pending = [];

        for (const t of mic.getAudioTracks()) {
            conn.addTrack(t, mic);
        }
        conn.onicecandidate = (e) => {
            if (conn !== pc || !e.candidate || !e.candidate.candidate) {
                return;
            }
            if (me.track === null) {
                pending.push(e.candidate.toJSON());
            } else {
                trickle(e.candidate.toJSON());
            }
        };
        conn.onconnectionstatechange = () => {
            if (conn === pc) {
                render();
            }
        };

        await conn.setLocalDescription(await conn.createOffer());
        const offer = JSON.stringify(conn.localDescription);
        const data = await rpc('publish', [me.room, me.uid, offer]);
        if (mine !== session || conn !== pc) {
            return;
        }
        me.track = data.track;
        await conn.setRemoteDescription(data.sdp);
        me.state = 'joined';
        for (const c of pending.splice(0)) {
            trickle(c);
        }
        render();
    }

    function trickle(candidate) {
        rpc('trickle', [me.room, me.uid, me.track, JSON.stringify(candidate)])
            .catch((e) => console.warn('trickle', e));
    }

    /* subscribe (and list) every POLL_MS until this session ends */
    async function run(mine) {
        while (mine === session) {
            try {
                if (pc === null) {
                    await publish(mine);
                }
                await subscribe(mine);
                roster = (await rpc('list', [me.room])).peers || [];
                me.error = null;
            } catch (e) {
                if (mine !== session) {
                    return;
                }
                me.error = e.message;
                if (RESTART_CODES.includes(e.code)) {
                    /* the server forgot us (timeout, restart): publish anew */
                    me.restarts++;
                    me.state = 'joining';
                    closePc();
                    render();
                    continue;
                }
            }
            if (pc && pc.connectionState === 'failed') {
                me.restarts++;
                closePc();
            }
            render();
            await sleep(POLL_MS);
        }
    }

    async function subscribe(mine) {
        const conn = pc;
        const data = await rpc('subscribe', [me.room, me.uid, me.track]);
        if (mine !== session || conn !== pc || data.type !== 'offer') {
            return;
        }
        await conn.setRemoteDescription({ type: 'offer', sdp: data.sdp });
        await conn.setLocalDescription(await conn.createAnswer());
        await rpc('answer', [me.room, me.uid, me.track,
                             JSON.stringify(conn.localDescription)]);
        attachStreams(conn, data.sdp);
    }

    /* one <audio> per uid the server sends us; drop the departed */
    function attachStreams(conn, sdp) {
        const now = new Map();
        for (const [mid, s] of sections(sdp)) {
            if (!s.sending || s.stream === me.uid) {
                continue;
            }
            const t = conn.getTransceivers().find((x) => x.mid === mid);
            if (t) {
                now.set(s.stream, { mid, track: t.receiver.track });
            }
        }
        for (const [uid, r] of remote) {
            const n = now.get(uid);
            if (!n || n.track !== r.track) {
                r.audio.remove();
                remote.delete(uid);
            }
        }
        for (const [uid, n] of now) {
            if (remote.has(uid)) {
                remote.get(uid).mid = n.mid;
                continue;
            }
            const audio = document.createElement('audio');
            audio.autoplay = true;
            audio.dataset.uid = uid;
            audio.srcObject = new MediaStream([n.track]);
            ui.players.append(audio);
            audio.play().catch(() => {});
            remote.set(uid, { mid: n.mid, track: n.track, audio, level: 0 });
        }
    }

    function closePc() {
        for (const r of remote.values()) {
            r.audio.remove();
        }
        remote = new Map();
        if (pc) {
            pc.onicecandidate = null;
            pc.onconnectionstatechange = null;
            pc.close();
            pc = null;
        }
    }

    /* stop without telling the server */
    function leaveQuietly() {
        session++;
        clearInterval(levelTimer);
        levelTimer = null;
        closePc();
        roster = [];
        me.state = 'idle';
    }

    async function leave() {
        const track = me.track;
        me.state = 'leaving';
        render();
        leaveQuietly();
        me.track = null;
        if (track !== null) {
            await rpc('end', [me.room, me.uid, track]).catch((e) => {
                me.error = e.message;
            });
        }
        render();
    }


    /* ---- levels and stats --------------------------------------------- */

    /* inbound-rtp per uid, and our own outgoing level */
    async function stats() {
        const out = { uid: me.uid, track: me.track, peers: {}, sent: 0,
                      level: 0 };
        if (!pc) {
            return out;
        }
        const mids = new Map();
        for (const [uid, r] of remote) {
            mids.set(r.mid, uid);
        }
        const report = await pc.getStats();
        report.forEach((s) => {
            if (s.type === 'inbound-rtp' && s.kind === 'audio'
                && mids.has(s.mid))
            {
                out.peers[mids.get(s.mid)] = {
                    mid: s.mid,
                    packetsReceived: s.packetsReceived || 0,
                    audioLevel: s.audioLevel || 0,
                    totalAudioEnergy: s.totalAudioEnergy || 0,
                };
            } else if (s.type === 'outbound-rtp' && s.kind === 'audio') {
                out.sent += s.packetsSent || 0;
            } else if (s.type === 'media-source' && s.kind === 'audio') {
                out.level = s.audioLevel || 0;
            }
        });
        return out;
    }

    async function updateLevels() {
        const st = await stats().catch(() => null);
        if (!st) {
            return;
        }
        myLevel = st.level;
        for (const [uid, r] of remote) {
            r.level = st.peers[uid] ? st.peers[uid].audioLevel : 0;
        }
        render();
    }


    /* ---- view --------------------------------------------------------- */

    function people() {
        const list = new Map();
        if (me.state !== 'idle') {
            list.set(me.uid, { uid: me.uid, self: true, level: myLevel,
                               what: me.state === 'joined'
                                     ? `you, ${pc ? pc.connectionState : ''}`
                                     : `you, ${me.state}` });
        }
        for (const p of roster) {
            if (p.id !== me.uid) {
                list.set(p.id, { uid: p.id, level: 0, what: 'connecting' });
            }
        }
        for (const [uid, r] of remote) {
            list.set(uid, { uid, level: r.level, what: 'listening' });
        }
        return [...list.values()];
    }

    function render() {
        const joined = me.state !== 'idle';
        ui.join.hidden = joined;
        ui.leave.hidden = !joined;
        ui.room.disabled = joined;
        ui.view.hidden = !joined;

        let status = {
            idle: 'Not in a room.',
            joining: 'Joining…',
            joined: `In room ${me.room} as ${me.uid}.`,
            leaving: 'Leaving…',
        }[me.state];
        if (me.error) {
            status += ` (${me.error})`;
        }
        ui.status.textContent = status;
        document.body.dataset.state = me.state;

        const list = people();
        ui.count.textContent = joined ? `(${list.length})` : '';
        const rows = new Map();
        for (const li of ui.people.children) {
            rows.set(li.dataset.uid, li);
        }
        for (const p of list) {
            let li = rows.get(p.uid);
            rows.delete(p.uid);
            if (!li) {
                li = document.createElement('li');
                li.className = 'person';
                li.dataset.uid = p.uid;
                li.innerHTML = '<span class="dot"></span><div>'
                    + '<div class="name"></div><div class="what"></div></div>'
                    + '<meter min="0" max="0.5" value="0"></meter>';
                li.querySelector('.name').textContent = p.uid;
            }
            li.dataset.state = p.self ? 'self' : p.what;
            li.querySelector('.what').textContent = p.what;
            li.querySelector('meter').value = p.level;
            li.classList.toggle('speaking', p.level > SPEAKING_LEVEL);
            ui.people.append(li);
        }
        for (const li of rows.values()) {
            li.remove();
        }
    }


    /* ---- wiring ------------------------------------------------------- */

    ui.room.value = params.get('room') || '';
    ui.form.addEventListener('submit', (e) => {
        e.preventDefault();
        const room = ui.room.value.trim();
        const url = new URL(location.href);
        url.searchParams.set('room', room);
        history.replaceState(null, '', url);
        join(room);
    });
    ui.leave.addEventListener('click', () => leave());
    window.addEventListener('pagehide', () => {
        if (me.track !== null) {
            navigator.sendBeacon(RPC_URL, JSON.stringify({
                id: 'bye', method: 'end',
                params: [me.room, me.uid, me.track] }));
        }
    });
    if (!window.RTCPeerConnection || !navigator.mediaDevices) {
        ui.join.disabled = true;
        ui.status.textContent = 'This browser cannot join: WebRTC and the '
            + 'microphone need https or localhost.';
    }

    window.kraken = {
        get uid() { return me.uid; },
        get room() { return me.room; },
        get track() { return me.track; },
        get state() { return me.state; },
        get restarts() { return me.restarts; },
        get error() { return me.error; },
        get connection() { return pc ? pc.connectionState : 'closed'; },
        /* uid -> {mid, level} of everyone we hear now */
        get peers() {
            const out = {};
            for (const [uid, r] of remote) {
                out[uid] = { mid: r.mid, level: r.level };
            }
            return out;
        },
        get roster() { return roster.map((p) => p.id); },
        pollMs: POLL_MS,
        join: () => join(ui.room.value.trim()),
        leave,
        stats,
    };
    render();
})();

'use strict';
/*
 * Three headless Chromium participants, each in its own browser context,
 * open the demo page at URL?room=NAME and click Join: each must hear both
 * others (inbound-rtp packetsReceived and totalAudioEnergy growing on two
 * streams, the page plays them through <audio>). Then one clicks Leave: the
 * others' next subscribe retires it; it clicks Join again and is heard
 * again.
 *
 *   node t/js/chromium-room.js URL [POLL_MS=500]
 *
 * CHROMIUM=path overrides /usr/lib/chromium/chromium. Needs a loopback-only
 * network namespace (tools/netns.sh) or it may use other interfaces.
 * Prints one JSON line {ok, checks:[{name, ok, detail}], ...};
 * exit 0 all checks passed, 1 a check failed, 2 the script could not run.
 */

const { chromium } = require('playwright-core');
const {
    Checks, rpc, waitFor, randomId, logger,
} = require('./lib/kraken-client');

const [url, pollArg] = process.argv.slice(2);
const POLL_MS = Number(pollArg || 500);
const CHROMIUM = process.env.CHROMIUM || '/usr/lib/chromium/chromium';
const FLAGS = [
    '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--use-fake-ui-for-media-stream',
    '--use-fake-device-for-media-stream',
    '--autoplay-policy=no-user-gesture-required',
    '--allow-loopback-in-peer-connection',
];
const RETIRE_MS = POLL_MS * 4 + 5000;   /* a couple of polls, and slack */
const log = logger('chromium-room');

const checks = new Checks({ test: 'chromium-room', url, pollMs: POLL_MS });
let browser = null;
const pageErrors = [];
const users = [];

async function kraken(page, expr) {
    return page.evaluate(expr);
}

/* window.kraken.stats() of a page: {uid, peers: {uid: inbound-rtp}} */
function stats(user) {
    return user.page.evaluate(() => window.kraken.stats());
}

/* waits until `user` hears `uid` with packets and energy both growing */
async function hears(user, uid, ms) {
    let first = null;
    let last = null;
    const ok = await waitFor(async () => {
        const st = (await stats(user)).peers[uid];
        if (!st) {
            return false;
        }
        last = st;
        if (first === null) {
            first = st;
            return false;
        }
        return st.packetsReceived > first.packetsReceived
               && st.totalAudioEnergy > first.totalAudioEnergy
               && st.packetsReceived > 0 && st.totalAudioEnergy > 0;
    }, ms, 300);
    return { ok: Boolean(ok), first, last };
}

async function main() {
    if (!url) {
        throw new Error('usage: chromium-room.js URL [POLL_MS]');
    }
    checks.deadline(180000, () => ({ pageErrors }));
    const room = `chromium-${randomId()}`;

    const t0 = Date.now();
    checks.afterSummary(() => browser && browser.close());
    browser = await chromium.launch({ executablePath: CHROMIUM,
                                      headless: true, args: FLAGS,
                                      timeout: 30000 });
    log(`chromium ${browser.version()} up in ${Date.now() - t0} ms`);

    for (const name of ['alice', 'bob', 'carol']) {
        const context = await browser.newContext();
        const page = await context.newPage();
        page.setDefaultTimeout(10000);
        page.on('pageerror', (e) => pageErrors.push(`${name}: ${e.message}`));
        page.on('console', (m) => {
            if (m.type() === 'error') {
                log(`${name} console: ${m.text()}`);
            }
        });
        const res = await page.goto(`${url}?room=${room}&poll=${POLL_MS}`);
        users.push({ name, context, page, status: res.status(),
                     type: res.headers()['content-type'] });
    }
    checks.check('the demo page loads (GET, text/html) in three contexts',
                 users.every((u) => u.status === 200
                             && /text\/html/.test(u.type || '')),
                 users.map((u) => `${u.status} ${u.type}`));
    const ready = checks.check(
        'the page exposes window.kraken and fills the room field',
        (await Promise.all(users.map((u) => u.page.evaluate(
            (r) => typeof window.kraken === 'object'
                && document.getElementById('room').value === r,
            room)))).every(Boolean));
    if (!ready) {
        throw new Error(`no demo page at ${url} (kraken_demo on?)`);
    }

    /* everybody clicks Join */
    for (const u of users) {
        await u.page.click('#join');
    }
    let gaveUp = false;
    const joined = await waitFor(async () => {
        let all = true;
        for (const u of users) {
            const k = await kraken(u.page, () => ({
                uid: window.kraken.uid, track: window.kraken.track,
                state: window.kraken.state, error: window.kraken.error }));
            Object.assign(u, { uid: k.uid, track: k.track });
            gaveUp = gaveUp || (k.state === 'idle' && k.error !== null);
            all = all && k.track !== null;
        }
        return all || gaveUp;
    }, 20000, 200) && !gaveUp;
    checks.check('each participant publishes after clicking Join', joined,
                 users.map((u) => ({ uid: u.uid, track: u.track })));
    if (!joined) {
        const errs = await Promise.all(users.map((u) =>
            kraken(u.page, () => window.kraken.error)));
        throw new Error(`join failed: ${JSON.stringify(errs)}`);
    }

    const others = (u) => users.filter((x) => x !== u).map((x) => x.uid);
    const streamsOf = (u) => kraken(u.page, () =>
        Object.keys(window.kraken.peers).sort());
    const allStreams = async () => Object.fromEntries(await Promise.all(
        users.map(async (u) => [u.name, await streamsOf(u)])));

    const offered = await waitFor(async () => {
        for (const u of users) {
            const s = await streamsOf(u);
            if (JSON.stringify(s) !== JSON.stringify(others(u).sort())) {
                return false;
            }
        }
        return true;
    }, 30000, 250);
    checks.check('each page receives a stream from both others (by uid)',
                 offered, await allStreams());

    /* sound: packets and energy grow on both streams of every page */
    const heard = {};
    let allHeard = true;
    for (const u of users) {
        for (const uid of others(u)) {
            const h = await hears(u, uid, 15000);
            heard[`${u.name}<-${uid}`] = h;
            allHeard = allHeard && h.ok;
        }
    }
    checks.check('each page hears both others (packetsReceived and '
                 + 'totalAudioEnergy grow)', allHeard, heard);

    /* what the user sees: a row per person, the others listening */
    const rows = await Promise.all(users.map((u) => u.page.$$eval(
        '#people li', (lis) => lis.map((li) =>
            `${li.dataset.uid}:${li.dataset.state}`))));
    checks.check('each page lists itself and both others as listening',
                 users.every((u, i) => rows[i].length === 3
                     && others(u).every((x) =>
                         rows[i].includes(`${x}:listening`))), rows);

    const speaking = await waitFor(async () => {
        const n = await Promise.all(users.map((u) => u.page.$$eval(
            '#people li.speaking', (lis) => lis.length)));
        return n.every((x) => x > 0);
    }, 10000, 150);
    checks.check('each page shows someone speaking', speaking);

    /* carol leaves with the button */
    const [alice, bob, carol] = users;
    await carol.page.click('#leave');
    const leftAt = Date.now();
    const carolLeft = await waitFor(async () => {
        const list = await rpc(url, 'list', [room]);
        return !(list.peers || []).some((p) => p.id === carol.uid);
    }, 5000, 200);
    checks.check('after Leave, list no longer shows the leaver', carolLeft);

    const retired = await waitFor(async () =>
        !(await streamsOf(alice)).includes(carol.uid)
        && !(await streamsOf(bob)).includes(carol.uid), RETIRE_MS, 200);
    checks.check('the others\' next subscribe retires the leaver\'s stream',
                 retired, { afterMs: Date.now() - leftAt,
                            streams: await allStreams() });
    const rowGone = await waitFor(async () => {
        for (const u of [alice, bob]) {
            const n = await u.page.$$eval(`#people li[data-uid="${carol.uid}"]`,
                                          (lis) => lis.length);
            if (n !== 0) {
                return false;
            }
        }
        return true;
    }, RETIRE_MS, 200);
    checks.check('the leaver disappears from the others\' people list',
                 rowGone);
    checks.check('the leaver\'s page shows the Join button again',
                 await carol.page.isVisible('#join')
                 && await kraken(carol.page, () => window.kraken.state
                                                  === 'idle'));

    /* carol joins again and is heard again */
    await carol.page.click('#join');
    const back = await waitFor(async () => {
        const t = await kraken(carol.page, () => window.kraken.track);
        return t !== null && t !== carol.track ? t : null;
    }, 20000, 200);
    checks.check('Join again publishes a new track', Boolean(back),
                 { before: carol.track, after: back });

    const reoffered = await waitFor(async () =>
        (await streamsOf(alice)).includes(carol.uid)
        && (await streamsOf(bob)).includes(carol.uid)
        && (await streamsOf(carol)).length === 2, 30000, 250);
    checks.check('the rejoined participant is offered to the others again',
                 reoffered, await allStreams());

    const again = {};
    let heardAgain = true;
    for (const [u, uid] of [[alice, carol.uid], [bob, carol.uid],
                            [carol, alice.uid], [carol, bob.uid]])
    {
        const h = await hears(u, uid, 15000);
        again[`${u.name}<-${uid}`] = h;
        heardAgain = heardAgain && h.ok;
    }
    checks.check('after rejoining it is heard again and hears the others',
                 heardAgain, again);

    const restarts = await Promise.all(users.map((u) =>
        kraken(u.page, () => window.kraken.restarts)));
    checks.check('no page had to republish on its own',
                 restarts.every((n) => n === 0), restarts);

    /* the server drops bob (an `end` he did not send): his next subscribe
     * gets 5002001/5002002 and the page publishes again by itself */
    bob.track = await kraken(bob.page, () => window.kraken.track);
    await rpc(url, 'end', [room, bob.uid, bob.track]);
    const republished = await waitFor(async () => {
        const st = await kraken(bob.page, () => ({
            restarts: window.kraken.restarts, track: window.kraken.track }));
        return st.restarts > 0 && st.track !== null && st.track !== bob.track
            ? st : null;
    }, RETIRE_MS + 10000, 200);
    checks.check('a page the server forgot publishes again by itself',
                 Boolean(republished), republished);
    const bobAgain = await hears(alice, bob.uid, 20000);
    checks.check('and is heard again', bobAgain.ok, bobAgain);
    checks.check('no JavaScript errors on the pages', pageErrors.length === 0,
                 pageErrors);

    for (const u of users) {
        await u.page.click('#leave');
    }
    const empty = await waitFor(async () =>
        ((await rpc(url, 'list', [room])).peers || []).length === 0,
        5000, 200);
    checks.check('after everybody leaves, the room is empty', empty);

    checks.finish({ room, users: users.map((u) => ({ name: u.name,
                                                      uid: u.uid })) });
}

main().catch((e) => checks.abort(e, { pageErrors }));

'use strict';
/*
 * A stand-in for a WebRTC client that t/005-harness.t runs to prove how
 * KrakenTest::run_node and node_checks treat a client that dies by a
 * signal (as libwebrtc sometimes does in its teardown). It uses the real
 * result protocol (Checks) and no WebRTC at all.
 *
 *   node t/js/crash-probe.js MODE RUNS_FILE [URL]
 *
 * MODE:
 *   pass              every check passes, exit 0
 *   fail              a check fails, exit 1
 *   crash-after       every check passes, SIGSEGV after the summary
 *   crash-after-fail  a check fails, SIGSEGV after the summary
 *   crash-before      SIGSEGV halfway through writing the summary
 *   crash-once        crash-before on the first run, pass on the others
 *   publish-crash     on the first run, publish a peer at the Kraken
 *                     server at URL (it never connects) and crash before
 *                     the summary; on the others, check that the server
 *                     counts no active peer: the harness waited for it to
 *                     forget the dead run's peer before running again
 *
 * Each run appends a line to RUNS_FILE, so the test can count the runs.
 */

const fs = require('fs');
const { Checks, rpc, randomId } = require('./lib/kraken-client');

const [mode, runsFile, url] = process.argv.slice(2);
const checks = new Checks({ test: 'crash-probe', mode });

function segv() {
    process.kill(process.pid, 'SIGSEGV');
}

let runs = 1;
if (runsFile) {
    fs.appendFileSync(runsFile, `${process.pid}\n`);
    runs = fs.readFileSync(runsFile, 'utf8').split('\n').filter(Boolean)
             .length;
}

async function publishCrash() {
    if (runs === 1) {
        const sdp = fs.readFileSync(
            `${__dirname}/../data/chromium-156-offer-audio.sdp`, 'utf8');
        await rpc(url, 'publish', [`probe-${randomId()}`, 'probe',
                                   JSON.stringify({ type: 'offer', sdp })]);
        segv();
        return;
    }
    const info = await rpc(url, 'info', []);
    checks.check('the server counts no peer of the dead run',
                 info.active_peers === 0, info.active_peers);
    checks.finish({ runs });
}

if (mode === 'publish-crash') {
    publishCrash().catch((e) => checks.abort(e));
} else if (mode === 'crash-before'
           || (mode === 'crash-once' && runs === 1))
{
    /* a summary cut short by the crash is no summary */
    process.stdout.write('{"ok":true,"checks":[{"name":"half', segv);
} else {
    const failing = mode === 'fail' || mode === 'crash-after-fail';
    checks.check('the probe ran', true);
    checks.check('the probe\'s own check', !failing, { mode });
    if (mode === 'crash-after' || mode === 'crash-after-fail') {
        checks.afterSummary(segv);
    }
    checks.finish({ runs });
}

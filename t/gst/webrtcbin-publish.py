#!/usr/bin/python3
# GStreamer's webrtcbin (libnice ICE, OpenSSL DTLS) publishes a tone to
# ngx_kraken: its answer is taken, ICE and DTLS connect (a cookie
# exchange included), and the server counts the audio. Prints one JSON
# line and exits 0 when the peer connected and the server received RTP.
# Debian's python3 with python3-gi (the pyenv python cannot import it).
# usage: webrtcbin-publish.py RPC_URL ROOM UID [SECONDS]

import json
import sys
import time
import urllib.request

import gi

gi.require_version('Gst', '1.0')
gi.require_version('GstWebRTC', '1.0')
gi.require_version('GstSdp', '1.0')
from gi.repository import GLib, Gst, GstSdp, GstWebRTC  # noqa: E402

url, room, uid = sys.argv[1:4]
deadline = time.time() + float(sys.argv[4] if len(sys.argv) > 4 else 20)
result = {'connected': False, 'rtp_received': 0, 'error': None}


def rpc(method, params):
    body = json.dumps({'id': 'gst', 'method': method, 'params': params})
    req = urllib.request.Request(url, body.encode(),
                                 {'Content-Type': 'application/json'})
    with urllib.request.urlopen(req, timeout=5) as res:
        return json.loads(res.read())


Gst.init(None)
pipe = Gst.parse_launch(
    'audiotestsrc is-live=true wave=sine ! audioconvert ! audioresample ! '
    'opusenc ! rtpopuspay pt=111 ! '
    'application/x-rtp,media=audio,encoding-name=OPUS,payload=111 ! '
    'webrtcbin name=pc bundle-policy=max-bundle')
pc = pipe.get_by_name('pc')
loop = GLib.MainLoop()


def fail(why):
    result['error'] = why
    loop.quit()


def on_offer(promise, _):
    # the reply owns the offer: keep it while the offer is used
    reply = promise.get_reply()
    offer = reply.get_value('offer')
    pc.emit('set-local-description', offer, Gst.Promise.new())
    try:
        res = rpc('publish', [room, uid, json.dumps(
            {'type': 'offer', 'sdp': offer.sdp.as_text()})])
    except Exception as e:  # the harness reports it
        return fail('publish: %s' % e)
    if 'error' in res:
        return fail('publish: %s' % json.dumps(res['error']))
    _, sdp = GstSdp.SDPMessage.new_from_text(res['data']['sdp']['sdp'])
    answer = GstWebRTC.WebRTCSessionDescription.new(
        GstWebRTC.WebRTCSDPType.ANSWER, sdp)
    pc.emit('set-remote-description', answer, Gst.Promise.new())


def on_negotiation_needed(element):
    pc.emit('create-offer', None,
            Gst.Promise.new_with_change_func(on_offer, None))


def poll():
    state = pc.get_property('connection-state')
    result['connected'] = \
        state == GstWebRTC.WebRTCPeerConnectionState.CONNECTED
    try:
        info = rpc('info', [])['data']
        result['rtp_received'] = info['counters'].get('rtp_received', 0)
    except Exception as e:
        return fail('info: %s' % e)
    if result['connected'] and result['rtp_received'] >= 20:
        loop.quit()
        return False
    if time.time() > deadline:
        fail('not connected and heard in time (state %s)' % state.value_nick)
        return False
    return True


pc.connect('on-negotiation-needed', on_negotiation_needed)
GLib.timeout_add(250, poll)
pipe.set_state(Gst.State.PLAYING)
loop.run()
pipe.set_state(Gst.State.NULL)

print(json.dumps(result), flush=True)
sys.exit(0 if result['error'] is None else 1)

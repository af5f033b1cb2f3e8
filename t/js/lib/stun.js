'use strict';
/*
 * STUN Binding requests built by hand, for tests that send checks from
 * sockets of their own (spoofed or hostile ones): RFC 5389 framing,
 * MESSAGE-INTEGRITY (HMAC-SHA1 keyed with the ice-pwd) and FINGERPRINT.
 */

const crypto = require('crypto');

let crcTable = null;

function crc32(buf) {
    if (!crcTable) {
        crcTable = new Int32Array(256);
        for (let n = 0; n < 256; n++) {
            let c = n;
            for (let k = 0; k < 8; k++) {
                c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
            }
            crcTable[n] = c;
        }
    }
    let crc = -1;
    for (const b of buf) {
        crc = crcTable[(crc ^ b) & 0xff] ^ (crc >>> 8);
    }
    return (crc ^ -1) >>> 0;
}

function attr(type, value) {
    const pad = (4 - (value.length % 4)) % 4;
    const out = Buffer.alloc(4 + value.length + pad);
    out.writeUInt16BE(type, 0);
    out.writeUInt16BE(value.length, 2);
    value.copy(out, 4);
    return out;
}

/*
 * A Binding request with USERNAME and PRIORITY; with controlling, also
 * ICE-CONTROLLING and USE-CANDIDATE, as a nominating agent sends it.
 */
function bindingRequest(username, pwd, { controlling = false } = {}) {
    const head = Buffer.alloc(20);
    head.writeUInt16BE(0x0001, 0);
    head.writeUInt32BE(0x2112a442, 4);
    crypto.randomBytes(12).copy(head, 8);

    const attrs = [
        attr(0x0006, Buffer.from(username)),
        attr(0x0024, Buffer.from([0x6e, 0, 0, 0xff])),
    ];
    if (controlling) {
        attrs.push(attr(0x802a, crypto.randomBytes(8)),
                   attr(0x0025, Buffer.alloc(0)));
    }
    let body = Buffer.concat(attrs);
    /* the length covers MESSAGE-INTEGRITY when it is computed */
    head.writeUInt16BE(body.length + 24, 2);
    const mac = crypto.createHmac('sha1', pwd)
                      .update(Buffer.concat([head, body])).digest();
    body = Buffer.concat([body, attr(0x0008, mac)]);
    head.writeUInt16BE(body.length + 8, 2);
    const fp = Buffer.alloc(4);
    fp.writeUInt32BE((crc32(Buffer.concat([head, body])) ^ 0x5354554e) >>> 0);
    body = Buffer.concat([body, attr(0x8028, fp)]);
    return Buffer.concat([head, body]);
}

module.exports = { bindingRequest };

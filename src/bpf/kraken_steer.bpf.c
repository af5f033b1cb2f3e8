/*
 * kraken_steer: a BPF_PROG_TYPE_SK_REUSEPORT program that picks, among the
 * sockets of one SO_REUSEPORT UDP group (one socket per nginx worker), the
 * socket of the worker that owns the sender of a datagram:
 *
 *   1. a STUN message whose USERNAME begins with one of our ufrags goes to
 *      the worker named by the ufrag's first two characters (the tag);
 *   2. any other datagram goes to the worker that registered its source
 *      address and port;
 *   3. anything else, or a selection that fails (an empty socket slot), is
 *      left to the kernel's hash of the 4-tuple.
 *
 * The program never drops: it always returns SK_PASS.
 *
 * "make bpf" compiles it with clang -O2 -g -target bpf into
 * src/kraken_bpf_code.c; src/kraken_bpf.c loads it. The maps' layouts are
 * mirrored there.
 */

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>


/*
 * Where the program's view of the packet starts, found by experiment on
 * Linux 6.18 (a probe program that copied ctx->data, bpf_skb_load_bytes()
 * at 0 and bpf_skb_load_bytes_relative(BPF_HDR_START_NET) at 0 into a map,
 * for a 26-byte datagram on 127.0.0.1): for UDP, ctx->data and offset 0 of
 * bpf_skb_load_bytes() are the UDP HEADER (source port, destination port,
 * length, checksum), not the payload: the IP header is already pulled when
 * the socket lookup runs. ctx->len is the UDP length (8 + 26 = 34), and
 * ctx->data_end - ctx->data is the linear part of the skb only, so the
 * payload is read with bpf_skb_load_bytes(), which also reads paged data.
 * The IP header is reached with bpf_skb_load_bytes_relative() from
 * BPF_HDR_START_NET. ctx->eth_protocol is in network byte order.
 *
 * The source port is read from the UDP header at offset 0, so IPv4 options
 * and IPv6 extension headers do not matter: the source address is at a
 * fixed offset of the IPv4 and of the IPv6 fixed header.
 */
#define KRAKEN_UDP_HLEN          8

#define KRAKEN_ETH_P_IP          0x0800
#define KRAKEN_ETH_P_IPV6        0x86dd
#define KRAKEN_IPPROTO_UDP       17
#define KRAKEN_AF_INET           2
#define KRAKEN_AF_INET6          10

/* RFC 8489: 20-byte header, TLV attributes padded to 4 bytes */
#define KRAKEN_STUN_HLEN         20
#define KRAKEN_STUN_USERNAME     0x0006
#define KRAKEN_STUN_MAX_ATTRS    16

#define KRAKEN_TAGS              256


/* the key of "addrs": the sender of a datagram, padding explicit and 0 */
struct kraken_steer_addr_s {
    __u8                    family;      /* KRAKEN_AF_INET or _INET6 */
    __u8                    pad;
    __u16                   port;        /* network byte order */
    __u8                    addr[16];    /* IPv4: the first 4 bytes */
};

/* the value of "addrs" */
struct kraken_steer_peer_s {
    __u32                   index;       /* in "socks" */
    __u32                   slot;        /* the owner, for purging */
};


/* index -> socket; the loader sets max_entries to its max_socks */
struct {
    __uint(type, BPF_MAP_TYPE_REUSEPORT_SOCKARRAY);
    __uint(max_entries, 1);
    __uint(key_size, sizeof(__u32));
    __uint(value_size, sizeof(__u32));
} socks SEC(".maps");

/* worker tag -> index in "socks" + 1; 0 is "no such tag" */
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, KRAKEN_TAGS);
    __type(key, __u32);
    __type(value, __u32);
} tags SEC(".maps");

/* sender -> worker; the loader sets max_entries to its max_addrs */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 1);
    __type(key, struct kraken_steer_addr_s);
    __type(value, struct kraken_steer_peer_s);
} addrs SEC(".maps");


/*
 * A STUN message's USERNAME is "<our ufrag>:<their ufrag>", and our ufrag
 * begins with the tag of the worker that made it: two characters in
 * 'a'..'p', one hexadecimal digit each. Returns 0 when a socket is
 * selected.
 */

static __always_inline int
kraken_steer_by_tag(struct sk_reuseport_md *ctx)
{
    __u8   hdr[8], attr[4], ufrag[2];
    __u32  i, off, end, type, alen, key, *index;

    end = ctx->len;

    if (end < KRAKEN_UDP_HLEN + KRAKEN_STUN_HLEN) {
        return -1;
    }

    if (bpf_skb_load_bytes(ctx, KRAKEN_UDP_HLEN, hdr, sizeof(hdr)) != 0) {
        return -1;
    }

    /* message type's first byte 0x00 or 0x01, then the magic cookie */

    if (hdr[0] > 0x01
        || hdr[4] != 0x21 || hdr[5] != 0x12
        || hdr[6] != 0xa4 || hdr[7] != 0x42)
    {
        return -1;
    }

    /* the attributes end at the message length or the datagram's end */

    off = KRAKEN_UDP_HLEN + KRAKEN_STUN_HLEN;

    if (off + ((__u32) hdr[2] << 8 | hdr[3]) < end) {
        end = off + ((__u32) hdr[2] << 8 | hdr[3]);
    }

    alen = 0;

    for (i = 0; i < KRAKEN_STUN_MAX_ATTRS; i++) {

        if (off + 4 > end) {
            return -1;
        }

        if (bpf_skb_load_bytes(ctx, off, attr, sizeof(attr)) != 0) {
            return -1;
        }

        type = (__u32) attr[0] << 8 | attr[1];
        alen = (__u32) attr[2] << 8 | attr[3];

        if (type == KRAKEN_STUN_USERNAME) {
            break;
        }

        /* off stays below 16 * (4 + 65536): no overflow */
        off += 4 + ((alen + 3) & ~3u);
    }

    if (i == KRAKEN_STUN_MAX_ATTRS) {
        return -1;
    }

    if (alen < 2 || off + 4 + 2 > end) {
        return -1;
    }

    if (bpf_skb_load_bytes(ctx, off + 4, ufrag, sizeof(ufrag)) != 0) {
        return -1;
    }

    if (ufrag[0] < 'a' || ufrag[0] > 'p' || ufrag[1] < 'a' || ufrag[1] > 'p')
    {
        return -1;
    }

    key = (__u32) (ufrag[0] - 'a') * 16 + (ufrag[1] - 'a');

    index = bpf_map_lookup_elem(&tags, &key);
    if (index == NULL || *index == 0) {
        return -1;
    }

    key = *index - 1;

    return bpf_sk_select_reuseport(ctx, &socks, &key, 0) == 0 ? 0 : -1;
}


/* the sender's address and port, as a worker registered it */

static __always_inline int
kraken_steer_by_addr(struct sk_reuseport_md *ctx)
{
    __u32                        key;
    struct kraken_steer_addr_s   addr;
    struct kraken_steer_peer_s  *peer;

    __builtin_memset(&addr, 0, sizeof(addr));

    if (ctx->eth_protocol == bpf_htons(KRAKEN_ETH_P_IP)) {
        addr.family = KRAKEN_AF_INET;

        /* struct iphdr: saddr at 12 */
        if (bpf_skb_load_bytes_relative(ctx, 12, addr.addr, 4,
                                        BPF_HDR_START_NET)
            != 0)
        {
            return -1;
        }

    } else if (ctx->eth_protocol == bpf_htons(KRAKEN_ETH_P_IPV6)) {
        addr.family = KRAKEN_AF_INET6;

        /* struct ipv6hdr: saddr at 8 */
        if (bpf_skb_load_bytes_relative(ctx, 8, addr.addr, 16,
                                        BPF_HDR_START_NET)
            != 0)
        {
            return -1;
        }

    } else {
        return -1;
    }

    /* struct udphdr: source at 0 */
    if (bpf_skb_load_bytes(ctx, 0, &addr.port, sizeof(addr.port)) != 0) {
        return -1;
    }

    peer = bpf_map_lookup_elem(&addrs, &addr);
    if (peer == NULL) {
        return -1;
    }

    key = peer->index;

    return bpf_sk_select_reuseport(ctx, &socks, &key, 0) == 0 ? 0 : -1;
}


SEC("sk_reuseport")
int
kraken_steer(struct sk_reuseport_md *ctx)
{
    if (ctx->ip_protocol != KRAKEN_IPPROTO_UDP) {
        return SK_PASS;
    }

    if (kraken_steer_by_tag(ctx) == 0) {
        return SK_PASS;
    }

    (void) kraken_steer_by_addr(ctx);

    /* selected by address, or not at all: then the kernel's hash picks */

    return SK_PASS;
}


char  _license[] SEC("license") = "Dual BSD/GPL";


/*
 * Copyright (C) ngx_kraken authors
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_kraken_registry_int.h"


/*
 * Client addresses: which slot admitted each, so that a worker that
 * receives another worker's datagram finds its owner. An open-addressing
 * table with linear probing, and deletion by shifting back (no
 * tombstones); the key is the address in a fixed shape, so that hashing
 * and comparing are plain memory operations.
 *
 * Never last writer wins (ngx_kraken_registry_addr_event): an entry
 * names its owner (slot and the slot's epoch), and whether the owner's
 * peer proved the address with its keys. Another worker takes a live
 * entry only with keys over a mere check; only the owner deletes it.
 */


static ngx_int_t ngx_kraken_addr_key(ngx_kraken_addr_entry_t *key,
    struct sockaddr *sa, socklen_t len);
static ngx_uint_t ngx_kraken_addr_hash(ngx_kraken_addr_entry_t *key);
static ngx_int_t ngx_kraken_addr_find_locked(ngx_kraken_addr_entry_t *key,
    ngx_uint_t *index);
static void ngx_kraken_addr_delete_locked(ngx_uint_t i);
static ngx_uint_t ngx_kraken_addr_owner_gone_locked(
    ngx_kraken_addr_entry_t *e);
static ngx_int_t ngx_kraken_addr_claim_locked(ngx_kraken_addr_entry_t *key,
    ngx_int_t rc, ngx_uint_t i);


static time_t  ngx_kraken_addrs_full_logged;


static ngx_int_t
ngx_kraken_addr_key(ngx_kraken_addr_entry_t *key, struct sockaddr *sa,
    socklen_t len)
{
    struct sockaddr_in   *sin;
#if (NGX_HAVE_INET6)
    struct sockaddr_in6  *sin6;
#endif

    ngx_memzero(key, sizeof(ngx_kraken_addr_entry_t));

    switch (sa->sa_family) {

    case AF_INET:
        if (len < sizeof(struct sockaddr_in)) {
            return NGX_DECLINED;
        }

        sin = (struct sockaddr_in *) sa;
        key->family = AF_INET;
        key->port = sin->sin_port;
        ngx_memcpy(key->addr, &sin->sin_addr, 4);
        return NGX_OK;

#if (NGX_HAVE_INET6)
    case AF_INET6:
        if (len < sizeof(struct sockaddr_in6)) {
            return NGX_DECLINED;
        }

        sin6 = (struct sockaddr_in6 *) sa;
        key->family = AF_INET6;
        key->port = sin6->sin6_port;
        ngx_memcpy(key->addr, &sin6->sin6_addr, 16);
        return NGX_OK;
#endif

    default:
        return NGX_DECLINED;
    }
}


static ngx_uint_t
ngx_kraken_addr_hash(ngx_kraken_addr_entry_t *key)
{
    return ngx_crc32_short((u_char *) &key->port,
                           sizeof(ngx_kraken_addr_entry_t)
                           - offsetof(ngx_kraken_addr_entry_t, port))
           & ngx_kraken_sh->addrs_mask;
}


static ngx_int_t
ngx_kraken_addr_find_locked(ngx_kraken_addr_entry_t *key, ngx_uint_t *index)
{
    ngx_uint_t                i;
    ngx_kraken_addr_entry_t  *e;

    for (i = ngx_kraken_addr_hash(key); /* void */ ;
         i = (i + 1) & ngx_kraken_sh->addrs_mask)
    {
        e = &ngx_kraken_sh->addrs[i];

        if (e->slot == 0) {
            *index = i;
            return NGX_DECLINED;
        }

        if (ngx_memcmp(&e->port, &key->port,
                       sizeof(ngx_kraken_addr_entry_t)
                       - offsetof(ngx_kraken_addr_entry_t, port)) == 0)
        {
            *index = i;
            return NGX_OK;
        }
    }
}


/* removes entry i and moves back the entries its removal would hide */

static void
ngx_kraken_addr_delete_locked(ngx_uint_t i)
{
    ngx_uint_t                j, home, mask;
    ngx_kraken_addr_entry_t  *a;

    a = ngx_kraken_sh->addrs;
    mask = ngx_kraken_sh->addrs_mask;

    if (ngx_kraken_sh->slots[a[i].slot - 1].naddrs) {
        ngx_kraken_sh->slots[a[i].slot - 1].naddrs--;
    }

    a[i].slot = 0;
    ngx_kraken_sh->naddrs--;

    for (j = (i + 1) & mask; a[j].slot; j = (j + 1) & mask) {
        home = ngx_kraken_addr_hash(&a[j]);

        /* j may stay unless its home lies cyclically in (i, j] */
        if (((j - home) & mask) < ((j - i) & mask)) {
            continue;
        }

        a[i] = a[j];
        a[j].slot = 0;
        i = j;
    }
}


void
ngx_kraken_addrs_purge_locked(ngx_uint_t slot)
{
    ngx_uint_t  i;

    if (ngx_kraken_sh->addrs == NULL) {
        return;
    }

    for (i = 0; i <= ngx_kraken_sh->addrs_mask; /* void */ ) {
        if (ngx_kraken_sh->addrs[i].slot == slot + 1) {
            /* an entry may have moved into i: look at it again */
            ngx_kraken_addr_delete_locked(i);
            continue;
        }

        i++;
    }
}


/* the owner of e crashed, or left, or its slot has a new holder */

static ngx_uint_t
ngx_kraken_addr_owner_gone_locked(ngx_kraken_addr_entry_t *e)
{
    ngx_kraken_slot_t  *s;

    s = &ngx_kraken_sh->slots[e->slot - 1];

    return (uint32_t) s->epoch != e->epoch || !ngx_kraken_registry_alive(s);
}


/*
 * The engine's addr_event: this worker's engine admitted sa with a check
 * (KRAKEN_ADDR_CHECKED), its peer's keys proved it (KRAKEN_ADDR_PROVEN),
 * or it forgot it. The table, and the eBPF map when maps is not NULL
 * (written here, under the same lock, so that both say the same), change
 * only so:
 *
 *   - a free address, or one whose owner is gone, is ours;
 *   - our own entry is updated (proven stays proven);
 *   - a live entry of another worker is taken only by PROVEN over an
 *     entry that is not proven: a check (anyone's, from a spoofed
 *     address) never wins over another worker's peer, and keys never
 *     over keys. Otherwise the claim is refused: NGX_DECLINED;
 *   - FORGOTTEN deletes the entry only when it is ours.
 *
 * With the table full, the map alone is written, never over another's.
 */

ngx_int_t
ngx_kraken_registry_addr_event(const struct sockaddr *sa, socklen_t len,
    int event, kraken_bpf_t *maps, ngx_uint_t index)
{
    ngx_int_t                 rc, verdict;
    ngx_uint_t                i, full;
    ngx_kraken_addr_entry_t   key, *e;

    if (ngx_kraken_sh == NULL || ngx_kraken_self_slot >= NGX_KRAKEN_MAX_SLOTS
        || ngx_kraken_addr_key(&key, (struct sockaddr *) sa, len) != NGX_OK)
    {
        return NGX_OK;
    }

    verdict = NGX_OK;

    key.slot = (uint16_t) (ngx_kraken_self_slot + 1);
    key.epoch = (uint32_t) ngx_kraken_sh->slots[ngx_kraken_self_slot].epoch;
    key.proven = (event == KRAKEN_ADDR_PROVEN);
    full = 0;

    ngx_shmtx_lock(&ngx_kraken_shpool->mutex);

    rc = ngx_kraken_addr_find_locked(&key, &i);

    if (event == KRAKEN_ADDR_FORGOTTEN) {
        e = &ngx_kraken_sh->addrs[i];

        if (rc == NGX_OK && e->slot == key.slot && e->epoch == key.epoch) {
            ngx_kraken_addr_delete_locked(i);
        }

        if (maps) {
            /* ours only, also one made while the table was full */
            (void) kraken_bpf_del_addr(maps, sa,
                                       (unsigned) ngx_kraken_self_slot);
        }

        goto done;
    }

    verdict = ngx_kraken_addr_claim_locked(&key, rc, i);

    if (verdict == NGX_BUSY) {
        full = 1;
        verdict = NGX_OK;

        /* nothing here knows the owner: the map alone, never over another */
        if (maps
            && kraken_bpf_add_addr(maps, sa, (unsigned) index,
                                   (unsigned) ngx_kraken_self_slot)
               != 0
            && ngx_errno == EEXIST)
        {
            verdict = NGX_DECLINED;
        }

    } else if (verdict == NGX_OK
               && maps
               && kraken_bpf_take_addr(maps, sa, (unsigned) index,
                                       (unsigned) ngx_kraken_self_slot)
                  != 0)
    {
        /* the table says it is ours: so does the map, whatever it had */
        ngx_log_debug0(NGX_LOG_DEBUG_EVENT, ngx_cycle->log, ngx_errno,
                       "kraken: eBPF address map full");
    }

done:

    ngx_shmtx_unlock(&ngx_kraken_shpool->mutex);

    if (full
        && ngx_time() - ngx_kraken_addrs_full_logged >= NGX_KRAKEN_FULL_LOG)
    {
        ngx_kraken_addrs_full_logged = ngx_time();
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "kraken: the table of client addresses is full "
                      "(%ui); raise kraken_shm_size",
                      ngx_kraken_sh->naddrs);
    }

    return verdict;
}


/*
 * The table's part of a claim: key was found at i (rc NGX_OK), or i is
 * the free entry where it goes. NGX_OK: the entry is ours now;
 * NGX_DECLINED: another worker's live entry stands; NGX_BUSY: the table
 * is full.
 */

static ngx_int_t
ngx_kraken_addr_claim_locked(ngx_kraken_addr_entry_t *key, ngx_int_t rc,
    ngx_uint_t i)
{
    ngx_kraken_slot_t        *me;
    ngx_kraken_addr_entry_t  *e;

    me = &ngx_kraken_sh->slots[key->slot - 1];
    e = &ngx_kraken_sh->addrs[i];

    if (rc == NGX_OK) {

        if (e->slot == key->slot && e->epoch == key->epoch) {
            e->proven |= key->proven;
            return NGX_OK;
        }

        if (ngx_kraken_addr_owner_gone_locked(e)
            || (key->proven && !e->proven))
        {
            if (ngx_kraken_sh->slots[e->slot - 1].naddrs) {
                ngx_kraken_sh->slots[e->slot - 1].naddrs--;
            }

            e->slot = key->slot;
            e->epoch = key->epoch;
            e->proven = key->proven;
            me->naddrs++;

            return NGX_OK;
        }

        ngx_log_debug1(NGX_LOG_DEBUG_EVENT, ngx_cycle->log, 0,
                       "kraken: a client address of worker slot %ui "
                       "is not taken", (ngx_uint_t) e->slot - 1);

        return NGX_DECLINED;
    }

    if (ngx_kraken_sh->naddrs
        >= ngx_kraken_sh->addrs_mask - ngx_kraken_sh->addrs_mask / 4)
    {
        return NGX_BUSY;
    }

    *e = *key;
    ngx_kraken_sh->naddrs++;
    me->naddrs++;

    return NGX_OK;
}




/* The slot that admitted sa: NGX_OK, or NGX_DECLINED when none did. */

ngx_int_t
ngx_kraken_registry_addr_owner(struct sockaddr *sa, socklen_t len,
    ngx_uint_t *slot)
{
    ngx_int_t                 rc;
    ngx_uint_t                i;
    ngx_kraken_addr_entry_t   key;

    if (ngx_kraken_sh == NULL
        || ngx_kraken_addr_key(&key, sa, len) != NGX_OK)
    {
        return NGX_DECLINED;
    }

    ngx_shmtx_lock(&ngx_kraken_shpool->mutex);

    rc = ngx_kraken_addr_find_locked(&key, &i);
    if (rc == NGX_OK) {
        *slot = ngx_kraken_sh->addrs[i].slot - 1;
    }

    ngx_shmtx_unlock(&ngx_kraken_shpool->mutex);

    return rc;
}

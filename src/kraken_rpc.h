/*
 * Kraken's JSON-RPC: the envelope, the per-method parameter checks and
 * the rendering of results and errors. Plain C, no nginx headers.
 */

#ifndef KRAKEN_RPC_H
#define KRAKEN_RPC_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cJSON.h>

#include "kraken_engine.h"
#include "kraken_url.h"

typedef struct {
    kraken_engine_t  *engine;
    const char       *turn_url;         /* NULL or "": turn returns [] */
    const char       *turn_secret;
    time_t            now;              /* wall clock, for turn and info */
    uint64_t          now_ms;           /* monotonic, for the engine */

    /*
     * info []: fills the engine state object, with where rooms live
     * (room ids, pids, ports) only when details is set. NULL: this
     * engine's own stats. Set by the glue when several workers share the
     * answer.
     */
    void            (*info)(void *data, cJSON *state, int details);
    void             *info_data;
    int               info_details;     /* kraken_info_details on */

    /*
     * A publish's non-empty callback goes to the engine (its conf.ontrack
     * makes the request) only when set, else it is 5001000: the glue
     * sets it where it runs the requests, as every call reaching
     * kraken_rpc_handle() passed kraken_rpc_callback() in the worker
     * that accepted it.
     */
    int               callbacks;

    /* kraken_rpc_callback()'s own: the allowlist, and the outcome */
    const kraken_url_t  *allow;
    size_t            nallow;
    int               screen;           /* publish stops after its checks */
    int               screened;         /* ... and they passed */
} kraken_rpc_ctx_t;


/*
 * Handles one request body. Returns the HTTP status: 200 with a Kraken
 * envelope, or 400 with {"error": "..."} for a body that is not a call.
 * *out is a malloc()ed, NUL-terminated JSON text.
 */
int kraken_rpc_handle(kraken_rpc_ctx_t *ctx, const char *body, size_t len,
    char **out, size_t *outlen);

/*
 * The room a call addresses (params[0] of publish, subscribe, answer,
 * trickle, restart, end, list), for routing it to the room's owner.
 * Returns 0 with room set, or -1 when the call has no room or is not a
 * well-formed call (then any worker may answer it).
 */
int kraken_rpc_room(const char *body, size_t len, char *room, size_t cap);

/*
 * The uid binding (kraken_uid_bind): a call whose uid (params[1] of
 * publish, subscribe, answer, trickle, restart, end; params[0] of turn)
 * is a string other than the caller's identity (len bytes; empty: no
 * identity) is refused. Returns 0 when the call may run, else the HTTP
 * status of the refusal, 5001000 in *out (malloc()ed). Bodies that are
 * not calls, and uids that are not strings, are left to
 * kraken_rpc_handle().
 */
int kraken_rpc_bound(const char *body, size_t len, const char *identity,
    size_t identity_len, char **out, size_t *outlen);

/*
 * The callback allowlist (kraken_callback_allow): a publish whose
 * callback (params[4]) is a non-empty string not under one of the n
 * prefixes (none: any) is refused with 5001000, in the order of Kraken's
 * checks (a bad limit is still reported as such). Returns 0 when the
 * call may run, else the HTTP status of the refusal, its envelope in
 * *out (malloc()ed). Like kraken_rpc_bound(), checked by the worker that
 * accepted the call, before it is forwarded.
 */
int kraken_rpc_callback(const char *body, size_t len,
    const kraken_url_t *allow, size_t n, char **out, size_t *outlen);

/*
 * A Kraken error envelope for a call that could not run (e.g. its room's
 * worker did not answer), echoing the call's id. Returns 200.
 */
int kraken_rpc_error(const char *body, size_t len, int code,
    const char *description, char **out, size_t *outlen);

/*
 * The envelope of an answer nginx itself made with HTTP status (400-599,
 * else 500; see kraken_error_http): {"id","error":{"status","code",
 * "description"}}, the id taken from body when body (NULL: none) is a
 * call that has one. code 0: the status's; KRAKEN_ERR_PEER_NOT_FOUND: a
 * front's 404 from the engines, "room not found" (never which engine).
 * 0, or -1 out of memory (*out NULL). *out is freed with free().
 */
int kraken_rpc_http_error(const char *body, size_t len, int status,
    int code, char **out, size_t *outlen);


#endif /* KRAKEN_RPC_H */

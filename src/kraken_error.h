/*
 * Kraken's error codes: part of the JSON-RPC contract.
 */

#ifndef KRAKEN_ERROR_H
#define KRAKEN_ERROR_H

#define KRAKEN_OK                          0
#define KRAKEN_ERR_INVALID_PARAMS          5001000
#define KRAKEN_ERR_INVALID_SDP             5001001
#define KRAKEN_ERR_INVALID_CANDIDATE       5001002
#define KRAKEN_ERR_ROOM_FULL               5002000
#define KRAKEN_ERR_PEER_NOT_FOUND          5002001
#define KRAKEN_ERR_PEER_CLOSED             5002002
#define KRAKEN_ERR_TRACK_NOT_FOUND         5002003
#define KRAKEN_ERR_SERVER_NEW_PEER         5003000
#define KRAKEN_ERR_SERVER_CREATE_OFFER     5003001
#define KRAKEN_ERR_SERVER_SET_LOCAL_OFFER  5003002
#define KRAKEN_ERR_SERVER_NEW_TRACK        5003003
#define KRAKEN_ERR_SERVER_ADD_TRANSCEIVER  5003004
#define KRAKEN_ERR_SERVER_SET_REMOTE_OFFER 5003005
#define KRAKEN_ERR_SERVER_CREATE_ANSWER    5003006
#define KRAKEN_ERR_SERVER_SET_LOCAL_ANSWER 5003007
#define KRAKEN_ERR_SERVER_SET_REMOTE_ANSWER 5003008
#define KRAKEN_ERR_SERVER_TIMEOUT          5003999

/*
 * An answer nginx itself made on a Kraken location (a request it refused
 * before or around the call: 400, 413, 429 from limit_req or limit_conn,
 * 500, and 502 or 504 on a front): 5001SSS for a 4xx, 5003SSS for a 5xx,
 * SSS being the HTTP status, which is also the envelope's status.
 */
#define KRAKEN_ERR_HTTP_CLIENT             5001000   /* + 4xx */
#define KRAKEN_ERR_HTTP_SERVER             5003000   /* + 5xx */
#define KRAKEN_ERR_TOO_MANY_REQUESTS       5001429


typedef struct {
    int   code;                 /* KRAKEN_OK or a code above */
    char  description[256];
} kraken_error_t;


/* Sets err and returns code, printf style. */
int kraken_error_set(kraken_error_t *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * 202 for client errors, 500 for 5003xxx, as Kraken; the HTTP status
 * itself for the code of an answer nginx made (5001400-5001499,
 * 5003500-5003599).
 */
int kraken_error_status(int code);

/*
 * The code of an answer nginx made with HTTP status (400-599), and what
 * it tells the client; 0 and NULL for another status.
 */
int kraken_error_http(int status);
const char *kraken_error_http_description(int status);

#endif /* KRAKEN_ERROR_H */

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


typedef struct {
    int   code;                 /* KRAKEN_OK or a code above */
    char  description[256];
} kraken_error_t;


/* Sets err and returns code, printf style. */
int kraken_error_set(kraken_error_t *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* 202 for client errors, 500 for 5003xxx, as Kraken. */
int kraken_error_status(int code);

#endif /* KRAKEN_ERROR_H */

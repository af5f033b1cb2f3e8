/*
 * libsrtp2 crypto on OpenSSL: AES-ICM-128, AES-GCM-128 and HMAC-SHA1 types
 * for srtp_replace_cipher_type() / srtp_replace_auth_type().
 *
 * Debian's libsrtp2 does its crypto through NSS and PKCS#11, which sets up
 * a context and takes locks for every packet; these types key an OpenSSL
 * context once per session key and reuse it for every packet, without
 * allocating. libsrtp keeps everything else (key derivation, replay, ROC,
 * SRTCP). Plain C, no nginx headers.
 */

#ifndef KRAKEN_SRTP_EVP_H
#define KRAKEN_SRTP_EVP_H

#include <srtp2/auth.h>
#include <srtp2/cipher.h>


extern const srtp_cipher_type_t  kraken_srtp_evp_aes_icm_128;
extern const srtp_cipher_type_t  kraken_srtp_evp_aes_gcm_128;
extern const srtp_auth_type_t    kraken_srtp_evp_hmac_sha1;

/*
 * After srtp_init(): replaces libsrtp's AES-ICM-128, AES-GCM-128 and
 * HMAC-SHA1, each after libsrtp's self tests passed. Sessions created
 * before keep the types they were created with. Returns 0 or -1.
 */
int kraken_srtp_evp_install(void);

#endif /* KRAKEN_SRTP_EVP_H */

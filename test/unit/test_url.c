/*
 * Callback urls against the operator's prefixes: parsed, then compared
 * part by part, so that no spelling of another host, port or path passes
 * for one under a prefix.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "kraken_url.h"


static int
parse(const char *s, kraken_url_t *u)
{
    char  err[64];

    return kraken_url_parse(s, strlen(s), u, err, sizeof(err));
}


/* Is url under prefix? -1: the url does not parse. */

static int
under(const char *url, const char *prefix)
{
    kraken_url_t  u, p;

    assert_int_equal(parse(prefix, &p), 0);

    if (parse(url, &u) != 0) {
        return -1;
    }

    return kraken_url_under(&u, &p);
}


static void
test_a_url_is_split_into_host_port_and_path(void **state)
{
    kraken_url_t  u;

    assert_int_equal(parse("https://App.Example:8443/a/b?x=1", &u), 0);
    assert_string_equal(u.host, "app.example");
    assert_int_equal(u.port, 8443);
    assert_string_equal(u.path, "/a/b");

    assert_int_equal(parse("https://127.0.0.1", &u), 0);
    assert_string_equal(u.host, "127.0.0.1");
    assert_int_equal(u.port, 443);
    assert_string_equal(u.path, "/");

    assert_int_equal(parse("https://[0:0::1]:9/", &u), 0);
    assert_string_equal(u.host, "::1");
    assert_int_equal(u.ipv6, 1);
    assert_int_equal(u.port, 9);
}


static void
test_urls_that_could_mislead_a_comparison_do_not_parse(void **state)
{
    size_t        i;
    kraken_url_t  u;
    const char   *bad[] = {
        "http://app.example/",
        "ftp://app.example/",
        "https://",
        "https://:443/",
        "https://app.example@evil.example/",
        "https://user:pw@app.example/",
        "https://app.example/a#frag",
        "https://app.example\\@evil.example/",
        "https://app.example /",
        "https://app.example/a b",
        "https://app.example/\x7f",
        "https://app.example/\xc3\xa9",
        "https://app.example:/",
        "https://app.example:0/",
        "https://app.example:65536/",
        "https://app.example:+443/",
        "https://app.example:44a/",
        "https://app.example./",
        "https://.app.example/",
        "https://app..example/",
        "https://app_example/",
        "https://app%2eexample/",
        "https://[::1/",
        "https://[not:an:address]/",
        "https://app.example/kraken/../admin",
        "https://app.example/kraken/./x",
        "https://app.example/kraken/..",
        "https://app.example/kraken/%2e%2e/admin",
        "https://app.example/kraken/%2E./admin",
        "https://app.example/kraken%2fadmin",
        "https://app.example/kraken%5cadmin",
        "https://app.example/kraken/..;/admin",
        "https://app.example/kraken/..;x=1/admin",
        "https://app.example/kraken;/../admin",
        "https://app.example/kraken/x;jsessionid=1",
        "https://app.example/kraken/..%3b/admin",
        "https://app.example/kraken/..%3B/admin",
        "https://app.example/kraken/%252e%252e/admin",
        "https://app.example/kraken/%25",
        "https://app.example/kraken/%%32e%%32e/admin",
        "https://app.example/kraken/%2%65%2%65/admin",
        "https://app.example/kraken/%",
        "https://app.example/kraken/%4",
        "https://app.example/kraken/%zz",
    };

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (parse(bad[i], &u) == 0) {
            print_error("parsed: %s\n", bad[i]);
            fail();
        }
    }

    /* percent-encoding otherwise, and ";" in the query, are plain */
    assert_int_equal(parse("https://app.example/a%20b%7E?x=1;y=%25", &u), 0);
    assert_string_equal(u.path, "/a%20b%7E");

    /* a query right after the host is no path */
    assert_int_equal(parse("https://app.example?x=1/", &u), 0);
    assert_string_equal(u.path, "/");
}


static void
test_only_the_same_host_and_port_and_a_path_under_the_prefix_pass(
    void **state)
{
    const char  *p = "https://app.example/kraken/";

    assert_int_equal(under("https://app.example/kraken/ontrack", p), 1);
    assert_int_equal(under("https://APP.example:443/kraken/x?t=1", p), 1);
    assert_int_equal(under("https://app.example/kraken/", p), 1);
    assert_int_equal(under("https://app.example/kraken", p), 0);
    assert_int_equal(under("https://app.example/krakenx/", p), 0);
    assert_int_equal(under("https://app.example/other", p), 0);
    assert_int_equal(under("https://app.example:8443/kraken/x", p), 0);
    assert_int_equal(under("https://app.example.evil/kraken/x", p), 0);
    assert_int_equal(under("https://evil.app.example/kraken/x", p), 0);
    assert_int_equal(under("https://app.example/kraken/../x", p), -1);

    /* a prefix without a trailing slash ends at a segment */
    p = "https://app.example/kraken";
    assert_int_equal(under("https://app.example/kraken", p), 1);
    assert_int_equal(under("https://app.example/kraken/x", p), 1);
    assert_int_equal(under("https://app.example/kraken?x", p), 1);
    assert_int_equal(under("https://app.example/krakenevil", p), 0);

    /* a bare host allows its every path */
    p = "https://127.0.0.1:8443";
    assert_int_equal(under("https://127.0.0.1:8443/any/thing", p), 1);
    assert_int_equal(under("https://127.0.0.1:8443", p), 1);
    assert_int_equal(under("https://127.0.0.1/any", p), 0);
    assert_int_equal(under("https://127.0.0.2:8443/any", p), 0);
    assert_int_equal(under("https://127.1:8443/any", p), 0);

    p = "https://[::1]:8443/cb";
    assert_int_equal(under("https://[0::1]:8443/cb", p), 1);
    assert_int_equal(under("https://[::2]:8443/cb", p), 0);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_a_url_is_split_into_host_port_and_path),
        cmocka_unit_test(
            test_urls_that_could_mislead_a_comparison_do_not_parse),
        cmocka_unit_test(
            test_only_the_same_host_and_port_and_a_path_under_the_prefix_pass),
    };

    return cmocka_run_group_tests_name("url", tests, NULL, NULL);
}

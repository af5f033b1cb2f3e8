
/*
 * Copyright (C) ngx_kraken authors
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_kraken_cluster.h"


/*
 * The values of the cluster protocol's headers (ngx_kraken_cluster.h
 * gives their grammar), read and written. Pure functions on bytes: the
 * front's balancer and the engine's placement both call them, so that
 * the two ends cannot read one grammar two ways.
 */


static void ngx_kraken_cluster_trim(ngx_str_t *s);
static ngx_int_t ngx_kraken_cluster_place_option(ngx_str_t *part,
    ngx_kraken_cluster_place_t *place);


ngx_int_t
ngx_kraken_cluster_name_ok(ngx_str_t *name)
{
    u_char  *p;

    if (name->len == 0 || name->len > NGX_KRAKEN_CLUSTER_NAME_LEN) {
        return NGX_DECLINED;
    }

    for (p = name->data; p < name->data + name->len; p++) {
        if (*p <= ' ' || *p >= 0x7f || *p == '"' || *p == '\\' || *p == ','
            || *p == ';')
        {
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


/* X-Kraken-Place: "CHOICE[; down=A,B,...][; ask]" */

ngx_int_t
ngx_kraken_cluster_place_parse(ngx_str_t *value,
    ngx_kraken_cluster_place_t *place)
{
    u_char     *p, *last, *end;
    ngx_str_t   part;
    ngx_uint_t  first;

    place->ndown = 0;
    place->ask = 0;
    first = 1;

    p = value->data;
    last = p + value->len;

    while (p < last) {

        /* ";"-separated parts: the choice, then parameters */
        end = ngx_strlchr(p, last, ';');
        if (end == NULL) {
            end = last;
        }

        part.data = p;
        part.len = end - p;
        p = (end < last) ? end + 1 : last;

        ngx_kraken_cluster_trim(&part);

        if (first) {
            first = 0;

            if (ngx_kraken_cluster_name_ok(&part) != NGX_OK) {
                return NGX_DECLINED;
            }

            place->choice = part;
            continue;
        }

        if (ngx_kraken_cluster_place_option(&part, place) != NGX_OK) {
            return NGX_DECLINED;
        }
    }

    return first ? NGX_DECLINED : NGX_OK;
}


/* a parameter after CHOICE: "ask", "down=A, B, ...", or ignored */

static ngx_int_t
ngx_kraken_cluster_place_option(ngx_str_t *part,
    ngx_kraken_cluster_place_t *place)
{
    u_char     *end;
    ngx_str_t   name;

    if (part->len == 3
        && ngx_strncasecmp(part->data, (u_char *) "ask", 3) == 0)
    {
        place->ask = 1;
        return NGX_OK;
    }

    if (part->len < 5
        || ngx_strncasecmp(part->data, (u_char *) "down=", 5) != 0)
    {
        return NGX_OK;
    }

    part->data += 5;
    part->len -= 5;

    /* names of engines the front sees down */
    while (part->len) {
        end = ngx_strlchr(part->data, part->data + part->len, ',');
        if (end == NULL) {
            end = part->data + part->len;
        }

        name.data = part->data;
        name.len = end - part->data;
        part->len -= name.len + (end < part->data + part->len);
        part->data = end + 1;

        ngx_kraken_cluster_trim(&name);

        if (ngx_kraken_cluster_name_ok(&name) != NGX_OK) {
            return NGX_DECLINED;
        }

        if (place->ndown < NGX_KRAKEN_CLUSTER_DOWN_MAX) {
            place->down[place->ndown++] = name;
        }
    }

    return NGX_OK;
}


static void
ngx_kraken_cluster_trim(ngx_str_t *s)
{
    while (s->len && (s->data[0] == ' ' || s->data[0] == '\t')) {
        s->data++;
        s->len--;
    }

    while (s->len
           && (s->data[s->len - 1] == ' ' || s->data[s->len - 1] == '\t'))
    {
        s->len--;
    }
}


void
ngx_kraken_cluster_place_start(ngx_kraken_cluster_place_out_t *out,
    u_char *buf, size_t len, ngx_str_t *choice)
{
    out->pos = buf;
    out->last = buf + len;
    out->ndown = 0;

    if (choice && choice->len <= NGX_KRAKEN_CLUSTER_NAME_LEN
        && choice->len <= len)
    {
        out->pos = ngx_cpymem(out->pos, choice->data, choice->len);
    }
}


/* a list too long for the header says less, never something else */

ngx_int_t
ngx_kraken_cluster_place_down(ngx_kraken_cluster_place_out_t *out,
    ngx_str_t *name)
{
    u_char  *p;

    p = out->pos;

    if ((size_t) (out->last - p) < name->len + sizeof("; down=")) {
        return NGX_DECLINED;
    }

    p = out->ndown ? ngx_cpymem(p, ",", 1) : ngx_cpymem(p, "; down=", 7);
    out->pos = ngx_cpymem(p, name->data, name->len);
    out->ndown++;

    return NGX_OK;
}


void
ngx_kraken_cluster_place_end(ngx_kraken_cluster_place_out_t *out,
    ngx_uint_t ask)
{
    if (ask && out->last - out->pos >= 5) {
        out->pos = ngx_cpymem(out->pos, "; ask", 5);
    }

    ngx_memset(out->pos, ' ', out->last - out->pos);
    out->pos = out->last;
}


u_char *
ngx_kraken_cluster_place_find(u_char *start, u_char *last)
{
    u_char  *p;

    /* ngx_strlcasestrn() wants the name lower case, less its last byte */
    static u_char  name[] = "\nx-kraken-place:";

    p = ngx_strlcasestrn(start, last, name, sizeof(name) - 1 - 1);
    if (p == NULL) {
        return NULL;
    }

    for (p += sizeof(name) - 1; p < last && *p == ' '; p++) {
        /* void */
    }

    return p;
}


ngx_int_t
ngx_kraken_cluster_owner_parse(ngx_str_t *value, ngx_str_t *name)
{
    if (ngx_kraken_cluster_name_ok(value) != NGX_OK) {
        return NGX_DECLINED;
    }

    *name = *value;

    return NGX_OK;
}


/* X-Kraken-Load: "cpu=C; peers=P; peers_max=PM; rooms=R; rooms_max=RM..." */

void
ngx_kraken_cluster_load_parse(ngx_str_t *value,
    ngx_kraken_cluster_load_t *load)
{
    u_char     *p, *last, *eq, *end;
    size_t      len;
    ngx_int_t   n;

    ngx_memzero(load, sizeof(ngx_kraken_cluster_load_t));

    p = value->data;
    last = p + value->len;

    while (p < last) {
        while (p < last && (*p == ' ' || *p == ';')) {
            p++;
        }

        end = p;
        while (end < last && *end != ';') {
            end++;
        }

        eq = ngx_strlchr(p, end, '=');

        if (eq) {
            n = ngx_atoi(eq + 1, end - eq - 1);
            len = eq - p;

            if (n < 0) {
                /* not a number: ignored */

            } else if (len == 3 && ngx_strncmp(p, "cpu", 3) == 0) {
                load->cpu = n;

            } else if (len == 5 && ngx_strncmp(p, "peers", 5) == 0) {
                load->peers = n;

            } else if (len == 9 && ngx_strncmp(p, "peers_max", 9) == 0) {
                load->peers_max = n;

            } else if (len == 5 && ngx_strncmp(p, "rooms", 5) == 0) {
                load->rooms = n;

            } else if (len == 9 && ngx_strncmp(p, "rooms_max", 9) == 0) {
                load->rooms_max = n;

            } else if (len == 3 && ngx_strncmp(p, "pps", 3) == 0) {
                load->pps = n;
            }
        }

        p = end;
    }
}


u_char *
ngx_kraken_cluster_load_write(u_char *p, ngx_kraken_cluster_load_t *load)
{
    return ngx_sprintf(p, "cpu=%ui; peers=%ui; peers_max=%ui; "
                          "rooms=%ui; rooms_max=%ui; pps=%ui",
                       load->cpu, load->peers, load->peers_max,
                       load->rooms, load->rooms_max, load->pps);
}


ngx_int_t
ngx_kraken_cluster_busy_parse(u_char *p, u_char *last, ngx_str_t *what)
{
    u_char  *start;

    static u_char  busy[] = ",\"description\":\"server busy: ";

    if ((size_t) (last - p) < sizeof(busy) - 1
        || ngx_strncmp(p, busy, sizeof(busy) - 1) != 0)
    {
        return NGX_DECLINED;
    }

    start = p + sizeof(busy) - 1;

    for (p = start;
         p < last && p - start < NGX_KRAKEN_CLUSTER_BUSY_LEN;
         p++)
    {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')
              || *p == ' '))
        {
            break;
        }
    }

    if (p == start || p == last || *p != '"') {
        return NGX_DECLINED;
    }

    what->data = start;
    what->len = p - start;

    return NGX_OK;
}


u_char *
ngx_kraken_cluster_worker_write(u_char *p, ngx_uint_t worker,
    ngx_uint_t forwarded)
{
    return ngx_sprintf(p, "%ui%s", worker, forwarded ? " forwarded" : "");
}


u_char *
ngx_kraken_cluster_code_write(u_char *p, ngx_uint_t code)
{
    return ngx_sprintf(p, "%ui", code);
}


ngx_uint_t
ngx_kraken_cluster_header(ngx_str_t *key)
{
    return key->len >= sizeof(NGX_KRAKEN_HEADER_PREFIX) - 1
           && ngx_strncasecmp(key->data, (u_char *) NGX_KRAKEN_HEADER_PREFIX,
                              sizeof(NGX_KRAKEN_HEADER_PREFIX) - 1) == 0;
}

/*
 * libFuzzer target for DNS MX answers (core/src/preflight/dnsmx.c: our
 * checks on top of libresolv's ns_initparse/ns_parserr/dn_expand).
 *
 * The input is a DNS message; its own first two bytes are used as the
 * expected id so that the fuzzer gets past the header check. It is parsed
 * as the answer for "example.test" and for "high.test" (the names of the
 * corpus). Invariants, any violation aborts:
 *   - a failed parse leaves the output untouched;
 *   - a successful one keeps at most MF_DNS_MX_MAX records, every text
 *     NUL-terminated inside its buffer;
 *   - every exchange and the owner re-encode as a name (ns_name_pton:
 *     the text form is faithful, escapes round-trip, 255 octets at most).
 */
#include <arpa/nameser.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mailferry/preflight.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_name(const char *s, size_t cap) {
    uint8_t wire[NS_MAXCDNAME];

    if (memchr(s, '\0', cap) == NULL)
        abort();
    if (ns_name_pton(s, wire, sizeof(wire)) < 0)
        abort();
}

static void
one(const uint8_t *data, size_t size, const char *qname) {
    struct mf_dns_mx_answer *a = malloc(sizeof(*a));
    struct mf_error err = {0};
    uint16_t id = size >= 2 ? (uint16_t)(data[0] << 8 | data[1]) : 0;

    memset(a, 0xa5, sizeof(*a));
    if (mf_dns_parse_mx(data, size, id, qname, a, &err) != MF_E_OK) {
        const uint8_t *p = (const uint8_t *)a;
        for (size_t i = 0; i < sizeof(*a); i++)
            if (p[i] != 0xa5)
                abort();
    } else {
        if (a->count > MF_DNS_MX_MAX)
            abort();
        check_name(a->owner, sizeof(a->owner));
        for (size_t i = 0; i < a->count; i++)
            check_name(a->mx[i].exchange, sizeof(a->mx[i].exchange));
    }
    free(a);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    one(data, size, "example.test");
    one(data, size, "high.test");
    return 0;
}

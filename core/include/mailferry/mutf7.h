/*
 * Modified UTF-7 (RFC 3501 section 5.1.3), the encoding of IMAP mailbox
 * names: printable US-ASCII stands for itself except "&", which is "&-";
 * everything else is UTF-16 in a modified BASE64 ("," instead of "/", no
 * padding) between "&" and "-".
 *
 * Both directions are strict, so that a name decoded from one server and
 * encoded for another arrives unchanged, and a broken name is reported
 * rather than copied as garbage.
 */
#ifndef MAILFERRY_MUTF7_H
#define MAILFERRY_MUTF7_H

#include "mailferry/err.h"
#include "mailferry/util.h"

/* Decodes the modified UTF-7 name in (NUL-terminated) and appends its
 * UTF-8 form to utf8_out. Returns MF_E_OK, or MF_E_IMAP_BAD_MUTF7 when in
 * is not valid modified UTF-7: a byte outside printable US-ASCII, a bad
 * BASE64 character, an "&" without its "-", leftover bits that are not
 * zero or make up a whole BASE64 character, a BASE64 run that encodes a
 * printable US-ASCII character or U+0000, or an unpaired UTF-16
 * surrogate. On error utf8_out is left as it was and, if err is not NULL,
 * err says what and where. Adjacent BASE64 runs ("&AOQ-&APY-") are
 * accepted, although an encoder would have merged them. */
MF_WARN_UNUSED mf_err mf_mutf7_decode(const char *in, struct mf_buf *utf8_out,
                                      struct mf_error *err);

/* Encodes the UTF-8 name utf8 (NUL-terminated) and appends its modified
 * UTF-7 form to out. Returns MF_E_OK, or MF_E_IMAP_BAD_MUTF7 when utf8 is
 * not valid UTF-8 (overlong forms, surrogates, code points past U+10FFFF,
 * truncated sequences); then out is left as it was and err (if not NULL)
 * says where. */
MF_WARN_UNUSED mf_err mf_mutf7_encode(const char *utf8, struct mf_buf *out,
                                      struct mf_error *err);

#endif

/* models/logtok.h — splitting a log message into tokens and masking the
 * variable parts (numbers, ids, addresses, paths, times).
 *
 * Why: a log line is a constant template with variables filled in, and
 * both the template miner (drain.h) and the category classifier
 * (logclass.h) work better when the obvious variables are replaced by a
 * typed placeholder before they see the line: "PacketResponder 1 for block
 * blk_-695" and "PacketResponder 0 for block blk_38" become the same
 * "PacketResponder <NUM> for block <ID>". Masking is by shape, not by
 * system: one set of rules for every log.
 *
 * Tokens are runs of non-blank bytes. Inside a token, the pieces between
 * the delimiters  = , ; ( ) [ ] { } " ' < >  are masked one by one, so
 * "rhost=218.188.2.4" becomes "rhost=<IP>" and "(uid=0)" "(uid=<NUM>)". A
 * piece (with trailing ':' or '.' set aside) is masked as
 *   <IP>    IPv4, optionally with a leading '/' and a ":port"
 *   <UUID>  8-4-4-4-12 hex digits
 *   <HEX>   0x followed by hex digits; or 8+ hex digits holding a digit
 *   <TIME>  12:34:56[.,]789, 12:34, 2017-05-16[T12:34:56...], 17/06/09,
 *           2005.06.03, and the day and month names Mon..Sun, Jan..Dec
 *           (capitalised, as dates print them)
 *   <NUM>   [+-]digits[.digits...] with an optional unit of up to 3
 *           letters or '%' (10, -1, 0.25, 3200ms, 64MB, 95%)
 *   <PATH>  starts with '/' (or "./", "~/") and holds another '/'; a URL
 *           (scheme://...); or any piece with a '/' and a digit. A path
 *           runs to the end of its token, delimiters and all (a query
 *           string), less closing punctuation
 *   <HOST>  a lowercase dotted name ending in a common top-level domain
 *           (csnsu.nsuok.edu, ip-10-0-0-1.ec2.internal)
 *   <ID>    any other piece holding a digit (blk_-123, core.2275,
 *           appattempt_1445_0020_000001, R02-M1-N0-C:J12-U11)
 * so after masking no token holds a digit outside a placeholder.
 *
 * Allocation-free: the result lives in a caller-provided struct, reused
 * line after line. Pure computation, no global state, thread-safe. */
#ifndef PW_MODELS_LOGTOK_H
#define PW_MODELS_LOGTOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PW_LOGTOK_MAX_TOKENS 256
#define PW_LOGTOK_MAX_BYTES 4096   /* masked text kept per line */

enum pw_logtok_kind {
    PW_LOGTOK_NUM,
    PW_LOGTOK_HEX,
    PW_LOGTOK_IP,
    PW_LOGTOK_PATH,
    PW_LOGTOK_UUID,
    PW_LOGTOK_TIME,
    PW_LOGTOK_ID,
    PW_LOGTOK_HOST,
    PW_LOGTOK_NKINDS
};

/* Token flags. */
#define PW_LOGTOK_VAR   1u   /* holds at least one placeholder */
#define PW_LOGTOK_WHOLE 2u   /* placeholders and delimiters only: "<IP>",
                                "(<HOST>)", "<IP>,<IP>" — a variable as a
                                whole */

struct pw_logtok_line {
    size_t n;                                 /* tokens */
    uint16_t off[PW_LOGTOK_MAX_TOKENS];       /* token i is text + off[i] */
    uint16_t len[PW_LOGTOK_MAX_TOKENS];       /* ... of len[i] bytes */
    uint8_t flags[PW_LOGTOK_MAX_TOKENS];
    size_t text_len;
    char text[PW_LOGTOK_MAX_BYTES];  /* masked tokens joined by one space,
                                        NUL-terminated */
    bool truncated;   /* the line had more tokens or bytes than fit: the
                         excess was dropped */
};

/* Tokenizes and masks line[0..len) (need not be NUL-terminated; a NUL
 * byte ends it) into *out, overwriting it. Returns out->n. Never fails:
 * a line with no tokens gives n = 0. */
size_t pw_logtok_mask(const char *line, size_t len, struct pw_logtok_line *out);

/* "<NUM>", "<HEX>", ...: the placeholder of a kind. */
const char *pw_logtok_placeholder(enum pw_logtok_kind k);

/* Classifies one piece (no blanks, no delimiters) as masking would:
 * returns its kind, or -1 if it stays literal. */
int pw_logtok_classify(const char *piece, size_t len);

#endif

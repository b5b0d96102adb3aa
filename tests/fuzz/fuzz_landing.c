/* tests/fuzz/fuzz_landing.c — the landing collector's CSV and JSON-lines
 * row scanner on any bytes.
 *
 * The first byte chooses the format (bit 0), whether the buffer is the whole
 * file (bit 1) and the column limit (bits 2-7, 1 to 64); the rest is the
 * file. Checked on every input: no column counts more filled values than
 * there are rows, the column limit holds, every name is a non-empty string,
 * the rows are no more than the line breaks allow, and a scan of the same
 * bytes as a prefix (complete = false) finds no more rows than the whole. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collectors/landing.h"
#include "tests/fuzz/fuzz_check.h"

/* Lines that became rows: a CSV bad row is also in rows, a JSON one not. */
static uint64_t records(const struct pw_landing_scan *s)
{
    return s->format == PW_LANDING_CSV ? s->rows : s->rows + s->bad_rows;
}

static void check_scan(const struct pw_landing_scan *s, size_t max_columns,
                       size_t newlines)
{
    CHECK(s->ncolumns <= max_columns);
    CHECK(records(s) <= newlines + 1);
    if (s->format == PW_LANDING_CSV)
        CHECK(s->bad_rows <= s->rows);
    for (size_t i = 0; i < s->ncolumns; i++) {
        CHECK(s->columns[i].filled <= s->rows);
        CHECK(s->columns[i].name && s->columns[i].name[0] != '\0');
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    enum pw_landing_format f = data[0] & 1 ? PW_LANDING_JSONL : PW_LANDING_CSV;
    bool complete = data[0] & 2;
    size_t max_columns = 1 + (data[0] >> 2);
    const char *buf = (const char *)data + 1;
    size_t len = size - 1, newlines = 0;
    for (size_t i = 0; i < len; i++)
        newlines += buf[i] == '\n' || buf[i] == '\r';

    struct pw_landing_scan a, b;
    pw_landing_scan_init(&a, f, max_columns);
    CHECK(pw_landing_scan_buffer(&a, buf, len, complete) == 0);
    check_scan(&a, max_columns, newlines);
    pw_landing_scan_init(&b, f, max_columns);
    CHECK(pw_landing_scan_buffer(&b, buf, len, !complete) == 0);
    check_scan(&b, max_columns, newlines);
    const struct pw_landing_scan *prefix = complete ? &b : &a, *whole = complete ? &a : &b;
    CHECK(records(prefix) <= records(whole));
    pw_landing_scan_release(&a);
    pw_landing_scan_release(&b);
    return 0;
}

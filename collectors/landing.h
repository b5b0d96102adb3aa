/* collectors/landing.h — data landing: are files arriving, and are they
 * filled in?
 *
 * Points (rules in the comment at the top of landing.c):
 *   data_landing,name=N,pattern=GLOB
 *       files=Ni, bytes=Ni, newest_age_seconds=F (absent without files),
 *       and for a newest file ending .csv, .jsonl or .ndjson:
 *       rows=Ni, bad_rows=Ni, columns=Ni, scanned_bytes=Ni, truncated=BOOL
 *   data_landing_column,column=C,name=N
 *       empty=Ni, empty_share=F (0 to 1; absent when the file has no rows)
 *
 * The row scanner is exported for the unit tests and the fuzz target. */
#ifndef PW_COLLECTOR_LANDING_H
#define PW_COLLECTOR_LANDING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collectors/collector.h"

extern const struct pw_collector_ops pw_landing_collector;

enum pw_landing_format { PW_LANDING_CSV, PW_LANDING_JSONL };

struct pw_landing_column {
    char *name;                 /* owned; never empty */
    uint64_t filled;            /* rows where the value is not empty */
};

/* What a scan found. empty of column i = rows - columns[i].filled. */
struct pw_landing_scan {
    enum pw_landing_format format;
    uint64_t rows;              /* data rows (CSV: after the header) */
    uint64_t bad_rows;          /* CSV: field count differs from the header;
                                   JSON lines: not a JSON object (not in rows) */
    struct pw_landing_column *columns;   /* in order of first appearance */
    size_t ncolumns;
    size_t max_columns;         /* columns past this are not tracked */
    uint64_t dropped_columns;   /* distinct columns not tracked */
    void *index;                /* private (JSON lines: key -> column) */
};

/* The format a file name calls for: 0 and *out set, or -1 (not scanned). */
int pw_landing_format_of(const char *path, enum pw_landing_format *out);

void pw_landing_scan_init(struct pw_landing_scan *s, enum pw_landing_format f,
                          size_t max_columns);
/* Scans buf[0..len), a file's first len bytes. complete=false says the file
 * goes on: a last record that is not terminated is left out. Returns 0, or
 * -1 when out of memory (counts may then be partial). Call once per scan. */
int pw_landing_scan_buffer(struct pw_landing_scan *s, const char *buf, size_t len,
                           bool complete);
void pw_landing_scan_release(struct pw_landing_scan *s);

#endif

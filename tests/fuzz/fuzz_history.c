/* tests/fuzz/fuzz_history.c — pipewatch-train's history readers on any
 * bytes: the CSV reader ("timestamp,value[,label]") and the line-protocol
 * reader (through the analyzer's ingest), then the feature rows and the
 * resampling the fit builds on what was read.
 *
 * The first byte chooses the reader (bit 0). Checked on every input: a
 * read either fails with an error sentence or adds exactly the samples it
 * reports; every sample is finite (a non-finite CSV value is an error, and
 * line protocol cannot carry one); labels are 0 or 1; CSV reads are one
 * series; the feature rows hold finite values only and no more rows than
 * samples; a resampled series is finite and its step positive. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "tests/fuzz/fuzz_check.h"
#include "train/fit.h"
#include "train/history.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    bool csv = !(data[0] & 1);
    const char *buf = (const char *)data + 1;
    size_t len = size - 1;
    struct pw_history h;
    struct pw_err err = {{0}};
    CHECK(pw_history_init(&h, &err) == 0);
    long n = csv ? pw_history_read_csv(&h, "fuzz.csv", buf, len, "e", "m.v", &err)
                 : pw_history_read_lineproto(&h, "fuzz.lp", buf, len, NULL, "role", &err);
    if (n < 0) {
        CHECK(err.msg[0] != '\0');
    } else {
        CHECK((size_t)n == h.rows);
        if (csv)
            CHECK(h.n == 1 && n >= 1);
        for (size_t s = 0; s < h.n; s++) {
            const struct pw_hist_series *se = &h.series[s];
            CHECK(se->n > 0 && se->entity && se->metric && se->cls);
            CHECK(strchr(se->metric, '.') != NULL);
            for (size_t i = 0; i < se->n; i++) {
                CHECK(isfinite(se->values[i]) && isfinite(se->ts_s[i]));
                CHECK(!se->labels || se->labels[i] <= 1);
            }
        }
        const char *feat[2] = {h.n ? h.series[0].metric : "m.v",
                               h.n > 1 ? h.series[1].metric : "x.y"};
        struct pw_fit_rows r;
        CHECK(pw_fit_rows_build(&h, NULL, feat, 2, &r, &err) == 0);
        CHECK(r.n <= h.rows);
        for (size_t i = 0; i < r.n * r.d; i++)
            CHECK(isfinite(r.x[i]));
        pw_fit_rows_free(&r);
        for (size_t s = 0; s < h.n && s < 4; s++) {
            double *y, step, t0;
            size_t m;
            if (pw_fit_regular(&h.series[s], 5000, &y, &m, &step, &t0, &err) == 0) {
                CHECK(step > 0 && m >= 1 && m <= 5000);
                for (size_t i = 0; i < m; i++)
                    CHECK(isfinite(y[i]));
                free(y);
            }
        }
    }
    pw_history_free(&h);
    return 0;
}

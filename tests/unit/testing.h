/* tests/unit/testing.h — the one piece every Check test file shares. */
#ifndef PW_TESTING_H
#define PW_TESTING_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

/* Runs the suite, prints Check's summary, returns the process exit code. */
static inline int pw_run_suite(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

/* The exit code ctest reports as "Skipped" (SKIP_RETURN_CODE). */
#define PW_TEST_SKIP 77

/* The shared reference data (../shared/data: NAB, LogHub, cloud): from
 * PW_SHARED_DIR, else next to the source tree. Writes "<dir>/<rel>" to out;
 * returns 0, or -1 when the directory is not there. */
static inline int pw_shared_data(char *out, size_t size, const char *rel)
{
    const char *shared = getenv("PW_SHARED_DIR");
    const char *src = getenv("PW_SOURCE_DIR");
    char dir[768];
    if (shared && *shared)
        snprintf(dir, sizeof dir, "%s", shared);
    else if (src && *src)
        snprintf(dir, sizeof dir, "%s/../shared/data", src);
    else
        return -1;
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return -1;
    if ((size_t)snprintf(out, size, "%s/%s", dir, rel) >= size)
        return -1;
    return 0;
}

/* For a test main: exits with PW_TEST_SKIP, saying why, when the shared
 * data is absent, so that ctest shows the test as skipped, never passed. */
static inline void pw_require_shared_data(void)
{
    char probe[1100];
    if (pw_shared_data(probe, sizeof probe, "") != 0) {
        fprintf(stderr, "SKIPPED: the shared reference data is not there; set "
                        "PW_SHARED_DIR to the directory holding nab/ and "
                        "loghub/\n");
        exit(PW_TEST_SKIP);
    }
}

#endif

/* tests/unit/testing.h — the one piece every Check test file shares. */
#ifndef PW_TESTING_H
#define PW_TESTING_H

#include <check.h>

/* Runs the suite, prints Check's summary, returns the process exit code. */
static inline int pw_run_suite(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

#endif

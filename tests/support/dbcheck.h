/*
 * The check shared by the unit test and the fuzz target of the pattern
 * databases (src/inspect/db.c): the patterns are necessary conditions,
 * so every detector that matches a value must be among the candidates
 * the db names for it. Each detector runs under every origin, SSRF also
 * under options that refuse more (one allowed scheme, a short length
 * bound). Every pattern is also compiled by PCRE2, which reads the same
 * syntax: where PCRE2 finds a pattern (and its confirmation holds) and
 * the db leaves its detector out, Vectorscan missed a match.
 *
 * One db with every detector, its scratch and the PCRE2 programs are
 * kept here between dbcheck_setup and dbcheck_teardown.
 */
#ifndef APIWARD_TESTS_DBCHECK_H
#define APIWARD_TESTS_DBCHECK_H

#include <stdbool.h>
#include <stdio.h>

#include "inspect/inspect.h"

/* A miss: a detector's verdict the db did not foresee (vd set), or a
   pattern PCRE2 found and Vectorscan did not (vd NULL, pattern set). */
struct dbcheck_miss {
    const struct inspect_verdict *vd;
    unsigned bit;                /* the detector's INSPECT_* bit */
    enum inspect_origin origin;  /* with vd */
    size_t pattern;              /* without vd */
};

typedef void (*dbcheck_fn)(void *ctx, struct slice text,
                           const struct dbcheck_miss *m);

/* Compile the db and the PCRE2 programs; AW_OK, or AW_ERROR with a
   message in err. */
int dbcheck_setup(char *err, size_t errlen);
void dbcheck_teardown(void);

/* Check text, with the PCRE2 comparison when library is true; on_miss
   is called for each miss. */
void dbcheck_value(struct slice text, bool library, dbcheck_fn on_miss,
                   void *ctx);

/* Write to f, one per line after indent, the patterns that should have
   matched a value m names. */
void dbcheck_print_patterns(FILE *f, const char *indent,
                            const struct dbcheck_miss *m);

#endif

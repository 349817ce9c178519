/*
 * Running several detectors on one value: what the inspect stage of the
 * pipeline will call for each value it reads, with the set of detectors
 * a route turns on.
 */
#include "internal.h"

/* The detectors that take nothing but the value, by mask bit. */
static const struct inspect_detector_fn plain[] = {
    {INSPECT_SQLI, inspect_sqli_match},
    {INSPECT_TRAVERSAL, inspect_traversal_match},
    {INSPECT_CRLF, inspect_crlf_match},
    {INSPECT_NOSQL, inspect_nosql_match},
    {INSPECT_CMDI, inspect_cmdi_match},
    {INSPECT_TEMPLATE, inspect_template_match},
    {INSPECT_LDAP, inspect_ldap_match},
    {INSPECT_XSS, inspect_xss_match},
    {INSPECT_XXE, inspect_xxe_match},
};

const struct inspect_detector_fn *
inspect_detectors(size_t *n)
{
    *n = ARRAY_LEN(plain);
    return plain;
}

/* Keep vd in *best when it scores higher than what *best holds. */
static void
keep_best(const struct inspect_verdict *vd, bool *any,
          struct inspect_verdict *best)
{
    if (!*any || vd->score > best->score)
        *best = *vd;
    *any = true;
}

bool
inspect_eval(const struct inspect_value *v, unsigned mask,
             const struct inspect_ssrf_opts *ssrf,
             struct inspect_verdict *out)
{
    struct inspect_ssrf_opts defaults;
    struct inspect_verdict vd;
    bool any = false;

    for (size_t i = 0; i < ARRAY_LEN(plain); i++)
        if ((mask & plain[i].bit) && plain[i].match(v, &vd))
            keep_best(&vd, &any, out);
    if (mask & INSPECT_SSRF) {
        if (ssrf == NULL) {
            inspect_ssrf_opts_default(&defaults);
            ssrf = &defaults;
        }
        if (inspect_ssrf_match(v, ssrf, &vd))
            keep_best(&vd, &any, out);
    }
    return any;
}

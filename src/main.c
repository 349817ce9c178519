/*
 * apiward command line: run, check, proxy, key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "config/config.h"
#include "identity/identity.h"
#include "policy/policy.h"
#include "proxy/proxy.h"
#include "tls/tls.h"

static const char usage[] =
    "usage: apiward COMMAND [OPTIONS]\n"
    "\n"
    "commands:\n"
    "  run -c FILE                    serve with the configuration in FILE\n"
    "  check -c FILE                  load FILE, report every problem as\n"
    "                                 FILE:LINE:COLUMN, exit 1 if any\n"
    "  proxy --listen ADDR --to URL   protect one backend with safe\n"
    "                                 defaults, no file needed\n"
    "        [--jwks FILE_OR_URL --issuer ISS --audience AUD...]\n"
    "                                 and require a JWT from ISS for AUD\n"
    "                                 (--audience may be repeated), its\n"
    "                                 keys in a JWK Set file or at an\n"
    "                                 http(s):// URL\n"
    "        [--openapi FILE]         and let through only what the\n"
    "                                 OpenAPI document FILE describes\n"
    "        [--inspect]              and refuse injection, SSRF and path\n"
    "                                 tricks in every request value, and\n"
    "                                 log sensitive data in responses\n"
    "  key new --consumer NAME --pepper-file FILE [--not-before DATE]\n"
    "        [--expires DATE]         make an API key; prints it once\n"
    "                                 with its keys-file line\n"
    "  policy explain -c FILE --method M --path PATH [--claims JSON]\n"
    "        [--client ADDR] [--header 'N: v']... [--body JSON]\n"
    "        [--time YYYY-MM-DDTHH:MM:SSZ] [--host H]\n"
    "                                 the authorization decision for one\n"
    "                                 request and the rules behind it\n"
    "\n"
    "options:\n"
    "  -h, --help                     this text\n"
    "  -V, --version                  the version\n"
    "\n"
    "signals while running: HUP reloads the file, TERM drains and exits,\n"
    "USR1 reopens the access log and the security event file.\n";

/* Value of "-c FILE" / "--config FILE" / "--config=FILE", or NULL. */
static const char *
option_value(int argc, char **argv, const char *shortopt,
             const char *longopt)
{
    size_t len = strlen(longopt);

    for (int i = 2; i < argc; i++) {
        if ((shortopt != NULL && strcmp(argv[i], shortopt) == 0) ||
            strcmp(argv[i], longopt) == 0)
            return i + 1 < argc ? argv[i + 1] : NULL;
        if (strncmp(argv[i], longopt, len) == 0 && argv[i][len] == '=')
            return argv[i] + len + 1;
    }
    return NULL;
}

static int
load_or_report(const char *path, struct config **cfg)
{
    struct config_errors errs;
    int rc;

    if (path == NULL) {
        fprintf(stderr, "apiward: missing -c FILE\n\n%s", usage);
        return 2;
    }
    rc = config_load(path, cfg, &errs);
    if (rc != AW_OK) {
        config_errors_print(&errs, stderr);
        if (errs.n == 0)
            fprintf(stderr, "%s: cannot be loaded\n", path);
        return 1;
    }
    return 0;
}

static int
cmd_check(int argc, char **argv)
{
    struct config *cfg = NULL;
    int rc = load_or_report(option_value(argc, argv, "-c", "--config"),
                            &cfg);

    if (rc != 0)
        return rc;
    /* Warnings only: an expiring certificate still serves. */
    tls_audit(cfg, (int64_t)(clock_wall_ms() / 1000), true, stderr);
    printf("%s: ok (%zu routes, %zu upstreams, hash %s)\n", cfg->path,
           cfg->nroutes, cfg->nupstreams, cfg->hash);
    config_unref(cfg);
    return 0;
}

static int
cmd_run(int argc, char **argv)
{
    struct config *cfg = NULL;
    int rc = load_or_report(option_value(argc, argv, "-c", "--config"),
                            &cfg);

    if (rc != 0)
        return rc;
    return proxy_serve(cfg);
}

/* Most --audience options "apiward proxy" takes, as identity allows. */
#define MAX_AUDIENCES 32

/*
 * Collect every value of a repeatable option ("--audience A" or
 * "--audience=A") into out[0..max). Returns how many, or -1 when there
 * are more than max or one lacks its value.
 */
static int
option_values(int argc, char **argv, const char *longopt, const char **out,
              int max)
{
    size_t len = strlen(longopt);
    int n = 0;

    for (int i = 2; i < argc; i++) {
        const char *v = NULL;

        if (strcmp(argv[i], longopt) == 0) {
            if (i + 1 >= argc)
                return -1;
            v = argv[++i];
        } else if (strncmp(argv[i], longopt, len) == 0 &&
                   argv[i][len] == '=') {
            v = argv[i] + len + 1;
        }
        if (v == NULL)
            continue;
        if (n == max)
            return -1;
        out[n++] = v;
    }
    return n;
}

/*
 * The token options of "apiward proxy": all three or none. Returns 0
 * with jwt filled or *use false, or 2 after printing a usage error.
 */
static int
proxy_jwt_options(int argc, char **argv, struct config_proxy_jwt *jwt,
                  const char **auds, bool *use)
{
    int n = option_values(argc, argv, "--audience", auds, MAX_AUDIENCES);

    jwt->jwks = option_value(argc, argv, NULL, "--jwks");
    jwt->issuer = option_value(argc, argv, NULL, "--issuer");
    jwt->audiences = auds;
    jwt->naudiences = n > 0 ? (size_t)n : 0;
    *use = jwt->jwks != NULL || jwt->issuer != NULL || n != 0;
    if (n < 0) {
        fprintf(stderr, "apiward proxy: --audience needs a value, at most "
                        "%d times\n\n%s", MAX_AUDIENCES, usage);
        return 2;
    }
    if (*use && (jwt->jwks == NULL || jwt->issuer == NULL || n == 0)) {
        fprintf(stderr, "apiward proxy: --jwks, --issuer and --audience go "
                        "together\n\n%s", usage);
        return 2;
    }
    return 0;
}

/* True when a flag without a value is among the options. */
static bool
option_flag(int argc, char **argv, const char *longopt)
{
    for (int i = 2; i < argc; i++)
        if (strcmp(argv[i], longopt) == 0)
            return true;
    return false;
}

static int
cmd_proxy(int argc, char **argv)
{
    const char *listen = option_value(argc, argv, NULL, "--listen");
    const char *to = option_value(argc, argv, NULL, "--to");
    const char *auds[MAX_AUDIENCES];
    struct config_proxy_jwt jwt;
    struct config_errors errs;
    struct config *cfg = NULL;
    bool use_jwt = false;
    int rc = proxy_jwt_options(argc, argv, &jwt, auds, &use_jwt);

    if (rc != 0)
        return rc;
    if (listen == NULL)
        listen = "127.0.0.1:8080";
    if (to == NULL) {
        fprintf(stderr, "apiward proxy: missing --to URL\n\n%s", usage);
        return 2;
    }
    if (config_for_proxy_inspect(listen, to, use_jwt ? &jwt : NULL,
                                 option_value(argc, argv, NULL, "--openapi"),
                                 option_flag(argc, argv, "--inspect"), &cfg,
                                 &errs) != AW_OK) {
        config_errors_print(&errs, stderr);
        return 1;
    }
    return proxy_serve(cfg);
}

int
main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : NULL;

    if (cmd == NULL || strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 ||
        strcmp(cmd, "help") == 0) {
        fputs(usage, cmd == NULL ? stderr : stdout);
        return cmd == NULL ? 2 : 0;
    }
    if (strcmp(cmd, "-V") == 0 || strcmp(cmd, "--version") == 0 ||
        strcmp(cmd, "version") == 0) {
        printf("apiward %s\n", APIWARD_VERSION);
        return 0;
    }
    if (strcmp(cmd, "run") == 0)
        return cmd_run(argc, argv);
    if (strcmp(cmd, "check") == 0)
        return cmd_check(argc, argv);
    if (strcmp(cmd, "proxy") == 0)
        return cmd_proxy(argc, argv);
    if (strcmp(cmd, "key") == 0)
        return apikey_cmd(argc - 1, argv + 1);
    if (strcmp(cmd, "policy") == 0)
        return policy_explain_cmd(argc - 1, argv + 1);
    fprintf(stderr, "apiward: unknown command '%s'\n\n%s", cmd, usage);
    return 2;
}

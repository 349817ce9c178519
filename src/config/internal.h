/*
 * config internals shared by the files of src/config/ and by nothing
 * else: the YAML tree with source positions, the loader that collects
 * problems, the table-driven walker and the address helpers.
 *
 * libfyaml's document API does not expose where a node starts in the
 * version Debian ships, and every message must name a line and column,
 * so the file is read through the event parser into this small tree,
 * which keeps a position on every node.
 */
#ifndef APIWARD_CONFIG_INTERNAL_H
#define APIWARD_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

/* Bounds on the input itself, before any key is looked at. */
#define CONFIG_MAX_FILE_BYTES (1u << 20)
#define CONFIG_MAX_DEPTH 16
#define CONFIG_MAX_MAP_KEYS 4096
#define CONFIG_MAX_SEQ_ITEMS 16384
#define CONFIG_MAX_SCALAR_BYTES 8192
#define CONFIG_MAX_SCALAR_LINES 64
#define CONFIG_TREE_MAX_BYTES ((size_t)64 << 20)
#define CONFIG_STRINGS_MAX_BYTES ((size_t)16 << 20)

/* Largest body limit accepted, the bound of size_parse. */
#define CONFIG_MAX_BODY ((uint64_t)1 << 40)
/* A buffered body is held in memory whole, with its parsed tree. */
#define CONFIG_MAX_BUFFERED_BODY ((uint64_t)64 << 20)

enum config_node_type {
    CONFIG_NODE_SCALAR,
    CONFIG_NODE_MAP,
    CONFIG_NODE_SEQ,
};

/*
 * One YAML node. A mapping's children are its key nodes, in file order,
 * each pointing at its value; a sequence's children are its items.
 */
struct config_node {
    enum config_node_type type;
    int line; /* 1-based position of the node */
    int col;
    bool plain;                /* scalar written without quotes */
    bool dup;                  /* a repeated key; lookups skip it */
    const char *text;          /* scalar bytes, NUL-terminated copy */
    size_t len;                /* scalar length; may hold NUL bytes */
    struct config_node *value; /* for a mapping key: its value */
    struct config_node *first; /* first child */
    struct config_node *last;  /* last child, for appending */
    struct config_node *next;  /* next sibling */
    size_t n;                  /* number of children */
};

/* A problem with its position, kept so that the list can be sorted. */
struct config_problem {
    int line;
    int col;
};

/*
 * State of one load. Problems go to errs as they are found; pos holds
 * their positions so that the final list reads top to bottom.
 */
struct config_loader {
    const char *name;  /* file name used in messages */
    struct config *c;  /* snapshot being filled */
    struct arena tree; /* nodes; released when the load ends */
    struct config_node *root;
    struct config_errors *errs;
    struct config_problem pos[CONFIG_MAX_ERRORS];
    bool resolve; /* resolve host names with getaddrinfo */
    bool nomem;   /* an allocation failed somewhere */
};

/*
 * Record a problem at a 1-based line and column ("name:line:col: msg").
 * A line of 0 leaves the position out ("name: msg"); a NULL name leaves
 * the name out too, for problems in command-line arguments.
 */
void config_error_at(struct config_loader *ld, int line, int col,
                     const char *fmt, ...) AW_PRINTF(4, 5);

/* config_error_at at the position of node n. */
void config_error(struct config_loader *ld, const struct config_node *n,
                  const char *fmt, ...) AW_PRINTF(3, 4);

/* Sort the recorded problems by position; the order they read in. */
void config_errors_sort(struct config_loader *ld);

/*
 * Parse buf[0..len) into ld->root. Syntax errors, anchors, aliases,
 * tags, repeated keys and the bounds above are recorded as problems.
 * Returns AW_OK when a tree was built (possibly with problems recorded),
 * AW_INVALID when the text could not be parsed at all, AW_NOMEM.
 */
int config_tree_parse(struct config_loader *ld, const char *buf, size_t len);

/* The value of key in mapping m, skipping repeated keys; NULL if absent. */
const struct config_node *config_map_get(const struct config_node *m,
                                         const char *key);

/* True for a scalar YAML reads as null: empty plain, "~" or "null". */
bool config_node_is_null(const struct config_node *n);

/* A short printable description of a node for messages ("a list"). */
const char *config_node_kind(const struct config_node *n);

/* Copy a scalar into dst for a message: escaped, cut with "...". */
const char *config_node_quote(const struct config_node *n, char *dst,
                              size_t cap);

/*
 * A key of a mapping in the schema. parse reads v (never NULL) and
 * stores at dst, the base object plus offset; size is the width of the
 * member for integer stores; min and max bound numbers; sub lists the
 * keys of a nested mapping, ended by an entry with a NULL key. Each
 * parse function returns AW_OK or AW_INVALID (problem recorded) or
 * AW_NOMEM.
 */
struct config_field {
    const char *key;
    int (*parse)(struct config_loader *ld, const struct config_node *v,
                 void *dst, const struct config_field *f, const char *where);
    size_t offset;
    size_t size;
    uint64_t min;
    uint64_t max;
    bool required;
    const struct config_field *sub;
};

/*
 * Check mapping m against fields and parse each key that is present into
 * base. Unknown keys, missing required keys and every bad value are
 * recorded; where names the mapping in messages ("server"), "" for the
 * top level. Returns AW_OK, AW_INVALID when anything was wrong, or
 * AW_NOMEM.
 */
int config_walk_map(struct config_loader *ld, const struct config_node *m,
                    const struct config_field *fields, void *base,
                    const char *where);

/* Parse functions for config_field, shared by the schema tables. */
int config_parse_uint(struct config_loader *ld, const struct config_node *v,
                      void *dst, const struct config_field *f,
                      const char *where);
int config_parse_size(struct config_loader *ld, const struct config_node *v,
                      void *dst, const struct config_field *f,
                      const char *where);
int config_parse_duration(struct config_loader *ld, const struct config_node *v,
                          void *dst, const struct config_field *f,
                          const char *where);
int config_parse_bool(struct config_loader *ld, const struct config_node *v,
                      void *dst, const struct config_field *f,
                      const char *where);
int config_parse_section(struct config_loader *ld, const struct config_node *v,
                         void *dst, const struct config_field *f,
                         const char *where);

/*
 * Read a scalar that must be a non-empty string without NUL bytes and
 * at most max bytes long; records a problem otherwise. On AW_OK *out is
 * the node's text (owned by the tree, copy it to keep it).
 */
int config_expect_string(struct config_loader *ld, const struct config_node *v,
                         size_t max, const char *where, const char **out);

/* Check that v is a mapping (or a sequence); record a problem if not. */
int config_expect_map(struct config_loader *ld, const struct config_node *v,
                      const char *where);
int config_expect_seq(struct config_loader *ld, const struct config_node *v,
                      const char *where);

/*
 * Check that v is a node of the given type (a mapping or a sequence)
 * holding min to max entries; what names them in the message ("expected
 * 1 to 64 issuers"). Returns AW_OK or AW_INVALID (problem recorded).
 */
int config_expect_entries(struct config_loader *ld, const struct config_node *v,
                          enum config_node_type type, size_t min, size_t max,
                          const char *what, const char *where);

/*
 * A further check of a scalar already known to be a string: records its
 * own problem and returns AW_INVALID, or returns AW_OK.
 */
typedef int config_check_fn(struct config_loader *ld,
                            const struct config_node *v, const char *where);

/*
 * Read a string of at most max bytes as config_expect_string does, vet
 * it with check when check is not NULL, and only then copy it into the
 * snapshot at *out. Returns AW_OK, AW_INVALID (problem recorded, *out
 * untouched) or AW_NOMEM.
 */
int config_store_string(struct config_loader *ld, const struct config_node *v,
                        size_t max, config_check_fn *check, const char *where,
                        char **out);

/*
 * A list of names each standing for one bit of a set: HTTP methods,
 * JWS algorithms, authentication methods. maxlen bounds one name;
 * bit_of maps a name that is a string to its bit in *bit, or records a
 * problem naming the accepted values and returns AW_INVALID; empty is
 * the sentence for an empty list, which is always refused.
 */
struct config_bits {
    size_t maxlen;
    int (*bit_of)(struct config_loader *ld, const struct config_node *it,
                  const char *where, uint32_t *bit);
    const char *empty;
};

/*
 * Parse a non-empty list of distinct names into a bit set, as described
 * by spec. Every bad or repeated entry is reported. *bits is written
 * only on AW_OK, so a default survives a bad list; AW_INVALID otherwise.
 */
int config_parse_bits(struct config_loader *ld, const struct config_node *v,
                      const struct config_bits *spec, const char *where,
                      uint32_t *bits);

/*
 * Read a string of at most max bytes that must be one of names[0..n).
 * On AW_OK *index is its position in names; on AW_INVALID the problem
 * lists every accepted name.
 */
int config_parse_choice(struct config_loader *ld, const struct config_node *v,
                        size_t max, const char *const *names, size_t n,
                        const char *where, int *index);

/* Copy a string into the snapshot's arena; NULL (and nomem set) if full. */
char *config_strdup(struct config_loader *ld, const char *s, size_t len);

/* Zeroed memory from the snapshot's arena; NULL (and nomem set). */
void *config_alloc(struct config_loader *ld, size_t n);

/*
 * Parse "host:port" or "[v6]:port" into a. A host that is not an IP
 * literal is resolved with getaddrinfo (first result) when resolve is
 * true and refused otherwise. On failure returns AW_INVALID with a
 * sentence in err.
 */
int config_addr_parse(const char *text, bool resolve, struct config_addr *a,
                      char *err, size_t errlen);

/*
 * The string node v as "host:port" with an IP literal for host (no name
 * lookup) into *a; a problem is recorded under where.
 */
int config_parse_ip_port(struct config_loader *ld, const struct config_node *v,
                         struct config_addr *a, const char *where);

/*
 * Parse "10.0.0.0/8", "2001:db8::/32" or a bare address (a full-length
 * prefix). Host bits set past the prefix are refused, so that a typo
 * cannot silently widen a range. A range written in IPv4-mapped IPv6
 * form with a prefix of 96 or more is stored as the IPv4 range it
 * means. AW_INVALID with a sentence in err.
 */
int config_cidr_parse(const char *text, struct config_cidr *r, char *err,
                      size_t errlen);

/*
 * Split an upstream URL "http://host[:port][/]" into the "host:port"
 * text config_addr_parse takes. AW_INVALID with a sentence in err for
 * other schemes (https names the missing upstream TLS), user
 * information, paths, queries or a bad port.
 */
int config_url_to_addr(const char *url, char *hostport, size_t cap, char *err,
                       size_t errlen);

/*
 * Parse a list of 1 to max "host:port" strings into a new array in the
 * snapshot, refusing repeats. On AW_INVALID the array may still be set,
 * holding the addresses that were good.
 */
int config_parse_addr_list(struct config_loader *ld,
                           const struct config_node *v, size_t max,
                           const char *where, struct config_addr **out,
                           size_t *nout);

/* Parse functions for keys defined in one file and used in another. */
int config_parse_balance(struct config_loader *ld, const struct config_node *v,
                         void *dst, const struct config_field *f,
                         const char *where);
int config_parse_upstreams(struct config_loader *ld,
                           const struct config_node *v, void *dst,
                           const struct config_field *f, const char *where);
int config_parse_routes(struct config_loader *ld, const struct config_node *v,
                        void *dst, const struct config_field *f,
                        const char *where);

/*
 * Check that a scalar holds only letters, digits, '_', '-' and '.', the
 * characters of names that reach logs and metrics; records a problem.
 */
int config_check_name(struct config_loader *ld, const struct config_node *v,
                      const char *where);

/*
 * Copy the key k of a mapping of named entries ("upstreams.NAME") into
 * *name, refusing a name that is not 1 to max such characters; what
 * names the entry in the message ("an upstream"). *name is set even
 * when the name is refused. AW_OK, AW_INVALID or AW_NOMEM.
 */
int config_entry_name(struct config_loader *ld, const struct config_node *k,
                      size_t max, const char *what, const char *where,
                      char **name);

/*
 * Check that a non-empty scalar is a claim name or a dotted path of
 * claim names: no empty segment, no control bytes. Records a problem.
 */
int config_check_claim_path(struct config_loader *ld,
                            const struct config_node *v, const char *where);

/* True when s[0..len) is a non-empty RFC 9110 token (a field name). */
bool config_is_token(const char *s, size_t len);

/* Parse functions of the identity section and of routes[].auth. */
int config_parse_identity(struct config_loader *ld, const struct config_node *v,
                          void *dst, const struct config_field *f,
                          const char *where);
int config_parse_route_auth(struct config_loader *ld,
                            const struct config_node *v, void *dst,
                            const struct config_field *f, const char *where);

/*
 * A file path into the char * at dst: an absolute path as written, a
 * relative one joined to the directory of the configuration file (and
 * refused in a configuration loaded from memory). AW_OK, AW_INVALID
 * (problem recorded) or AW_NOMEM.
 */
int config_parse_path(struct config_loader *ld, const struct config_node *v,
                      void *dst, const struct config_field *f,
                      const char *where);

/*
 * The destination of a log stream into the char * at dst: "stdout",
 * "off" or an absolute file path. AW_OK, AW_INVALID or AW_NOMEM.
 */
int config_parse_log_dest(struct config_loader *ld,
                          const struct config_node *v, void *dst,
                          const struct config_field *f, const char *where);

/*
 * The keys of the geo and events sections; offsets are into struct
 * config.
 */
extern const struct config_field config_geo_fields[];
extern const struct config_field config_events_fields[];

/*
 * The admin section (src/config/admin.c): defaults, and the section
 * itself, which reaches into struct config (admin_listen is allocated
 * when the section is present).
 */
void config_admin_defaults(struct config *c);
int config_parse_admin(struct config_loader *ld, const struct config_node *v,
                       void *dst, const struct config_field *f,
                       const char *where);

/* Top-level `policies:`, parsed before the routes that name them. */
int config_parse_policies(struct config_loader *ld,
                          const struct config_node *v, void *dst,
                          const struct config_field *f, const char *where);

/*
 * Compile the `authz` of route mapping m (already parsed into route)
 * into route->authz; a route without authz is refused with a hint.
 * Sets route->buffer_body when an object rule reads the body. AW_OK,
 * AW_INVALID (problem recorded) or AW_NOMEM.
 */
int config_policy_route(struct config_loader *ld, const struct config_node *m,
                        struct config_route *route, const char *where);

/*
 * The program of the route `apiward proxy` builds: public, or, with
 * authenticated, any caller the route's auth accepts (route->auth must
 * be set first).
 */
int config_policy_builtin(struct config_loader *ld, struct config_route *route,
                          bool authenticated);

/*
 * The rate limit sections (src/config/ratelimit.c): defaults, the
 * top-level rate_limits map (parsed before the routes that name its
 * entries), the abuse table (offsets into struct config),
 * routes[].limits (into struct config_route), and the checks across
 * abuse keys made once the file is walked.
 */
void config_ratelimit_defaults(struct config *c);
int config_parse_rate_limits(struct config_loader *ld,
                             const struct config_node *v, void *dst,
                             const struct config_field *f, const char *where);
extern const struct config_field config_abuse_fields[];
extern const struct config_field config_redis_fields[];
int config_parse_route_limits(struct config_loader *ld,
                              const struct config_node *v, void *dst,
                              const struct config_field *f,
                              const char *where);
int config_ratelimit_cross(struct config_loader *ld);

/*
 * The contracts section (src/config/contract.c), parsed before the
 * routes that name its entries: each document is compiled here.
 * routes[].contract stores a pointer to the entry it names.
 * config_contracts_free releases the compiled documents.
 */
int config_parse_contracts(struct config_loader *ld,
                           const struct config_node *v, void *dst,
                           const struct config_field *f, const char *where);
int config_parse_route_contract(struct config_loader *ld,
                                const struct config_node *v, void *dst,
                                const struct config_field *f,
                                const char *where);
void config_contracts_free(struct config *c);

/*
 * The inspect sections (src/config/inspect.c): the top-level block,
 * parsed before the routes, and routes[].inspect (dst is the struct
 * config_route), which overrides it key by key and sets the route's
 * inspect (NULL when off) and sensitive (NULL when responses are not
 * scanned) settings. config_inspect_route_default gives a route without
 * the key the top-level settings; config_inspect_builtin gives r every
 * detector in block mode with the defaults, and response scanning in
 * log mode ("apiward proxy --inspect"). config_inspect_free releases
 * the pattern databases.
 */
int config_parse_inspect(struct config_loader *ld,
                         const struct config_node *v, void *dst,
                         const struct config_field *f, const char *where);
int config_parse_route_inspect(struct config_loader *ld,
                               const struct config_node *v, void *dst,
                               const struct config_field *f,
                               const char *where);
void config_inspect_route_default(const struct config *c,
                                  struct config_route *r);
int config_inspect_builtin(struct config_loader *ld, struct config_route *r);
void config_inspect_free(struct config *c);

/*
 * Sensitive data in responses (src/config/sensitive.c), the responses
 * block of the inspect sections. config_parse_sensitive reads it over
 * *s (the defaults, or a copy of the settings it overrides) and
 * compiles or shares the pattern database of its kinds;
 * config_sensitive_builtin turns s on in log mode for every kind
 * ("apiward proxy --inspect"). config_sensitive_free releases the
 * databases.
 */
void config_sensitive_defaults(struct config_sensitive *s);
int config_parse_sensitive(struct config_loader *ld,
                           const struct config_node *v,
                           struct config_sensitive *s, const char *where);
int config_sensitive_builtin(struct config_loader *ld,
                             struct config_sensitive *s);
void config_sensitive_free(struct config *c);

/*
 * Read an inspect.allow location, "kind" or "kind:name", into the at,
 * name (pointing into s, not copied) and name_len of *a. AW_OK, or
 * AW_INVALID with *why a sentence saying what is wrong.
 */
int config_inspect_location(const char *s, size_t len,
                            struct config_inspect_allow *a, const char **why);

/*
 * server.listen (src/config/tls.c): 1 to max listeners, each a
 * "host:port" string or a mapping {address, tls}, into the snapshot's
 * listeners and listener_tls. TLS settings are compiled here, reading
 * their files. AW_OK, AW_INVALID (problems recorded) or AW_NOMEM.
 */
int config_parse_listeners(struct config_loader *ld,
                           const struct config_node *v, size_t max,
                           const char *where);

/* upstreams.NAME.tls (src/config/tls.c), into the member at dst. */
int config_parse_upstream_tls(struct config_loader *ld,
                              const struct config_node *v, void *dst,
                              const struct config_field *f,
                              const char *where);

/* Set every upstream setting but the name and servers to its default. */
void config_upstream_defaults(struct config_upstream *u);

/* Fill every setting with its default; listeners and routes stay empty. */
int config_defaults(struct config_loader *ld);

/* Check the whole tree against the schema and fill ld->c. */
int config_schema_apply(struct config_loader *ld);

#endif

/*
 * inspect: detectors of injection, SSRF and path tricks in request
 * values.
 *
 * Each detector reads one normalised value: text that has already been
 * decoded once by the layer that owns its syntax (the HTTP target
 * normaliser, the query and form readers, the JSON parser), plus where it
 * came from. inspect_decode undoes the further encodings an attacker
 * stacks on top (repeated percent-encoding, HTML entities) within fixed
 * bounds. A detector understands the grammar it looks for (SQL, URLs,
 * paths, template syntax) rather than matching words, so that prose that
 * merely contains "select" or "union" passes.
 *
 * A detector answers with a verdict: a score, the detector's and rule's
 * names, and the offset and length of a short window of the value around
 * what matched. The verdict never holds the value itself; a caller that
 * logs an excerpt passes it through inspect_excerpt, which cuts and
 * escapes it.
 *
 * Nothing here allocates, keeps state between calls or takes a lock:
 * every function may be called from any worker at once.
 *
 * The gateway's inspect stage (src/proxy/inspect.c) calls them on the
 * values of requests; the decoding rounds come from its configuration,
 * the URL length and the Log4j lookup size are the defaults given here.
 */
#ifndef APIWARD_INSPECT_H
#define APIWARD_INSPECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

/* Where a value was found in the request. */
enum inspect_origin {
    INSPECT_PATH_SEGMENT,  /* one segment of the normalised path */
    INSPECT_QUERY_PARAM,   /* a query parameter's value (or name) */
    INSPECT_HEADER,        /* a header field's value */
    INSPECT_COOKIE,        /* one cookie's value */
    INSPECT_FORM_FIELD,    /* an application/x-www-form-urlencoded field */
    INSPECT_JSON_VALUE,    /* a string in a JSON body; where = pointer */
    INSPECT_XML_BODY,      /* a whole XML body, read for XXE only */
};

/*
 * Flags set by inspect_decode. They describe the value, not a verdict:
 * a caller may refuse a value with INSPECT_DEC_NUL outright, or only
 * raise the score of a detector's finding.
 */
enum inspect_decode_flag {
    INSPECT_DEC_NUL = 1 << 0,         /* a NUL byte after decoding */
    INSPECT_DEC_BAD_UTF8 = 1 << 1,    /* not valid UTF-8 (kept as is) */
    INSPECT_DEC_OVERLONG = 1 << 2,    /* an overlong UTF-8 form */
    INSPECT_DEC_BAD_PERCENT = 1 << 3, /* '%' without two hex digits */
    INSPECT_DEC_PERCENT_U = 1 << 4,   /* the non-standard %uXXXX form */
    INSPECT_DEC_MULTI = 1 << 5,       /* decoding changed it twice+ */
    INSPECT_DEC_ROUNDS = 1 << 6,      /* still changing at max_rounds */
    INSPECT_DEC_ENTITY = 1 << 7,      /* an HTML character reference */
    INSPECT_DEC_CONTROL = 1 << 8,     /* a C0 control other than tab */
};

/* What inspect_decode undoes. */
enum inspect_decode_mode {
    INSPECT_DECODE_PERCENT = 1 << 0, /* %XX and %uXXXX */
    INSPECT_DECODE_PLUS = 1 << 1,    /* '+' as space, first round only */
    INSPECT_DECODE_HTML = 1 << 2,    /* &name; &#D; &#xH; */
};

#define INSPECT_DECODE_ROUNDS 3 /* default of max_rounds */

/*
 * Decode in[0..len) into out[0..cap) by the modes given, again and again
 * while a round changes something, at most max_rounds times (each round
 * is linear and never lengthens the text, so the whole is linear and
 * out needs no more room than the input; out must not overlap in).
 * Invalid escapes are left as they are and flagged. The result is then
 * checked as UTF-8: overlong forms, surrogates and truncated sequences
 * are flagged, never repaired.
 *
 * Returns AW_OK with *out_len and *flags set (flags are ORed into what
 * *flags held), AW_TOOBIG when cap < in.len (nothing written), or
 * AW_INVALID when max_rounds is 0.
 */
int inspect_decode(struct slice in, unsigned mode, unsigned max_rounds,
                   char *out, size_t cap, size_t *out_len,
                   unsigned *flags);

/*
 * Check s as UTF-8 and return the INSPECT_DEC_* flags that apply to it
 * (NUL, BAD_UTF8, OVERLONG, CONTROL); 0 for clean text.
 */
unsigned inspect_utf8_flags(struct slice s);

/* One value to inspect. Every pointer is borrowed from the caller. */
struct inspect_value {
    struct slice text;          /* the decoded value */
    enum inspect_origin origin; /* where it was found */
    struct slice where;         /* its name: parameter, header, cookie or
                                   field name, or a JSON pointer; may be
                                   empty */
    unsigned flags;             /* INSPECT_DEC_* noticed while decoding */
};

#define INSPECT_WINDOW_MAX 32 /* bytes of the value a verdict points at */

/*
 * A detector's finding. The strings are static. offset and length place
 * a window of at most INSPECT_WINDOW_MAX bytes inside the value's text,
 * from the start of what matched; never the whole value (a value short
 * enough to fit shows its first half).
 */
struct inspect_verdict {
    const char *detector; /* "sqli", "ssrf", "traversal", ... */
    const char *reason;   /* stable reason code, "inspect.sqli", ... */
    const char *rule;     /* which rule matched: "union_select", ... */
    unsigned score;       /* 1..100, higher is surer */
    size_t offset;        /* start of the window in text */
    size_t length;        /* its length, at most INSPECT_WINDOW_MAX */
};

/*
 * Write the verdict's window of v's text into dst[0..cap) as printable
 * ASCII (log_escape rules), for logs and events. Returns dst.
 */
char *inspect_excerpt(const struct inspect_value *v,
                      const struct inspect_verdict *vd, char *dst,
                      size_t cap);

/*
 * SQL injection.
 *
 * The tokenizer reads text as a SQL engine would if the value were
 * pasted into a query at one of three places: as is (a number or a
 * fragment), inside a single-quoted string, or inside a double-quoted
 * string. In the quoted contexts the text up to the first matching quote
 * is the tail of the query's own string literal, and injection begins
 * after it. Tokens are folded into classes (one character each), and
 * rules over the classes and a few keywords recognise UNION SELECT,
 * tautologies, stacked statements, comment truncation, subqueries and
 * time-based probes.
 */
enum inspect_sql_context {
    INSPECT_SQL_AS_IS,
    INSPECT_SQL_SINGLE_QUOTE,
    INSPECT_SQL_DOUBLE_QUOTE,
};

/* Token classes; the enum values are the fingerprint characters. */
enum inspect_sql_class {
    SQL_STRING = 's',     /* '...', "..." (unterminated runs to the end) */
    SQL_NUMBER = 'n',     /* 12, 1.5e3, 0x1f, 0b101, .5 */
    SQL_KEYWORD = 'k',    /* FROM, WHERE, NULL, TABLE, ... */
    SQL_STATEMENT = 'E',  /* SELECT, INSERT, DROP, EXEC, ... */
    SQL_UNION = 'U',      /* UNION, INTERSECT, EXCEPT, MINUS */
    SQL_LOGIC = '&',      /* AND, OR, XOR, NOT, &&, || */
    SQL_COMPARE = '=',    /* = < > <= >= <> != <=> LIKE IS IN ... */
    SQL_OPERATOR = 'o',   /* + - * / % & | ^ ~ :: and DIV, MOD */
    SQL_FUNCTION = 'f',   /* a word followed by '(' or a known function */
    SQL_VARIABLE = 'v',   /* @x, @@version, $1, :name */
    SQL_WORD = 'b',       /* any other word or quoted identifier */
    SQL_LPAREN = '(',
    SQL_RPAREN = ')',
    SQL_COMMA = ',',
    SQL_SEMICOLON = ';',
    SQL_DOT = '.',
    SQL_COMMENT = 'c',    /* --, #, or an unterminated comment to the
                             end; closed comments fold into spaces */
    SQL_OTHER = '?',      /* any other byte */
};

/* One token: its class, its keyword (an internal id, 0 if none), and
   where it lies in the input. */
struct inspect_sql_token {
    enum inspect_sql_class cls;
    unsigned kw;
    size_t offset;
    size_t len;
};

/* Tokenizer state; fields are private to sqli.c. */
struct inspect_sql_lexer {
    struct slice in;
    size_t pos;
    enum inspect_sql_context ctx;
    bool backslash;       /* backslash escapes inside strings */
    bool opened;          /* the context's leading string was read */
    bool exec_comment;    /* inside MySQL's executable comment */
    size_t no_bracket;    /* no ']' at or after this offset */
};

/*
 * Start reading in (borrowed; it must outlive the lexer) in context ctx.
 * With backslash true a backslash escapes the next byte inside strings
 * (MySQL's default); without, it is an ordinary byte (standard SQL).
 */
void inspect_sql_lexer_init(struct inspect_sql_lexer *lx, struct slice in,
                            enum inspect_sql_context ctx, bool backslash);

/*
 * The next token into *t. Returns false at the end of the input. Tokens
 * come in input order, never overlap, and each call consumes at least
 * one byte, so reading a value is linear in its length.
 */
bool inspect_sql_next(struct inspect_sql_lexer *lx,
                      struct inspect_sql_token *t);

/*
 * Write the classes of the first cap - 1 tokens of in, read in context
 * ctx, into fp as a NUL-terminated string. Returns the number of
 * tokens in the whole input.
 */
size_t inspect_sql_fingerprint(struct slice in, enum inspect_sql_context ctx,
                               char *fp, size_t cap);

/*
 * True when v's text reads as SQL injection in any of the contexts,
 * with *out filled (detector "sqli", reason "inspect.sqli"). Linear in
 * the length of the text.
 */
bool inspect_sqli_match(const struct inspect_value *v,
                        struct inspect_verdict *out);

/*
 * URLs and SSRF.
 *
 * inspect_url_parse reads a URL as WHATWG-conforming resolvers and curl
 * do (see url.c); inspect_host_classify says what network a host names;
 * inspect_ssrf_match refuses values that are network URLs to anything
 * but public hosts over allowed schemes. Names are not resolved: a
 * public name whose DNS answer is an internal address (DNS rebinding)
 * passes here, and only the fetcher, by checking the address it
 * connects to, can close that (docs/inspect.md).
 */
#define INSPECT_URL_MAX 4096 /* longest URL read; bound on max_len */

/* A parsed URL; every slice points into the caller's buffer. */
struct inspect_url {
    struct slice scheme;   /* empty for "//host" */
    struct slice userinfo; /* before the last '@' of the authority */
    struct slice host;     /* as written; brackets kept for IPv6 */
    struct slice port;     /* digits, may be empty */
    struct slice path;     /* the rest: path, query, fragment */
    uint64_t port_num;     /* when has_port */
    bool has_authority;
    bool has_userinfo;
    bool has_port;
    bool ipv6_literal;     /* host is "[...]" */
};

/*
 * Parse s, copying it into buf[0..cap) without tabs, newlines and
 * surrounding controls (backslashes become slashes in special schemes).
 * Returns AW_OK, AW_DECLINED when s is not a URL (no scheme and no
 * leading "//"), AW_INVALID for a bad port or an unclosed '[', or
 * AW_TOOBIG when cap < s.len.
 */
int inspect_url_parse(struct slice s, char *buf, size_t cap,
                      struct inspect_url *u);

/* What a host names. */
enum inspect_host_class {
    INSPECT_HOST_PUBLIC,
    INSPECT_HOST_LOOPBACK,      /* 127/8, ::1, localhost, *.localhost */
    INSPECT_HOST_PRIVATE,       /* RFC 1918, CGNAT, ULA, site-local */
    INSPECT_HOST_LINK_LOCAL,    /* 169.254/16, fe80::/10 */
    INSPECT_HOST_METADATA,      /* cloud metadata addresses */
    INSPECT_HOST_MULTICAST,
    INSPECT_HOST_UNSPECIFIED,   /* 0/8, :: */
    INSPECT_HOST_RESERVED,      /* documentation, 240/4, Teredo, ... */
    INSPECT_HOST_INTERNAL_NAME, /* a configured internal name */
    INSPECT_HOST_SINGLE_LABEL,  /* "redis": resolved by search domains */
    INSPECT_HOST_INVALID,       /* not a valid host */
};

enum inspect_host_kind {
    INSPECT_HOST_NAME,
    INSPECT_HOST_IPV4,
    INSPECT_HOST_IPV6,
};

struct inspect_host {
    enum inspect_host_kind kind;
    enum inspect_host_class cls;
    uint8_t addr[16];  /* IPv4 in the first 4 bytes, or IPv6 */
    bool zone;         /* an IPv6 zone identifier was given */
    struct slice name; /* decoded name, in the caller's buffer */
};

/* SSRF options; inspect_ssrf_opts_default gives the defaults noted. */
struct inspect_ssrf_opts {
    const char *const *schemes;  /* allowed, lower case: http, https */
    size_t nschemes;
    const char *const *internal; /* internal names, lower case, exact or
                                    "*.suffix": *.internal, *.local,
                                    *.localdomain, *.home.arpa, ... */
    size_t ninternal;
    bool allow_userinfo;         /* credentials in URLs, default false */
    bool allow_single_label;     /* hosts without a dot, default false */
    size_t max_len;              /* longest URL read, default 2048 */
};

/* Fill o with the defaults; the lists are static. */
void inspect_ssrf_opts_default(struct inspect_ssrf_opts *o);

/*
 * Classify host (as in inspect_url: bracketed when IPv6) after
 * percent-decoding, lower-casing, IDNA mapping of fullwidth characters
 * and removing one trailing dot, using buf[0..cap) for the decoded
 * name. IPv4 is read in every numeric form; IPv6 forms that embed IPv4
 * are classified by it. Returns AW_OK with *out filled, or AW_TOOBIG
 * when cap < host.len.
 */
int inspect_host_classify(struct slice host, bool bracketed,
                          const struct inspect_ssrf_opts *o, char *buf,
                          size_t cap, struct inspect_host *out);

/* A stable name for a class: "loopback", "metadata", ... */
const char *inspect_host_class_name(enum inspect_host_class c);

/*
 * True when v's text is a network URL that must not be fetched: a
 * refused scheme, a host that is not public, a host that another reader
 * would see differently, credentials, or a URL too long or malformed.
 * The rule is the host class name or "scheme", "ambiguous_url",
 * "userinfo", "bad_url", "too_long"; detector "ssrf", reason
 * "inspect.ssrf". Values that are not URLs pass.
 */
bool inspect_ssrf_match(const struct inspect_value *v,
                        const struct inspect_ssrf_opts *o,
                        struct inspect_verdict *out);

/*
 * The detectors below share one contract: true when v's text holds what
 * the detector looks for, with *out filled (detector and reason
 * "inspect.<detector>" as named, rule as listed); false otherwise. Each
 * reads the text once or a fixed number of times, allocates nothing,
 * and looks at v->origin only where noted.
 */

/*
 * "traversal": ".." segments, with backslashes, overlong and fullwidth
 * dots and slashes, "..;" and "....//" (rule "dot_dot"); absolute paths
 * of well-known secrets ("sensitive_file"); NUL bytes ("nul_byte"). In
 * INSPECT_JSON_VALUE and INSPECT_FORM_FIELD values, which are free text,
 * a single "../" is a relative link and two in a row are needed.
 */
bool inspect_traversal_match(const struct inspect_value *v,
                             struct inspect_verdict *out);

/*
 * "crlf": line breaks that start a status line ("response_splitting")
 * or a header an attacker gains from ("header_injection"). In
 * INSPECT_HEADER and INSPECT_COOKIE values any CR or LF counts
 * ("line_break").
 */
bool inspect_crlf_match(const struct inspect_value *v,
                        struct inspect_verdict *out);

/*
 * "nosql": v's text is a name (a JSON member name or a parameter name)
 * that is a MongoDB query operator, whole or in brackets: "$ne",
 * "password[$regex]" (rule "operator"); or a value holding JSON with an
 * operator as a member name, '{"$ne": null}' (rule "json_operator").
 */
bool inspect_nosql_match(const struct inspect_value *v,
                         struct inspect_verdict *out);

/*
 * "cmdi": a shell separator and a known command with command-line
 * arguments ("chained_command"), a command substitution $(..) or `..`
 * ("substitution"), or a separator and a path spelled with globs,
 * /???/??t ("glob_command").
 */
bool inspect_cmdi_match(const struct inspect_value *v,
                        struct inspect_verdict *out);

/*
 * "template": template expressions that do more than name a value
 * (rules "jinja_expression", "jinja_statement", "el_expression",
 * "erb_expression", "freemarker_directive", "ognl_expression"), and
 * Log4j JNDI lookups, nested obfuscation included ("jndi_lookup").
 */
bool inspect_template_match(const struct inspect_value *v,
                            struct inspect_verdict *out);

/* "ldap": a value that closes an LDAP filter component and opens
   another ("filter_injection"). */
bool inspect_ldap_match(const struct inspect_value *v,
                        struct inspect_verdict *out);

/*
 * "xss": script-capable elements ("active_tag"), event handlers or
 * script URLs in a tag ("tag_attribute"), a value that closes an
 * attribute and adds a handler ("attribute_breakout"), and a value that
 * is a javascript:, vbscript: or data:text/html URL ("script_url").
 * Decode HTML references first where the value reaches HTML.
 */
bool inspect_xss_match(const struct inspect_value *v,
                       struct inspect_verdict *out);

/*
 * "xxe": v's text read as XML (a document or a piece of one) makes a
 * parser fetch or expand more than it holds: an entity declared with a
 * SYSTEM or PUBLIC identifier ("external_entity"), any parameter entity
 * ("parameter_entity"), a DOCTYPE with an external subset other than a
 * W3C DTD named by a public identifier ("external_dtd"), entities whose
 * text references other entities, more than 16 entity declarations or,
 * with entities declared, more than 64 references to them
 * ("entity_expansion"), and XInclude ("xinclude"). DOCTYPE, ENTITY,
 * SYSTEM and PUBLIC match in any case.
 */
bool inspect_xxe_match(const struct inspect_value *v,
                       struct inspect_verdict *out);

/* The detectors, as bits of a set. */
enum inspect_detector {
    INSPECT_SQLI = 1 << 0,
    INSPECT_SSRF = 1 << 1,
    INSPECT_TRAVERSAL = 1 << 2,
    INSPECT_CRLF = 1 << 3,
    INSPECT_NOSQL = 1 << 4,     /* for names, not values */
    INSPECT_CMDI = 1 << 5,
    INSPECT_TEMPLATE = 1 << 6,
    INSPECT_LDAP = 1 << 7,
    INSPECT_XSS = 1 << 8,
    INSPECT_XXE = 1 << 9,
};

#define INSPECT_NDETECTORS 10
#define INSPECT_ALL ((1u << INSPECT_NDETECTORS) - 1) /* every detector */

/*
 * Run every detector in mask (INSPECT_* bits) on v and put in *out the
 * verdict with the highest score (the earliest detector in the enum's
 * order on a tie). ssrf may be NULL for the defaults. Returns true when
 * any detector matched; *out is untouched otherwise.
 */
bool inspect_eval(const struct inspect_value *v, unsigned mask,
                  const struct inspect_ssrf_opts *ssrf,
                  struct inspect_verdict *out);

/*
 * Pattern databases.
 *
 * Most values hold nothing a detector looks for, and most detectors can
 * tell so from a few literals or short patterns (a quote or a SQL
 * keyword, "${", "<", "..", a scheme). An inspect_db holds those
 * patterns for a set of detectors, compiled once per configuration
 * snapshot; one scan of a value names the detectors worth running on
 * it. The patterns are necessary conditions: a detector left out of the
 * answer would not have matched the value, whatever its origin and the
 * SSRF options, provided the scan reads the same text the detectors
 * then read (decoded the same way: HTML references included for xss
 * when the caller decodes them for it).
 *
 * A db is immutable once compiled and shared by every worker. Scanning
 * needs scratch space that belongs to one worker at a time;
 * inspect_scratch_reserve makes a worker's scratch fit a db, so one
 * scratch serves every snapshot a worker still has requests on.
 */
struct inspect_db;
struct inspect_scratch;

/*
 * Compile the patterns of the detectors in mask (INSPECT_* bits) into
 * *out. Returns AW_OK, AW_NOMEM, or AW_INVALID with a message in
 * err[0..errlen) when the pattern library refuses them.
 */
int inspect_db_compile(unsigned mask, struct inspect_db **out, char *err,
                       size_t errlen);
void inspect_db_free(struct inspect_db *db);

/* Make *s (NULL at first) fit db, allocating or growing it. Returns
   AW_OK or AW_NOMEM (*s is then unchanged). */
int inspect_scratch_reserve(struct inspect_scratch **s,
                            const struct inspect_db *db);
void inspect_scratch_free(struct inspect_scratch *s);

/*
 * The detectors of mask that may match text: mask with the bits of
 * those whose patterns are absent from text cleared. s must have been
 * reserved for db. A db compiled without a detector of mask leaves its
 * bit set, and so does a scan that cannot run (a scratch not reserved
 * for db, a text of 4 GiB or more). One linear pass over text, which
 * stops once every detector asked about has been seen; no allocation.
 */
unsigned inspect_db_candidates(const struct inspect_db *db,
                               struct inspect_scratch *s, struct slice text,
                               unsigned mask);

/*
 * Sensitive data.
 *
 * What a response must not carry to a client: payment card numbers,
 * IBANs, national identity numbers, e-mail addresses, JWTs, PEM private
 * keys, cloud providers' keys and apiward's own API keys. One
 * Vectorscan database, compiled once per configuration snapshot for
 * the kinds asked for, finds candidates in one pass over a body; a
 * validator then confirms each one (Luhn, mod 97, the number rules of
 * a national id, the structure of a token) and measures it. A candidate
 * that continues a longer run of digits or letters is not a finding:
 * an order number, a timestamp or a UUID holds digits, not a card.
 *
 * The scan is linear in the length of the body: every validator reads
 * a bounded window, or moves a per-kind cursor past what it read so
 * that no byte is read twice by the same kind. Nothing is allocated
 * per scan or per finding. Findings name the kind, the rule (the card
 * issuer, the key's format) and where they lie; never the bytes.
 *
 * Masking keeps the length, so a JSON body stays valid and its
 * Content-Length holds: every byte of a finding becomes '*', except
 * the last four digits of a card, the separators between a card's
 * digit groups, the "aw_<id>_" head of an apiward API key (the id
 * names a key and is not secret), and backslash escapes inside the
 * finding, kept whole so that a JSON string stays a string. A card
 * written as a bare JSON number has its digits masked with '9', which
 * keeps it a number.
 */

/* The kinds, as bits of a set. */
enum inspect_sensitive_kind {
    INSPECT_SENS_CARD = 1 << 0,        /* "card" */
    INSPECT_SENS_IBAN = 1 << 1,        /* "iban" */
    INSPECT_SENS_NATIONAL_ID = 1 << 2, /* "national_id": US SSN */
    INSPECT_SENS_EMAIL = 1 << 3,       /* "email" */
    INSPECT_SENS_JWT = 1 << 4,         /* "jwt" */
    INSPECT_SENS_PRIVATE_KEY = 1 << 5, /* "private_key" */
    INSPECT_SENS_CLOUD_KEY = 1 << 6,   /* "cloud_key" */
    INSPECT_SENS_API_KEY = 1 << 7,     /* "api_key" */
};

#define INSPECT_SENS_NKINDS 8
#define INSPECT_SENS_ALL ((1u << INSPECT_SENS_NKINDS) - 1)

/* The configuration name of one kind bit ("card"); NULL for another
   value. */
const char *inspect_sensitive_name(unsigned kind);

/* The kind bit of a configuration name; 0 when it names none. */
unsigned inspect_sensitive_parse(struct slice name);

/* One finding: where it lies in the text scanned. */
struct inspect_sensitive_find {
    unsigned kind;    /* one INSPECT_SENS_* bit */
    const char *rule; /* static: "visa", "us_ssn", "aws_access_key",
                         "rsa", ... (see docs/inspect.md) */
    size_t offset;
    size_t length;
};

struct inspect_sensitive_db;
struct inspect_sensitive_scratch;

/*
 * Compile the patterns of the kinds in kinds (INSPECT_SENS_* bits) into
 * *out. A db for no kind is valid and finds nothing. Returns AW_OK,
 * AW_NOMEM, or AW_INVALID with a message in err[0..errlen) when
 * Vectorscan refuses the patterns (or the CPU lacks what it needs).
 */
int inspect_sensitive_db_compile(unsigned kinds,
                                 struct inspect_sensitive_db **out,
                                 char *err, size_t errlen);
void inspect_sensitive_db_free(struct inspect_sensitive_db *db);

/* The kinds db was compiled for. */
unsigned inspect_sensitive_db_kinds(const struct inspect_sensitive_db *db);

/*
 * Make *s (NULL at first) fit db, allocating or growing it; one scratch
 * serves every db of a worker, one scan at a time. Returns AW_OK or
 * AW_NOMEM (*s is then unchanged).
 */
int inspect_sensitive_scratch_reserve(struct inspect_sensitive_scratch **s,
                                      const struct inspect_sensitive_db *db);
void inspect_sensitive_scratch_free(struct inspect_sensitive_scratch *s);

/*
 * Called for each finding, in the order they are confirmed (by the end
 * of their candidate, not strictly by offset; two kinds may overlap).
 * A non-zero return stops the scan.
 */
typedef int (*inspect_sensitive_cb)(void *ctx,
                                    const struct inspect_sensitive_find *f);

/*
 * Scan text (borrowed) for the kinds of kinds that db was compiled for,
 * calling on_find for each finding. s must have been reserved for db.
 * Returns AW_OK, AW_DONE when on_find stopped the scan, or AW_ERROR
 * when Vectorscan failed (a scratch in use by another scan).
 */
int inspect_sensitive_scan(const struct inspect_sensitive_db *db,
                           struct inspect_sensitive_scratch *s,
                           struct slice text, unsigned kinds,
                           inspect_sensitive_cb on_find, void *ctx);

/* Masking flags. */
enum inspect_sensitive_mask_flag {
    INSPECT_SENS_MASK_JSON = 1 << 0, /* text is JSON: a card that is a
                                        bare number is masked with '9' */
};

/*
 * Write the masked form of f's bytes of text into out[0..cap): the
 * first MIN(f->length, cap) bytes of it (out may be text's own bytes at
 * f->offset: masking in place). flags: INSPECT_SENS_MASK_* bits.
 * Returns the number of bytes written.
 */
size_t inspect_sensitive_mask(struct slice text,
                              const struct inspect_sensitive_find *f,
                              unsigned flags, char *out, size_t cap);

#endif

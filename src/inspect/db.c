/*
 * Pattern databases: which detectors are worth running on a value.
 *
 * Each detector has a few Vectorscan patterns, and each pattern is a
 * necessary condition of some of its rules: when a rule matches a
 * value, at least one pattern naming that rule matches it too. The
 * patterns are derived from the detector's code, not from attacks, so
 * they hold for every spelling the detector reads (comments between SQL
 * keywords, tabs inside a URL scheme, overlong and fullwidth dots) and
 * for every origin and set of SSRF options: the scan sees only the
 * text. They over-approximate freely; a pattern that matches and a
 * detector that then finds nothing costs the detector's run, nothing
 * more. The unit test test_inspect_db and the fuzz target
 * fuzz_inspect_db hold the table to that promise.
 *
 * All patterns of a db are compiled into one Vectorscan block-mode
 * database with the pattern's index as its id, so one pass over a value
 * reports every detector whose condition it meets. Vectorscan scans in
 * time linear in the value with the scratch reserved beforehand; nothing
 * is allocated per value. Two conditions are finished in C: the SQL
 * quote is a one-byte pattern confirmed at each match by a look at the
 * bytes after it (a few percent cheaper per scan than the same
 * condition as a pattern); and the NUL byte, which Vectorscan 5.4.9
 * misses, is found with memchr. A value made of bytes no pattern needs
 * but letters skips the scan when C finds none of the SQL words in it
 * (is_plain, plain_words).
 */
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hs.h>

#include "internal.h"

/* A SQL keyword as the tokenizer reads one (sqli.c): a whole word. A
   keyword token is never preceded by a letter g-z or '_' or a byte of
   UTF-8 (it would continue the word), but may follow a digit or a-f,
   which end numbers ("1union", "0x1aselect"). */
#define SQL_L "(?:^|[^g-zG-Z_\\x80-\\xff])"
#define SQL_R "(?:[^A-Za-z0-9_$\\x80-\\xff]|$)"

/* A closed comment, to its first star and slash, spelled without a
   dot: Vectorscan 5.4.9 was seen to miss matches of databases with
   ".*" between literals. */
#define SQL_COMMENT "/\\*[^*]*\\*+(?:[^/*][^*]*\\*+)*/"

/* SQL's blanks between two tokens (skip_blank in sqli.c): spaces,
   closed comments, line comments ended by a newline, and the markers
   of MySQL's executable comments. */
#define SQL_BLANK                                                       \
    "(?:[ \\t\\n\\v\\f\\r]|" SQL_COMMENT "|/\\*![0-9]*|\\*/|#[^\\n]*\\n|"   \
    "--[^\\n]*\\n)*"

/* What may come before a head that starts with a logic operator, as is:
   blanks and comments, a '-', a number (with hex digits and exponents)
   or a variable, and ')'. Any byte but a letter, then the comments and
   number forms that hold letters. */
#define SQL_HEAD                                                        \
    "^(?:[^A-Za-z\\x80-\\xff]|" SQL_COMMENT "|#[^\\n]*\\n|--[^\\n]*\\n|"   \
    "0[xXbB][0-9A-Fa-f]+|[0-9.][eE]|[@$][A-Za-z0-9_$.\\x80-\\xff]*)*"

/* Tabs and newlines, which browsers and URL parsers drop anywhere
   inside a scheme. */
#define T "[\\t\\n\\r]*"

/* A dot as the traversal detector reads one: ASCII, overlong in two,
   three or four bytes, fullwidth. */
#define DOT                                                             \
    "(?:\\.|\\xc0\\xae|\\xe0\\x80\\xae|\\xf0\\x80\\x80\\xae|\\xef\\xbc\\x8e)"

#define CASELESS HS_FLAG_CASELESS

static bool quote_breaks_out(struct slice text, size_t end);
static bool has_nul(struct slice text, size_t end);

static const struct inspect_pattern patterns[] = {
    /* sqli. In the quoted readings the value must close the query's
       string: a quote, checked by quote_breaks_out. */
    {INSPECT_SQLI, "tautology comment_truncation subquery boolean_function "
                   "order_by_probe",
     "['\"]", 0, quote_breaks_out,
     "not after a space, tab, CR or LF, and followed past blanks and ')' "
     "by an operator, a comment, a quote, a NUL or a word a breakout "
     "continues with"},
    /* As is: a head of a number or variable (or nothing) and then AND,
       OR, HAVING, ORDER or GROUP. */
    {INSPECT_SQLI, "tautology subquery boolean_function order_by_probe",
     SQL_HEAD "(?:or|and|xor|having|order|group)" SQL_R, CASELESS, NULL,
     NULL},
    {INSPECT_SQLI, "tautology subquery boolean_function",
     SQL_HEAD "(?:&&|\\|\\|)", 0, NULL, NULL},
    {INSPECT_SQLI, "union_select subquery stacked_query",
     SQL_L "select" SQL_R, CASELESS, NULL, NULL},
    {INSPECT_SQLI, "stacked_query",
     ";" SQL_BLANK "(?:insert|update|delete|drop|create|alter|truncate|"
     "exec|execute|declare|shutdown|grant)" SQL_R,
     CASELESS, NULL, NULL},
    {INSPECT_SQLI, "time_delay stacked_query",
     SQL_L "(?:sleep|pg_sleep|benchmark|waitfor)" SQL_R, CASELESS, NULL,
     NULL},
    {INSPECT_SQLI, "dangerous_function",
     SQL_L "(?:load_file|extractvalue|updatexml|xp_cmdshell|sys_eval|"
     "sys_exec|dbms_pipe\\.receive_message|utl_http\\.request|"
     "utl_inaddr\\.get_host_address)" SQL_R,
     CASELESS, NULL, NULL},
    {INSPECT_SQLI, "into_outfile", SQL_L "(?:outfile|dumpfile)" SQL_R,
     CASELESS, NULL, NULL},
    {INSPECT_SQLI, "tautology", SQL_L "having" SQL_R, CASELESS, NULL, NULL},

    /* ssrf: the value starts like a URL (inspect_url_parse does not
       decline it), whatever the options say: after leading controls and
       spaces, a scheme and a colon followed by something other than a
       space, or two slashes or backslashes (the parser takes a NUL
       for the second). Tabs and newlines inside are dropped first. */
    {INSPECT_SSRF, "*",
     "^[\\x00-\\x20]*[A-Za-z][A-Za-z0-9+.\\-\\t\\n\\r]*:[\\t\\n\\r]*"
     "[^ \\t\\n\\r]",
     0, NULL, NULL},
    {INSPECT_SSRF, "*",
     "^[\\x00-\\x20]*[/\\\\][\\t\\n\\r]*[/\\\\\\x00]", 0, NULL, NULL},

    /* traversal */
    {INSPECT_TRAVERSAL, "nul_byte", "\\x00", INSPECT_PATTERN_IN_C, has_nul,
     "(memchr: Vectorscan 5.4.9 misses a lone NUL past a value's first "
     "64 bytes)"},
    {INSPECT_TRAVERSAL, "dot_dot", DOT DOT, 0, NULL, NULL},
    {INSPECT_TRAVERSAL, "sensitive_file",
     "/etc/(?:passwd|shadow|group|hosts)|/proc/self/|/proc/version|"
     "/\\.ssh/|/id_rsa|/\\.aws/|/\\.git/config|/\\.htpasswd|/\\.htaccess|"
     "web-inf/web\\.xml|[/\\\\]win\\.ini|\\\\boot\\.ini|"
     "[/\\\\]windows[/\\\\]system32|\\\\system32\\\\|/\\.env",
     CASELESS, NULL, NULL},

    /* crlf: a line break, or the characters that become one */
    {INSPECT_CRLF, "*", "[\\r\\n]|\\xe5\\x98[\\x8a\\x8d]", 0, NULL, NULL},

    /* nosql: an operator as a whole name, a bracketed part or a JSON
       member name */
    {INSPECT_NOSQL, "*",
     "(?:^|[\\[\\]\"])\\$(?:ne|eq|gte?|lte?|in|nin|regex|where|exists|expr|"
     "function|accumulator|or|and|nor|not|elemmatch|all|size|type|mod|"
     "text|jsonschema|options|lookup|unionwith|merge|out)(?:[\\[\\]\"]|$)",
     CASELESS, NULL, NULL},

    /* cmdi: a separator or a substitution */
    {INSPECT_CMDI, "*", "[;|&\\n\\r`]|\\$\\(", 0, NULL, NULL},

    /* template: an expression's opening */
    {INSPECT_TEMPLATE, "jinja_expression jinja_statement", "\\{[{%]", 0,
     NULL, NULL},
    {INSPECT_TEMPLATE, "el_expression ognl_expression jndi_lookup",
     "[$#*@%]\\{", 0, NULL, NULL},
    {INSPECT_TEMPLATE, "erb_expression freemarker_directive", "<[%#]", 0,
     NULL, NULL},

    /* ldap */
    {INSPECT_LDAP, "filter_injection", "\\)\\(|^\\*\\)", 0, NULL, NULL},

    /* xss */
    {INSPECT_XSS, "active_tag tag_attribute", "<[A-Za-z]", 0, NULL, NULL},
    {INSPECT_XSS, "attribute_breakout",
     "['\"][ \\t\\n\\r\\f/]+on[a-z]{3}[a-z]*[ \\t\\n\\r\\f]*=", CASELESS,
     NULL, NULL},
    {INSPECT_XSS, "script_url",
     "^[\\x00-\\x20]*(?:j" T "a" T "v" T "a" T "s" T "c" T "r" T "i" T "p" T
     "t" T ":|v" T "b" T "s" T "c" T "r" T "i" T "p" T "t" T ":|d" T "a" T
     "t" T "a" T ":" T "(?:t" T "e" T "x" T "t" T "/" T "h" T "t" T "m" T
     "l|i" T "m" T "a" T "g" T "e" T "/" T "s" T "v" T "g" T "\\+" T "x" T
     "m" T "l))",
     CASELESS, NULL, NULL},

    /* xxe: a declaration, in any case, or an XInclude name */
    {INSPECT_XXE, "external_dtd external_entity parameter_entity "
                  "entity_expansion",
     "<!(?:doctype|entity)", CASELESS, NULL, NULL},
    {INSPECT_XXE, "xinclude", "xi:include|w3\\.org/200[13]/xinclude",
     CASELESS, NULL, NULL},
};

static bool
sql_space(unsigned char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

/* True when c continues a SQL word (sqli.c's is_word). */
static bool
sql_word_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_' || c == '$' || c >= 0x80;
}

/*
 * The quote at text[end - 1] closes the query's string as a breakout
 * in a quoted reading (sqli.c's match_head) may: it does not follow a
 * space, tab, CR or LF, and past blanks and ')' comes what the rules look
 * at: an operator or comparison (comments start with '/', '#' or '-',
 * which are among them; the tokenizer reads a NUL as a comparison),
 * another quote, or a logic, comparison or arithmetic word, HAVING,
 * ORDER or GROUP as a whole word. The blanks stop at the next quote at
 * the latest, so the checks of all quotes read the value once.
 */
static bool
quote_breaks_out(struct slice text, size_t end)
{
    static const char *const words[] = {
        "or", "and", "xor", "like", "is", "in", "between", "regexp",
        "rlike", "div", "mod", "having", "order", "group",
    };
    const char *s = text.ptr;
    size_t i = end;

    /* sqli.c's quote_closes: only these four blanks open a quotation
       in prose; after a form feed the quote still closes. */
    if (end >= 2 && memchr(" \t\n\r", s[end - 2], 4) != NULL)
        return false;
    while (i < text.len && (sql_space((unsigned char)s[i]) || s[i] == ')'))
        i++;
    if (i >= text.len)
        return false;
    if (memchr("=<>+-*/%&|^~!#:'\"", s[i], 18) != NULL)
        return true;    /* the 18th byte is the NUL */
    for (size_t k = 0; k < ARRAY_LEN(words); k++) {
        size_t n = strlen(words[k]);

        if (inspect_prefix_nocase(s + i, text.len - i, words[k]) &&
            (i + n == text.len || !sql_word_byte((unsigned char)s[i + n])))
            return true;
    }
    return false;
}

/* A NUL byte anywhere in the value. */
static bool
has_nul(struct slice text, size_t end)
{
    (void)end;
    return text.len > 0 && memchr(text.ptr, 0, text.len) != NULL;
}

const struct inspect_pattern *
inspect_db_patterns(size_t *n)
{
    *n = ARRAY_LEN(patterns);
    return patterns;
}

struct inspect_db {
    hs_database_t *hs; /* NULL when mask has no patterns */
    unsigned mask;     /* the detectors compiled */
    uint64_t serial;   /* unique among the dbs of the process */
};

/*
 * Growing a scratch space clones it, which costs far more than a scan,
 * so a scratch remembers the last SCRATCH_FITS dbs it was made to fit
 * (by serial: an address may be reused by a later db) and a reserve for
 * one of them returns at once. A scratch grown for a db stays valid for
 * the dbs it fitted before.
 */
#define SCRATCH_FITS 8

struct inspect_scratch {
    hs_scratch_t *hs;
    uint64_t fits[SCRATCH_FITS]; /* serials; 0 is none */
    unsigned next;               /* the slot the next serial takes */
};

static _Atomic uint64_t db_serials;

static bool
scratch_fits(const struct inspect_scratch *s, const struct inspect_db *db)
{
    for (unsigned i = 0; i < SCRATCH_FITS; i++)
        if (s->fits[i] == db->serial)
            return true;
    return false;
}

static void
scratch_fitted(struct inspect_scratch *s, const struct inspect_db *db)
{
    s->fits[s->next] = db->serial;
    s->next = (s->next + 1) % SCRATCH_FITS;
}

int
inspect_db_compile(unsigned mask, struct inspect_db **out, char *err,
                   size_t errlen)
{
    const char *expr[ARRAY_LEN(patterns)];
    unsigned flags[ARRAY_LEN(patterns)], ids[ARRAY_LEN(patterns)];
    hs_compile_error_t *cerr = NULL;
    struct inspect_db *db;
    unsigned n = 0;

    db = calloc(1, sizeof(*db));
    if (db == NULL)
        return AW_NOMEM;
    db->mask = mask;
    db->serial = atomic_fetch_add(&db_serials, 1) + 1;
    for (unsigned i = 0; i < ARRAY_LEN(patterns); i++) {
        if (!(mask & patterns[i].detector) ||
            (patterns[i].flags & INSPECT_PATTERN_IN_C))
            continue;
        expr[n] = patterns[i].expr;
        /* A pattern with a confirmation reports every match, since
           the first may not be the one that holds. */
        flags[n] = patterns[i].flags |
                   (patterns[i].confirm == NULL ? HS_FLAG_SINGLEMATCH : 0);
        ids[n++] = i;
    }
    if (n > 0 && hs_compile_multi(expr, flags, ids, n, HS_MODE_BLOCK, NULL,
                                  &db->hs, &cerr) != HS_SUCCESS) {
        if (cerr != NULL && cerr->expression >= 0)
            snprintf(err, errlen, "pattern %u: %s",
                     ids[cerr->expression], cerr->message);
        else
            snprintf(err, errlen, "%s",
                     cerr != NULL ? cerr->message : "compile failed");
        hs_free_compile_error(cerr);
        free(db);
        return AW_INVALID;
    }
    *out = db;
    return AW_OK;
}

void
inspect_db_free(struct inspect_db *db)
{
    if (db == NULL)
        return;
    hs_free_database(db->hs);
    free(db);
}

/*
 * Vectorscan grows a scratch in place and may free it when it cannot,
 * so the growth happens on a clone: *s stays as it was on failure.
 */
int
inspect_scratch_reserve(struct inspect_scratch **s,
                        const struct inspect_db *db)
{
    struct inspect_scratch *fresh = NULL;
    hs_scratch_t *grown = NULL;

    if (*s != NULL && scratch_fits(*s, db))
        return AW_OK;
    if (*s == NULL) {
        fresh = calloc(1, sizeof(*fresh));
        if (fresh == NULL)
            return AW_NOMEM;
    }
    if (db->hs == NULL)
        goto done;
    if (*s != NULL && (*s)->hs != NULL &&
        hs_clone_scratch((*s)->hs, &grown) != HS_SUCCESS)
        goto nomem;
    if (hs_alloc_scratch(db->hs, &grown) != HS_SUCCESS)
        goto nomem;
    if (*s != NULL) {
        hs_free_scratch((*s)->hs);
        (*s)->hs = grown;
        scratch_fitted(*s, db);
        return AW_OK;
    }
    fresh->hs = grown;
done:
    if (*s == NULL)
        *s = fresh;
    scratch_fitted(*s, db);
    return AW_OK;
nomem:
    hs_free_scratch(grown);
    free(fresh);
    return AW_NOMEM;
}

void
inspect_scratch_free(struct inspect_scratch *s)
{
    if (s == NULL)
        return;
    hs_free_scratch(s->hs);
    free(s);
}

/*
 * Plain values.
 *
 * Every pattern of the table but those made of SQL words needs one of
 * the bytes below (a byte of UTF-8 among them), or two dots in a row.
 * A value with none of them, "San Francisco" or "ord_8f3a2c91", can
 * meet only the word patterns, which plain_words checks in C; when it
 * meets none, the scan is skipped, since Vectorscan's cost per call is
 * most of the cost of a short value. The unit test and the fuzz target
 * compare the answer with each pattern run by PCRE2, so a pattern
 * added to the table without its bytes here shows up as a miss.
 */
static const bool special[128] = {
    [0] = true,    ['\n'] = true, ['\r'] = true, ['\''] = true,
    ['"'] = true,  ['&'] = true,  ['|'] = true,  [';'] = true,
    [':'] = true,  ['/'] = true,  ['\\'] = true, ['$'] = true,
    ['{'] = true,  ['<'] = true,  [')'] = true,  ['`'] = true,
};

static bool
is_plain(struct slice t)
{
    for (size_t i = 0; i < t.len; i++) {
        unsigned char c = (unsigned char)t.ptr[i];

        if (c >= 0x80 || special[c] ||
            (c == '.' && i + 1 < t.len && t.ptr[i + 1] == '.'))
            return false;
    }
    return true;
}

static bool
is_letter(unsigned char c)
{
    return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
}

static bool
is_hex(unsigned char c)
{
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

/*
 * The first letter of t that no part of SQL_HEAD can consume: a hex
 * number after "0x" or "0b", an exponent after a digit or '.', or a
 * variable after '@' (a plain value has no comment, which needs '/' or
 * a line break, and no '$'). A head word can start at or before it
 * only. t.len when there is none.
 */
static size_t
head_end(struct slice t)
{
    const char *s = t.ptr;
    size_t i = 0;

    while (i < t.len) {
        unsigned char c = (unsigned char)s[i];

        if (c == '@') {
            for (i++; i < t.len && (is_letter((unsigned char)s[i]) ||
                                    (s[i] >= '0' && s[i] <= '9') ||
                                    s[i] == '_' || s[i] == '.');
                 i++)
                ;
        } else if (c == '0' && i + 2 < t.len &&
                   strchr("xXbB", s[i + 1]) != NULL &&
                   is_hex((unsigned char)s[i + 2])) {
            for (i += 2; i < t.len && is_hex((unsigned char)s[i]); i++)
                ;
        } else if (((c >= '0' && c <= '9') || c == '.') && i + 1 < t.len &&
                   (s[i + 1] | 0x20) == 'e') {
            i += 2;
        } else if (is_letter(c)) {
            return i;
        } else {
            i++;
        }
    }
    return t.len;
}

/* True when s[0..len) starts with lit, ASCII case folded. */
static bool
starts(const char *s, size_t len, const char *lit)
{
    return inspect_prefix_nocase(s, len, lit);
}

/*
 * True when a word of the word patterns starts at s (a letter): the
 * words of SQL_HEAD's pattern when head is true ("order" starts like
 * "or"), the keywords of the others wherever they are (as prefixes:
 * the word boundaries are left to the scan; "sys_e" for sys_eval and
 * sys_exec).
 */
static bool
word_at(const char *s, size_t len, bool head)
{
    switch (s[0] | 0x20) {
    case 'a':
        return head && starts(s, len, "and");
    case 'b':
        return starts(s, len, "benchmark");
    case 'd':
        return starts(s, len, "dbms_pipe") || starts(s, len, "dumpfile");
    case 'e':
        return starts(s, len, "extractvalue");
    case 'g':
        return head && starts(s, len, "group");
    case 'h':
        return starts(s, len, "having");
    case 'l':
        return starts(s, len, "load_file");
    case 'o':
        return (head && starts(s, len, "or")) || starts(s, len, "outfile");
    case 's':
        return starts(s, len, "select") || starts(s, len, "sleep") ||
               starts(s, len, "sys_e");
    case 'u':
        return starts(s, len, "updatexml") || starts(s, len, "utl_http") ||
               starts(s, len, "utl_inaddr");
    case 'w':
        return starts(s, len, "waitfor");
    case 'x':
        return (head && starts(s, len, "xor")) ||
               starts(s, len, "xp_cmdshell");
    default:
        return false;
    }
}

/* True when a plain value may meet a word pattern: a head word at or
   before head_end, or a keyword anywhere. */
static bool
plain_words(struct slice t)
{
    size_t end = head_end(t);

    for (size_t i = 0; i < t.len; i++)
        if (is_letter((unsigned char)t.ptr[i]) &&
            word_at(t.ptr + i, t.len - i, i <= end))
            return true;
    return false;
}

/* What one scan has found so far, what would end it early, and the
   text for the confirmations. */
struct scan {
    unsigned found;
    unsigned want;
    struct slice text;
};

static int
on_match(unsigned int id, unsigned long long from, unsigned long long to,
         unsigned int flags, void *ctx)
{
    struct scan *sc = ctx;

    (void)from;
    (void)flags;
    if ((sc->found & patterns[id].detector) ||
        (patterns[id].confirm != NULL &&
         !patterns[id].confirm(sc->text, (size_t)to)))
        return 0;
    sc->found |= patterns[id].detector;
    /* Non-zero stops the scan: every detector asked about is in. */
    return (sc->found & sc->want) == sc->want;
}

/*
 * A value too long for Vectorscan's unsigned length, or a scan that
 * fails (a scratch not reserved for db), answers with every detector:
 * the detectors then decide, as they would without a db.
 */
unsigned
inspect_db_candidates(const struct inspect_db *db, struct inspect_scratch *s,
                      struct slice text, unsigned mask)
{
    struct scan sc = {0, mask & db->mask, text};
    hs_error_t rc;

    if (db->hs == NULL || sc.want == 0 || text.len > UINT_MAX ||
        s == NULL || s->hs == NULL)
        return mask;
    for (size_t i = 0; i < ARRAY_LEN(patterns); i++)
        if ((patterns[i].flags & INSPECT_PATTERN_IN_C) &&
            (sc.want & patterns[i].detector) &&
            patterns[i].confirm(text, 0))
            sc.found |= patterns[i].detector;
    if ((sc.found & sc.want) == sc.want ||
        (is_plain(text) && !plain_words(text)))
        return (mask & ~db->mask) | (sc.found & mask);
    rc = hs_scan(db->hs, text.len > 0 ? text.ptr : "", (unsigned)text.len,
                 0, s->hs, on_match, &sc);
    if (rc != HS_SUCCESS && rc != HS_SCAN_TERMINATED)
        return mask;
    return (mask & ~db->mask) | (sc.found & mask);
}

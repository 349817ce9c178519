/*
 * SQL injection: a SQL tokenizer and rules over its token classes.
 *
 * The tokenizer follows the lexical rules that the common engines share
 * (MySQL, PostgreSQL, SQL Server, SQLite, Oracle) and, where they
 * differ, takes the reading that lets an attack through on at least one
 * of them: "--" starts a comment even without a following space, '#'
 * starts one too (MySQL), a slash, star and bang open MySQL's executable
 * comment whose content is read as code, "[" opens a quoted identifier
 * (SQL Server), "1union" is a number and a keyword (MySQL).
 *
 * Rules then look for the shapes an injection must take to do anything:
 * leave the string or number it was put in and continue the query
 * (tautologies, subqueries, comments cutting the rest off), append a
 * query (UNION SELECT), start a new statement (";"), or call something
 * with an effect (time delays, file and command functions). A shape
 * counts only when what follows it is itself plausible SQL: "union of
 * workers" and "Drop by tomorrow" hold keywords but no such shape.
 *
 * Tokens are kept in a window of WINDOW entries; every rule looks at
 * most LOOKAHEAD tokens ahead, so a value of any length is read once
 * with fixed memory.
 */
#include <string.h>

#include "internal.h"

#define WINDOW 64
#define LOOKAHEAD 16
#define KEYWORD_MAX 32 /* longer words are never keywords */

/* Keywords the rules tell apart; everything else is KW_NONE. */
enum sql_kw {
    KW_NONE,
    KW_SELECT,
    KW_INSERT,
    KW_UPDATE,
    KW_DELETE,
    KW_DDL,      /* DROP, CREATE, ALTER, TRUNCATE */
    KW_EXEC,
    KW_DECLARE,
    KW_SHUTDOWN,
    KW_WAITFOR,
    KW_GRANT,
    KW_UNION,
    KW_ALL,      /* ALL, DISTINCT */
    KW_INTO,
    KW_OUTFILE,  /* OUTFILE, DUMPFILE */
    KW_FROM,
    KW_ORDER,
    KW_GROUP,
    KW_BY,
    KW_HAVING,
    KW_LIMIT,
    KW_NULL,
    KW_BOOL,     /* TRUE, FALSE */
    KW_SET,
    KW_OBJECT,   /* TABLE, DATABASE, USER, ... after DROP or CREATE */
    KW_DELAY,    /* DELAY, TIME after WAITFOR */
    KW_WHERE,
    KW_TIMEFN,   /* functions that wait */
    KW_BENCHFN,  /* BENCHMARK(count, expression) */
    KW_DANGERFN, /* functions that reach files, commands or the network */
};

struct keyword {
    const char *word; /* lower case */
    enum inspect_sql_class cls;
    enum sql_kw kw;
};

/* Sorted by byte value for the binary search in keyword_find. */
static const struct keyword keywords[] = {
    {"all", SQL_KEYWORD, KW_ALL},
    {"alter", SQL_STATEMENT, KW_DDL},
    {"and", SQL_LOGIC, KW_NONE},
    {"as", SQL_KEYWORD, KW_NONE},
    {"benchmark", SQL_FUNCTION, KW_BENCHFN},
    {"between", SQL_COMPARE, KW_NONE},
    {"by", SQL_KEYWORD, KW_BY},
    {"case", SQL_KEYWORD, KW_NONE},
    {"create", SQL_STATEMENT, KW_DDL},
    {"database", SQL_KEYWORD, KW_OBJECT},
    {"dbms_lock.sleep", SQL_FUNCTION, KW_TIMEFN},
    {"dbms_pipe.receive_message", SQL_FUNCTION, KW_DANGERFN},
    {"declare", SQL_STATEMENT, KW_DECLARE},
    {"delay", SQL_KEYWORD, KW_DELAY},
    {"delete", SQL_STATEMENT, KW_DELETE},
    {"distinct", SQL_KEYWORD, KW_ALL},
    {"div", SQL_OPERATOR, KW_NONE},
    {"drop", SQL_STATEMENT, KW_DDL},
    {"dumpfile", SQL_KEYWORD, KW_OUTFILE},
    {"else", SQL_KEYWORD, KW_NONE},
    {"end", SQL_KEYWORD, KW_NONE},
    {"except", SQL_UNION, KW_UNION},
    {"exec", SQL_STATEMENT, KW_EXEC},
    {"execute", SQL_STATEMENT, KW_EXEC},
    {"extractvalue", SQL_FUNCTION, KW_DANGERFN},
    {"false", SQL_KEYWORD, KW_BOOL},
    {"from", SQL_KEYWORD, KW_FROM},
    {"function", SQL_KEYWORD, KW_OBJECT},
    {"grant", SQL_STATEMENT, KW_GRANT},
    {"group", SQL_KEYWORD, KW_GROUP},
    {"having", SQL_KEYWORD, KW_HAVING},
    {"in", SQL_COMPARE, KW_NONE},
    {"index", SQL_KEYWORD, KW_OBJECT},
    {"insert", SQL_STATEMENT, KW_INSERT},
    {"intersect", SQL_UNION, KW_UNION},
    {"into", SQL_KEYWORD, KW_INTO},
    {"is", SQL_COMPARE, KW_NONE},
    {"join", SQL_KEYWORD, KW_NONE},
    {"like", SQL_COMPARE, KW_NONE},
    {"limit", SQL_KEYWORD, KW_LIMIT},
    {"load_file", SQL_FUNCTION, KW_DANGERFN},
    {"minus", SQL_UNION, KW_UNION},
    {"mod", SQL_OPERATOR, KW_NONE},
    {"not", SQL_KEYWORD, KW_NONE},
    {"null", SQL_KEYWORD, KW_NULL},
    {"offset", SQL_KEYWORD, KW_NONE},
    {"on", SQL_KEYWORD, KW_NONE},
    {"or", SQL_LOGIC, KW_NONE},
    {"order", SQL_KEYWORD, KW_ORDER},
    {"outfile", SQL_KEYWORD, KW_OUTFILE},
    {"pg_sleep", SQL_FUNCTION, KW_TIMEFN},
    {"procedure", SQL_KEYWORD, KW_OBJECT},
    {"regexp", SQL_COMPARE, KW_NONE},
    {"rlike", SQL_COMPARE, KW_NONE},
    {"schema", SQL_KEYWORD, KW_OBJECT},
    {"select", SQL_STATEMENT, KW_SELECT},
    {"set", SQL_KEYWORD, KW_SET},
    {"shutdown", SQL_STATEMENT, KW_SHUTDOWN},
    {"sleep", SQL_FUNCTION, KW_TIMEFN},
    {"sys_eval", SQL_FUNCTION, KW_DANGERFN},
    {"sys_exec", SQL_FUNCTION, KW_DANGERFN},
    {"table", SQL_KEYWORD, KW_OBJECT},
    {"then", SQL_KEYWORD, KW_NONE},
    {"time", SQL_KEYWORD, KW_DELAY},
    {"top", SQL_KEYWORD, KW_NONE},
    {"trigger", SQL_KEYWORD, KW_OBJECT},
    {"true", SQL_KEYWORD, KW_BOOL},
    {"truncate", SQL_STATEMENT, KW_DDL},
    {"union", SQL_UNION, KW_UNION},
    {"update", SQL_STATEMENT, KW_UPDATE},
    {"updatexml", SQL_FUNCTION, KW_DANGERFN},
    {"user", SQL_KEYWORD, KW_OBJECT},
    {"utl_http.request", SQL_FUNCTION, KW_DANGERFN},
    {"utl_inaddr.get_host_address", SQL_FUNCTION, KW_DANGERFN},
    {"values", SQL_KEYWORD, KW_NONE},
    {"view", SQL_KEYWORD, KW_OBJECT},
    {"waitfor", SQL_STATEMENT, KW_WAITFOR},
    {"when", SQL_KEYWORD, KW_NONE},
    {"where", SQL_KEYWORD, KW_WHERE},
    {"xor", SQL_LOGIC, KW_NONE},
    {"xp_cmdshell", SQL_FUNCTION, KW_DANGERFN},
};

/* Compare word (any case) with a lower-case table entry. */
static int
keyword_cmp(const char *w, size_t len, const char *entry)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char a = inspect_lower((unsigned char)w[i]);
        unsigned char b = (unsigned char)entry[i];

        if (b == 0 || a != b)
            return b == 0 ? 1 : a - b;
    }
    return entry[len] == 0 ? 0 : -1;
}

/* The keyword spelled by w[0..len), any case, or NULL. */
static const struct keyword *
keyword_find(const char *w, size_t len)
{
    size_t lo = 0, hi = ARRAY_LEN(keywords);

    if (len > KEYWORD_MAX)
        return NULL;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = keyword_cmp(w, len, keywords[mid].word);

        if (c == 0)
            return &keywords[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

static bool
is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static bool
is_word_start(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
           c >= 0x80;
}

static bool
is_word(unsigned char c)
{
    return is_word_start(c) || is_digit(c) || c == '$';
}

static bool
is_space(unsigned char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

void
inspect_sql_lexer_init(struct inspect_sql_lexer *lx, struct slice in,
                       enum inspect_sql_context ctx, bool backslash)
{
    memset(lx, 0, sizeof(*lx));
    lx->in = in;
    lx->ctx = ctx;
    lx->backslash = backslash;
    lx->opened = ctx == INSPECT_SQL_AS_IS;
    lx->no_bracket = SIZE_MAX;
}

/*
 * The offset just past a string whose body starts at from and which is
 * closed by quote q; a doubled quote and (with backslash) an escaped
 * byte stay inside. An unterminated string runs to the end.
 */
static size_t
string_end(const struct inspect_sql_lexer *lx, size_t from, char q)
{
    const char *s = lx->in.ptr;
    size_t n = lx->in.len;

    for (size_t i = from; i < n; i++) {
        if (s[i] == '\\' && lx->backslash) {
            i++;
        } else if (s[i] == q) {
            if (i + 1 < n && s[i + 1] == q)
                i++;
            else
                return i + 1;
        }
    }
    return n;
}

/* Skip spaces, closed comments and the markers of MySQL's executable
   comments, which read as spaces. A comment or string that is not
   closed runs to the end, so no search here repeats over the same
   bytes. */
static void
skip_blank(struct inspect_sql_lexer *lx)
{
    const char *s = lx->in.ptr;
    size_t n = lx->in.len;

    while (lx->pos < n) {
        size_t p = lx->pos;
        const char *close;

        if (is_space((unsigned char)s[p])) {
            lx->pos++;
        } else if (p + 2 < n && s[p] == '/' && s[p + 1] == '*' &&
                   s[p + 2] == '!') {
            /* Slash, star, bang and an optional version open code. */
            lx->pos += 3;
            while (lx->pos < n && is_digit((unsigned char)s[lx->pos]))
                lx->pos++;
            lx->exec_comment = true;
        } else if (p + 1 < n && s[p] == '*' && s[p + 1] == '/' &&
                   lx->exec_comment) {
            lx->pos += 2;
            lx->exec_comment = false;
        } else if (p + 1 < n && s[p] == '/' && s[p + 1] == '*' &&
                   (close = memmem(s + p + 2, n - p - 2, "*/", 2)) != NULL) {
            lx->pos = (size_t)(close - s) + 2;
        } else if ((s[p] == '#' || (p + 1 < n && s[p] == '-' &&
                                    s[p + 1] == '-')) &&
                   (close = memchr(s + p, '\n', n - p)) != NULL) {
            /* A line comment that a newline ends is a blank too:
               "UNION#\nSELECT". One that runs to the end is a token. */
            lx->pos = (size_t)(close - s) + 1;
        } else {
            return;
        }
    }
}

/* Number: digits with fraction and exponent, 0x.., 0b..; a following
   letter starts the next token, as MySQL reads "1union". */
static size_t
number_end(const char *s, size_t n, size_t p)
{
    if (p + 1 < n && s[p] == '0' &&
        (inspect_lower((unsigned char)s[p + 1]) == 'x' ||
         inspect_lower((unsigned char)s[p + 1]) == 'b')) {
        size_t q = p + 2;

        while (q < n && hex_digit_value((unsigned char)s[q]) >= 0)
            q++;
        if (q > p + 2)
            return q;
    }
    while (p < n && is_digit((unsigned char)s[p]))
        p++;
    if (p < n && s[p] == '.')
        for (p++; p < n && is_digit((unsigned char)s[p]); p++)
            ;
    if (p + 1 < n && inspect_lower((unsigned char)s[p]) == 'e' &&
        (is_digit((unsigned char)s[p + 1]) ||
         ((s[p + 1] == '-' || s[p + 1] == '+') && p + 2 < n &&
          is_digit((unsigned char)s[p + 2]))))
        for (p += 2; p < n && is_digit((unsigned char)s[p]); p++)
            ;
    return p;
}

/* A word: letters, digits, '_' and '$', with inner dots (schema.table)
   kept inside. */
static size_t
word_end(const char *s, size_t n, size_t p)
{
    while (p < n) {
        if (is_word((unsigned char)s[p]))
            p++;
        else if (s[p] == '.' && p + 1 < n &&
                 is_word_start((unsigned char)s[p + 1]))
            p++;
        else
            break;
    }
    return p;
}

/* Classify the word s[p..end) and fill t; a '(' right after an
   ordinary word or keyword makes it a function call. */
static void
word_token(const struct inspect_sql_lexer *lx, size_t p, size_t end,
           struct inspect_sql_token *t)
{
    const struct keyword *k = keyword_find(lx->in.ptr + p, end - p);
    bool call = end < lx->in.len && lx->in.ptr[end] == '(';

    t->cls = SQL_WORD;
    t->kw = KW_NONE;
    if (k != NULL) {
        t->cls = k->cls;
        t->kw = k->kw;
    }
    if (call && (t->cls == SQL_WORD || t->cls == SQL_KEYWORD))
        t->cls = SQL_FUNCTION;
}

/* Operators of two or three bytes, and their classes. */
static size_t
operator_token(const char *s, size_t n, size_t p, enum inspect_sql_class *c)
{
    static const struct {
        const char *op;
        enum inspect_sql_class cls;
    } ops[] = {
        {"<=>", SQL_COMPARE}, {"<=", SQL_COMPARE}, {">=", SQL_COMPARE},
        {"<>", SQL_COMPARE},  {"!=", SQL_COMPARE}, {"==", SQL_COMPARE},
        {"||", SQL_LOGIC},    {"&&", SQL_LOGIC},   {"::", SQL_OPERATOR},
        {":=", SQL_OPERATOR}, {"<<", SQL_OPERATOR}, {">>", SQL_OPERATOR},
    };

    for (size_t i = 0; i < ARRAY_LEN(ops); i++) {
        size_t k = strlen(ops[i].op);

        if (k <= n - p && memcmp(s + p, ops[i].op, k) == 0) {
            *c = ops[i].cls;
            return k;
        }
    }
    if (strchr("=<>", s[p]) != NULL)
        *c = SQL_COMPARE;
    else if (strchr("+-*/%&|^~!", s[p]) != NULL)
        *c = SQL_OPERATOR;
    else if (strchr("(),;.", s[p]) != NULL)
        *c = (enum inspect_sql_class)s[p];
    else
        *c = SQL_OTHER;
    return 1;
}

/* A '[' opens a quoted identifier when a ']' follows somewhere. Once a
   search failed from some offset, later '[' do not search again, which
   keeps a run of '[' linear. */
static size_t
bracket_end(struct inspect_sql_lexer *lx, size_t p)
{
    const char *close;

    if (p >= lx->no_bracket)
        return 0;
    close = memchr(lx->in.ptr + p, ']', lx->in.len - p);
    if (close == NULL) {
        lx->no_bracket = p;
        return 0;
    }
    return (size_t)(close - lx->in.ptr) + 1;
}

/* Tokens that begin with a quote, a bracket or a comment marker; returns
   the end offset, or 0 when s[p] begins none of them. */
static size_t
quoted_token(struct inspect_sql_lexer *lx, size_t p,
             struct inspect_sql_token *t)
{
    const char *s = lx->in.ptr;
    size_t n = lx->in.len;
    char c = s[p];

    if (c == '\'' || c == '"') {
        t->cls = SQL_STRING;
        return string_end(lx, p + 1, c);
    }
    if (c == '`') {
        t->cls = SQL_WORD;
        return string_end(lx, p + 1, '`');
    }
    if (c == '#' || (c == '-' && p + 1 < n && s[p + 1] == '-') ||
        (c == '/' && p + 1 < n && s[p + 1] == '*')) {
        t->cls = SQL_COMMENT;
        return n;
    }
    if (c == '[') {
        t->cls = SQL_WORD;
        return bracket_end(lx, p);
    }
    return 0;
}

/* In a quoted context, the first token is the rest of the query's own
   string literal, closed by the value's first unescaped quote. */
static void
context_string(struct inspect_sql_lexer *lx, struct inspect_sql_token *t)
{
    char q = lx->ctx == INSPECT_SQL_SINGLE_QUOTE ? '\'' : '"';

    lx->opened = true;
    t->cls = SQL_STRING;
    t->kw = KW_NONE;
    t->offset = 0;
    t->len = string_end(lx, 0, q);
    lx->pos = t->len;
}

/* Prefixed strings: N'..', X'..', B'..', E'..' read as strings. */
static bool
prefixed_string(const char *s, size_t n, size_t p, size_t end)
{
    unsigned char c = inspect_lower((unsigned char)s[p]);

    return end == p + 1 && end < n && s[end] == '\'' &&
           (c == 'n' || c == 'x' || c == 'b' || c == 'e');
}

/* Variables: "@name", "@@version", "$1"; the sigils, then a word. */
static size_t
variable_end(const char *s, size_t n, size_t p)
{
    while (p < n && (s[p] == '@' || s[p] == '$'))
        p++;
    return word_end(s, n, p);
}

/*
 * One token: after blanks and closed comments, the first of quoted
 * tokens (strings, identifiers, comments to the end), numbers, words
 * (keywords, functions, prefixed strings), variables and operators that
 * matches at the current byte.
 */
bool
inspect_sql_next(struct inspect_sql_lexer *lx, struct inspect_sql_token *t)
{
    const char *s = lx->in.ptr;
    size_t n = lx->in.len, p, end;
    unsigned char c;

    if (!lx->opened && n > 0) {
        context_string(lx, t);
        return true;
    }
    skip_blank(lx);
    if (lx->pos >= n)
        return false;

    p = lx->pos;
    c = (unsigned char)s[p];
    t->offset = p;
    t->kw = KW_NONE;
    if ((end = quoted_token(lx, p, t)) != 0) {
        /* done */
    } else if (is_digit(c) || (c == '.' && p + 1 < n &&
                               is_digit((unsigned char)s[p + 1]))) {
        t->cls = SQL_NUMBER;
        end = number_end(s, n, p);
    } else if (is_word_start(c)) {
        end = word_end(s, n, p);
        if (prefixed_string(s, n, p, end)) {
            t->cls = SQL_STRING;
            end = string_end(lx, end + 1, '\'');
        } else {
            word_token(lx, p, end, t);
        }
    } else if (c == '@' || (c == '$' && p + 1 < n &&
                            is_digit((unsigned char)s[p + 1]))) {
        t->cls = SQL_VARIABLE;
        end = variable_end(s, n, p);
    } else {
        enum inspect_sql_class cls;

        end = p + operator_token(s, n, p, &cls);
        t->cls = cls;
    }
    t->len = end - p;
    lx->pos = end;
    return true;
}

size_t
inspect_sql_fingerprint(struct slice in, enum inspect_sql_context ctx,
                        char *fp, size_t cap)
{
    struct inspect_sql_lexer lx;
    struct inspect_sql_token t;
    size_t count = 0;

    inspect_sql_lexer_init(&lx, in, ctx, true);
    while (inspect_sql_next(&lx, &t)) {
        if (count + 1 < cap)
            fp[count] = (char)t.cls;
        count++;
    }
    if (cap > 0)
        fp[MIN(count, cap - 1)] = '\0';
    return count;
}

/*
 * Rules.
 *
 * A view is the tokens from one position on, as far as the window
 * holds them. at() gives the class of the k-th token, '$' past the end
 * of the input, and 0 past the window when the input goes on, so that a
 * rule never mistakes the window's edge for the end of the value.
 */
struct view {
    const struct inspect_sql_token *t;
    size_t n;
    bool end;         /* t[n - 1] is the input's last token */
    const char *src;  /* the input, for the few rules that read bytes */
};

struct finding {
    const char *rule;
    unsigned score;
    size_t offset;    /* where the matched shape starts in the input */
};

static int
at(const struct view *v, size_t k)
{
    if (k < v->n)
        return (int)v->t[k].cls;
    return v->end ? '$' : 0;
}

static unsigned
kw_at(const struct view *v, size_t k)
{
    return k < v->n ? v->t[k].kw : KW_NONE;
}

/* True when token k is the single byte ch. */
static bool
byte_at(const struct view *v, size_t k, char ch)
{
    return k < v->n && v->t[k].len == 1 && v->src[v->t[k].offset] == ch;
}

static size_t
skip_class(const struct view *v, size_t k, int cls)
{
    while (at(v, k) == cls)
        k++;
    return k;
}

/* True when token k can end a select-list item: what comes after an
   expression in a query that goes on or stops. */
static bool
item_follow(const struct view *v, size_t k)
{
    int c = at(v, k);
    unsigned kw = kw_at(v, k);

    return c == ',' || c == ')' || c == ';' || c == SQL_COMMENT ||
           c == SQL_UNION || c == SQL_LOGIC || c == SQL_COMPARE ||
           c == SQL_OPERATOR || kw == KW_FROM || kw == KW_INTO ||
           kw == KW_LIMIT || kw == KW_ORDER || kw == KW_WHERE;
}

/*
 * True when the tokens from k read as the select list after SELECT: a
 * literal, variable, function call, '*' or parenthesis, or a column name
 * followed by what ends a select-list item. "select 3 options" and
 * "Select Medical Center" are not.
 */
static bool
select_plausible(const struct view *v, size_t k)
{
    int c;

    if (kw_at(v, k) == KW_ALL || kw_at(v, k) == KW_NULL ||
        kw_at(v, k) == KW_BOOL)
        k++;
    c = at(v, k);
    if (c == SQL_FUNCTION || c == '(' || byte_at(v, k, '*'))
        return true;
    if (kw_at(v, k - 1) == KW_NULL && (c == '$' || item_follow(v, k)))
        return true;
    if (c == SQL_NUMBER || c == SQL_STRING || c == SQL_VARIABLE)
        return at(v, k + 1) == '$' || item_follow(v, k + 1);
    if (c == SQL_WORD)
        return item_follow(v, k + 1) && at(v, k + 1) != SQL_OPERATOR;
    return false;
}

/*
 * True when word k names a stored procedure as EXEC would: with a '_'
 * or a schema ("xp_cmdshell", "master..xp_cmdshell"), or followed by
 * its arguments or the end. "exec summary attached" is prose.
 */
static bool
procedure_name(const struct view *v, size_t k)
{
    int next = at(v, k + 1);

    if (k < v->n && (memchr(v->src + v->t[k].offset, '_', v->t[k].len) ||
                     memchr(v->src + v->t[k].offset, '.', v->t[k].len)))
        return true;
    return next == '.' || next == '$' || next == ';' || next == SQL_STRING ||
           next == SQL_NUMBER || next == SQL_VARIABLE ||
           next == SQL_COMMENT;
}

/* True when the tokens from k read as the start of a statement that
   does something: each statement keyword with what must follow it. */
static bool
statement_plausible(const struct view *v, size_t k)
{
    int next = at(v, k + 1);

    if (at(v, k) != SQL_STATEMENT)
        return false;
    switch (kw_at(v, k)) {
    case KW_SELECT:
        return select_plausible(v, k + 1);
    case KW_INSERT:
        return kw_at(v, k + 1) == KW_INTO;
    case KW_UPDATE:
        return next == SQL_WORD && kw_at(v, k + 2) == KW_SET;
    case KW_DELETE:
        return kw_at(v, k + 1) == KW_FROM;
    case KW_DDL:
        return kw_at(v, k + 1) == KW_OBJECT;
    case KW_EXEC:
        /* EXEC xp_cmdshell ..., EXEC @sql, EXEC('sel' + 'ect 1') */
        return (next == SQL_WORD && procedure_name(v, k + 1)) ||
               next == SQL_FUNCTION || next == SQL_VARIABLE ||
               next == '(' || next == SQL_STRING;
    case KW_DECLARE:
        return next == SQL_VARIABLE;
    case KW_SHUTDOWN:
        return next == '$' || next == SQL_COMMENT || next == ';';
    case KW_WAITFOR:
        return kw_at(v, k + 1) == KW_DELAY && at(v, k + 2) == SQL_STRING;
    case KW_GRANT:
        return kw_at(v, k + 1) == KW_ALL;
    default:
        return false;
    }
}

/* Record a finding at token k (clamped to the window) and return true,
   so that a rule can end with "return found(...)". */
static bool
found(struct finding *f, const struct view *v, size_t k, const char *rule,
      unsigned score)
{
    f->rule = rule;
    f->score = score;
    f->offset = v->t[MIN(k, v->n - 1)].offset;
    return true;
}

/* An operand of a comparison: a literal, variable or name (names only
   after a quote was closed: "x or y = z" is prose). */
static bool
operand(const struct view *v, size_t k, bool quoted)
{
    int c = at(v, k);

    return c == SQL_NUMBER || c == SQL_STRING || c == SQL_VARIABLE ||
           kw_at(v, k) == KW_NULL || kw_at(v, k) == KW_BOOL ||
           (quoted && c == SQL_WORD);
}

/* "GROUP BY a, b HAVING 1=1": the column list, then a condition on
   literals (k is the token after BY). */
static bool
having_probe(const struct view *v, size_t k)
{
    while (at(v, k) == SQL_WORD && at(v, k + 1) == ',')
        k += 2;
    if (at(v, k) == SQL_WORD)
        k++;
    return kw_at(v, k) == KW_HAVING && operand(v, k + 1, false) &&
           at(v, k + 2) == SQL_COMPARE && operand(v, k + 3, false);
}

/* Rules that hold wherever they occur in the value. */
static bool
match_anywhere(const struct view *v, struct finding *f)
{
    size_t k;

    switch (at(v, 0)) {
    case SQL_UNION:
        k = 1;
        if (kw_at(v, k) == KW_ALL)
            k++;
        k = skip_class(v, k, '(');
        if (kw_at(v, k) == KW_SELECT && select_plausible(v, k + 1))
            return found(f, v, 0, "union_select", 95);
        return false;
    case ';':
        if (statement_plausible(v, 1))
            return found(f, v, 0, "stacked_query", 90);
        return false;
    case SQL_STATEMENT:
        if (kw_at(v, 0) == KW_WAITFOR && statement_plausible(v, 0))
            return found(f, v, 0, "time_delay", 90);
        return false;
    case SQL_FUNCTION:
        if (at(v, 1) != '(')
            return false;
        if (kw_at(v, 0) == KW_DANGERFN)
            return found(f, v, 0, "dangerous_function", 90);
        /* sleep(5), pg_sleep('5'), benchmark(10000000, md5(1)): a
           literal argument, then the end of the call or the count's
           comma; not "sleep(8 hours)" or "benchmark(2023) results". */
        k = skip_class(v, 2, '(');
        if (at(v, k) != SQL_NUMBER && at(v, k) != SQL_STRING &&
            at(v, k) != SQL_VARIABLE)
            return false;
        if ((kw_at(v, 0) == KW_TIMEFN && at(v, k + 1) == ')') ||
            (kw_at(v, 0) == KW_BENCHFN && at(v, k + 1) == ','))
            return found(f, v, 0, "time_delay", 90);
        return false;
    case SQL_KEYWORD:
        if (kw_at(v, 0) == KW_INTO && kw_at(v, 1) == KW_OUTFILE &&
            at(v, 2) == SQL_STRING)
            return found(f, v, 0, "into_outfile", 90);
        if (kw_at(v, 0) == KW_GROUP && kw_at(v, 1) == KW_BY &&
            having_probe(v, 2))
            return found(f, v, 0, "tautology", 80);
        return false;
    default:
        return false;
    }
}

/* True when tokens a and b are spelled the same. */
static bool
same_text(const struct view *v, size_t a, size_t b)
{
    return a < v->n && b < v->n && v->t[a].len == v->t[b].len &&
           memcmp(v->src + v->t[a].offset, v->src + v->t[b].offset,
                  v->t[a].len) == 0;
}

/* "'-'", "'*'", "' '": a value that is an operator (or nothing)
   between the query's quotes, which MySQL evaluates to a number that
   matches (k is the token after the leading quote). */
static bool
empty_arithmetic(const struct view *v, size_t k)
{
    int c = at(v, k);

    if (c == SQL_OPERATOR || c == SQL_LOGIC || c == SQL_COMPARE)
        k++;
    return at(v, k) == SQL_STRING && v->t[k].len == 1 && at(v, k + 1) == '$';
}

/*
 * A condition that is always true (or false) after AND/OR: a comparison
 * of literals, each side possibly in parentheses ("('x')=('x')"), or a
 * bare truth ("' or 1--", "1 or true", "' or ''-'", since strings in
 * arithmetic are numbers to MySQL). After a bare number a comparison
 * must be of equal literals ("1 or 1=1") or end in a comment: "12 and
 * 13 = 25" is arithmetic in prose. k is the token after the operator.
 */
static bool
truth_after(const struct view *v, size_t k, bool quoted, struct finding *f)
{
    size_t j = skip_class(v, k, '('), op, r;
    int c = at(v, j);

    op = skip_class(v, j + 1, ')');
    r = skip_class(v, op + 1, '(');
    if (operand(v, j, quoted) && at(v, op) == SQL_COMPARE &&
        (r > op + 1 || at(v, r) == SQL_FUNCTION ||
         (operand(v, r, quoted) &&
          (quoted || same_text(v, j, r) || at(v, r + 1) == SQL_COMMENT))))
        return found(f, v, k, "tautology", 85);
    if ((c == SQL_NUMBER || kw_at(v, j) == KW_BOOL) &&
        (at(v, j + 1) == SQL_COMMENT ||
         ((quoted || c != SQL_NUMBER) && at(v, j + 1) == '$')))
        return found(f, v, k, "tautology", 80);
    if (quoted && c == SQL_STRING && empty_arithmetic(v, j + 1))
        return found(f, v, k, "tautology", 80);
    return false;
}

/* What follows AND/OR after the value broke out of its string or
   number: a subquery, a function probe, or a truth (k as above). */
static bool
after_logic(const struct view *v, size_t k, bool quoted,
            struct finding *f)
{
    size_t j = skip_class(v, k, '(');

    if (kw_at(v, j) == KW_SELECT && select_plausible(v, j + 1))
        return found(f, v, k, "subquery", 85);
    if (at(v, j) == SQL_FUNCTION && at(v, j + 1) == '(')
        return found(f, v, k, "boolean_function", 80);
    return truth_after(v, k, quoted, f);
}

/* "ORDER BY 3--", "GROUP BY 1,2,--": column numbers, then a comment
   or the end (k is the token after BY). */
static bool
column_probe(const struct view *v, size_t k)
{
    if (at(v, k) != SQL_NUMBER)
        return false;
    while (at(v, k) == SQL_NUMBER || at(v, k) == ',')
        k++;
    return at(v, k) == SQL_COMMENT || at(v, k) == '$';
}

/* True when the leading string ends in a word and its quote, as a
   user name or an id does before "'--" ("admin'--"); not "write('--"
   or "'--" alone. */
static bool
closes_word(const struct view *v)
{
    size_t q = v->t[0].offset + v->t[0].len - 1;
    unsigned char c = q > 0 ? (unsigned char)v->src[q - 1] : ' ';

    return is_word(c);
}

/*
 * Rules for the token right after the value left its string (quoted
 * contexts, k = 1) or its leading number (as is). That a quote was
 * closed is itself the signal, so a closing quote followed by a comment
 * counts, while a bare number followed by one does not.
 */
static bool
match_breakout(const struct view *v, size_t k, bool quoted,
               struct finding *f)
{
    size_t j = skip_class(v, k, ')');
    int c = at(v, j);

    if (c == SQL_LOGIC)
        return after_logic(v, j + 1, quoted, f);
    /* "1 = (select ...)", "'+(select ...)+'"; arithmetic alone, as in
       "2+2=4", is not a breakout. */
    if ((c == SQL_COMPARE || c == SQL_OPERATOR) &&
        kw_at(v, skip_class(v, j + 1, '(')) == KW_SELECT &&
        select_plausible(v, skip_class(v, j + 1, '(') + 1))
        return found(f, v, j, "subquery", 85);
    /* "'='" and "'=''or'": a value that is only a comparison of empty
       strings. Code such as split("=", 1) has text before its quote. */
    if (quoted && c == SQL_COMPARE && v->t[0].len == 1 &&
        operand(v, j + 1, true) &&
        (at(v, j + 2) == '$' || at(v, j + 2) == SQL_COMMENT ||
         at(v, j + 2) == SQL_LOGIC))
        return found(f, v, j, "tautology", 80);
    if (quoted && c == SQL_COMMENT && closes_word(v))
        return found(f, v, j, "comment_truncation", 70);
    if (kw_at(v, j) == KW_HAVING && operand(v, j + 1, quoted) &&
        at(v, j + 2) == SQL_COMPARE && operand(v, j + 3, quoted))
        return found(f, v, j, "tautology", 80);
    if ((kw_at(v, j) == KW_ORDER || kw_at(v, j) == KW_GROUP) &&
        kw_at(v, j + 1) == KW_BY && column_probe(v, j + 2))
        return found(f, v, j, "order_by_probe", 70);
    if (quoted && v->t[0].len == 1 && empty_arithmetic(v, j))
        return found(f, v, j, "tautology", 75);
    return false;
}

/*
 * True when the quote that ends the leading string (the last byte of
 * token 0) closes it as an injection does: at the start of the value or
 * right after a word ("admin'--"). A quote after a blank opens a
 * quotation in prose ('remove "--" here', "type 'or' to combine").
 */
static bool
quote_closes(const struct view *v)
{
    size_t q = v->t[0].offset + v->t[0].len - 1;
    char before = q > 0 ? v->src[q - 1] : 'x';

    return before != ' ' && before != '\t' && before != '\n' &&
           before != '\r';
}

/* The head of the value: where it leaves the string or number it was
   put in. Returns false when the value does not start like that. */
static bool
match_head(const struct view *v, enum inspect_sql_context ctx,
           struct finding *f)
{
    size_t k = 0;

    if (ctx != INSPECT_SQL_AS_IS)
        return at(v, 1) != '$' && quote_closes(v) &&
               match_breakout(v, 1, true, f);
    /* A value that starts with OR/AND continues a condition: "or
       1=1--". Only a truth counts here; "and os.environ.get(..." is
       prose or code. */
    if (at(v, 0) == SQL_LOGIC)
        return truth_after(v, 1, false, f);
    if (byte_at(v, 0, '-'))
        k++;
    if (at(v, k) != SQL_NUMBER && at(v, k) != SQL_VARIABLE)
        return false;
    return match_breakout(v, k + 1, false, f);
}

/* The scan of one context: the window of tokens and the first finding. */
struct scan {
    struct inspect_sql_token tok[WINDOW];
    size_t n;
    bool head_done;
};

/* Run the rules at the first count positions of the window. */
static bool
scan_window(struct scan *sc, const char *src, bool end, size_t count,
            enum inspect_sql_context ctx, struct finding *f)
{
    for (size_t i = 0; i < count; i++) {
        struct view v = {sc->tok + i, sc->n - i, end, src};

        if (!sc->head_done) {
            sc->head_done = true;
            if (match_head(&v, ctx, f))
                return true;
        }
        if (match_anywhere(&v, f))
            return true;
    }
    return false;
}

/* Read in once in one context; true with *f filled at the first rule
   that matches. */
static bool
scan_context(struct slice in, enum inspect_sql_context ctx, bool backslash,
             struct finding *f)
{
    struct inspect_sql_lexer lx;
    struct scan sc;

    sc.n = 0;
    sc.head_done = false;
    inspect_sql_lexer_init(&lx, in, ctx, backslash);
    while (inspect_sql_next(&lx, &sc.tok[sc.n])) {
        if (++sc.n < WINDOW)
            continue;
        if (scan_window(&sc, in.ptr, false, WINDOW - LOOKAHEAD, ctx, f))
            return true;
        memmove(sc.tok, sc.tok + WINDOW - LOOKAHEAD,
                LOOKAHEAD * sizeof(sc.tok[0]));
        sc.n = LOOKAHEAD;
    }
    return sc.n > 0 && scan_window(&sc, in.ptr, true, sc.n, ctx, f);
}

/*
 * Read the value in each context, the quoted ones twice when a
 * backslash makes MySQL and standard SQL disagree; the first rule that
 * matches gives the verdict. At most five linear passes.
 */
bool
inspect_sqli_match(const struct inspect_value *v,
                   struct inspect_verdict *out)
{
    static const enum inspect_sql_context ctxs[] = {
        INSPECT_SQL_AS_IS, INSPECT_SQL_SINGLE_QUOTE,
        INSPECT_SQL_DOUBLE_QUOTE,
    };
    bool backslash = v->text.len > 0 &&
                     memchr(v->text.ptr, '\\', v->text.len) != NULL;
    struct finding f;

    for (size_t i = 0; i < ARRAY_LEN(ctxs); i++) {
        /* A quote after a backslash ends the string on engines that
           take backslashes literally and not on MySQL: try both. */
        bool hit = scan_context(v->text, ctxs[i], true, &f) ||
                   (backslash && ctxs[i] != INSPECT_SQL_AS_IS &&
                    scan_context(v->text, ctxs[i], false, &f));

        if (!hit)
            continue;
        return inspect_found(v, "sqli", "inspect.sqli", f.rule, f.score,
                             f.offset, out);
    }
    return false;
}

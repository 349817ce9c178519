/*
 * json_stream: the project's one JSON grammar (RFC 8259), as a push
 * tokenizer. json_parse builds its tree from these tokens; the contract
 * validator reads them straight from a request body.
 *
 * Input arrives in chunks split anywhere. The parser is a state machine
 * over bytes: the structural states (what may come next) and, inside a
 * token, a lexical state (string, escape, UTF-8 sequence, number,
 * literal) that carries over from one chunk to the next. Runs of plain
 * string bytes are found 8 bytes at a time (then with a 256-entry class
 * table) and copied with memcpy; whitespace, numbers and literals are
 * scanned in tight loops, and the separators that usually follow a token
 * are read straight after it. Nothing is allocated per token: a decoded
 * string goes to one buffer that grows by doubling up to max_string, a
 * member name straight to its object's names buffer (kept for the
 * duplicate check; the next object at that depth reuses it, with its
 * hash set), a number split by a chunk boundary to one buffer of
 * max_number bytes. Each buffer is made on first need, from the caller's
 * arena, so a small document costs little memory.
 *
 * Choices where RFC 8259 leaves room (the i_ files of JSONTestSuite):
 *
 * - The input is UTF-8 only. A byte order mark, UTF-16 and bytes that
 *   are not UTF-8 are refused ("json.syntax" outside strings,
 *   "json.bad_utf8" inside). RFC 3629 applies: overlong forms, encoded
 *   surrogates (ED A0..BF) and anything past U+10FFFF are refused.
 * - An escaped surrogate must be a high one followed at once by an
 *   escaped low one. A lone, inverted or half pair is refused
 *   ("json.bad_escape"), so every decoded string is valid UTF-8. The
 *   escape \u0000 is allowed: strings carry their length.
 * - Numbers are kept as written. A number whose value overflows a double
 *   (1e400) is refused ("json.bad_number") since readers would see
 *   infinity, an error or an arbitrary big number; one that underflows
 *   (1e-400) reads as 0; an integer past int64 is kept with its text and
 *   an approximate double. A number longer than max_number characters is
 *   refused ("json.number_too_long").
 * - Duplicate member names are refused ("json.duplicate_key"): readers
 *   disagree on which one wins. Names are compared as decoded bytes, so
 *   "a" and "\u0061" are the same name; NFC and NFD forms are not.
 * - Nesting is bounded by max_depth (32 by default), so 500 nested
 *   arrays are refused ("json.too_deep").
 *
 * Error offsets point at the byte where the problem was found, except
 * where a whole token is to blame: a bad literal, a number too long or
 * out of range, a string too long and a duplicate name are reported at
 * the token's first byte, a surrogate problem at the escape's backslash
 * and an invalid UTF-8 sequence at its first byte. A document cut short
 * is reported at its end.
 */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/types.h>
#include <endian.h>

#include "json.h"

#define FIRST_FRAMES 4        /* frames allocated at the first bracket */
#define FIRST_STRING 64       /* first size of the string buffer */
#define FIRST_SLOTS 16        /* first size of a name set */
#define FIRST_NAMES 128       /* first size of a frame's name bytes */
#define SMALL_OBJECT 16       /* names compared one by one up to this */
#define UTF8_SLACK 8          /* room past max_string for one character
                                 and the NUL */
#define EXACT_DIGITS 308      /* numbers of fewer characters and no
                                 exponent are always finite doubles */

/* Where the parser stands between two bytes. */
enum state {
    ST_VALUE,         /* a value must come */
    ST_ARRAY_FIRST,   /* after '[': a value or ']' */
    ST_OBJECT_FIRST,  /* after '{': a name or '}' */
    ST_NAME,          /* after ',' in an object: a name */
    ST_COLON,         /* after a name */
    ST_AFTER,         /* after a value in a container: ',' or the close */
    ST_END,           /* after the document's value: whitespace only */
    ST_STRING,        /* inside a string or name */
    ST_NUMBER,
    ST_LITERAL,       /* inside true, false or null */
};

/* Inside a string: where an escape stands. */
enum esc {
    ESC_NONE,
    ESC_START,        /* after a backslash */
    ESC_HEX,          /* in the four digits of \uXXXX */
    ESC_LOW_SLASH,    /* after a high surrogate: '\' must come */
    ESC_LOW_U,        /* then 'u' */
    ESC_LOW_HEX,      /* then the low surrogate's digits */
};

/* Inside a number: what was read last. */
enum num {
    N_START, N_MINUS, N_ZERO, N_INT, N_DOT, N_FRAC, N_E, N_ESIGN, N_EXP,
    N_END,            /* the byte ends the number, which is complete */
    N_BAD,            /* the byte makes the number malformed */
};

/* Byte classes inside a string. */
enum {
    C_PLAIN,          /* copied as it is */
    C_QUOTE,
    C_BACKSLASH,
    C_CONTROL,        /* below 0x20: must be escaped */
    C_LEAD2,          /* C2..DF */
    C_LEAD3,          /* E0..EF */
    C_LEAD4,          /* F0..F4 */
    C_BAD,            /* 80..C1, F5..FF: never first in a sequence */
};

/* One name of an open object, in its frame's hash set. */
struct name_slot {
    uint64_t gen;     /* the slot is used when equal to the frame's gen */
    uint64_t hash;
    size_t off;       /* the name's bytes in the frame's names buffer */
    size_t len;
};

/* A name of a small object: its bytes in the frame's names buffer. */
struct name_ref {
    size_t off;
    size_t len;
};

/*
 * One open array or object. The first SMALL_OBJECT names of an object
 * are compared one by one, which is cheapest for the objects most bodies
 * are made of; past that they move to a hash set. Frames are reused: the
 * object opened next at the same depth takes over the hash set by moving
 * to a new generation, so a table once grown is never cleared nor
 * reallocated.
 */
struct frame {
    bool object;
    bool hashed;               /* the names are in the hash set */
    size_t count;              /* members or items begun so far */
    struct name_ref *small;    /* SMALL_OBJECT refs, for objects only */
    uint64_t gen;              /* objects opened at this depth */
    struct name_slot *slots;
    size_t nslots;             /* a power of two, or 0 */
    char *names;               /* the names, back to back */
    size_t names_len, names_cap;
};

struct json_stream {
    struct json_limits lim;
    json_token_fn fn;
    void *ctx;
    struct arena *a;
    uint64_t seed;             /* of the name hash, per process */

    enum state state;
    struct frame *frames;
    unsigned depth;            /* open containers */
    unsigned nframes;          /* frames allocated */
    unsigned nused;            /* frames ever used, so initialised */
    size_t total;              /* bytes fed before the current chunk */
    const char *chunk;         /* the current chunk, during a feed */
    const char *end;           /* its end */

    size_t tok_start;          /* offset of the token being read */

    /*
     * string: decoded so far, NUL-terminated when delivered. A value is
     * decoded into vstr; a name straight into its frame's names buffer,
     * where it stays while its object is open.
     */
    bool is_name;
    char *str;
    size_t str_len, str_cap;
    char *vstr;
    size_t vstr_cap;
    enum esc esc;
    unsigned hex_n;
    unsigned long cp, hi;
    size_t esc_start;
    unsigned utf8_need;        /* continuation bytes still to come */
    unsigned char utf8_lo, utf8_hi;
    size_t utf8_start;

    /* number: in the chunk at num_ptr, or copied to num_buf */
    enum num num;
    const char *num_ptr;
    char *num_buf;
    size_t num_len, num_buf_len;
    bool num_buffered, num_exp;

    /* literal */
    const char *lit;
    unsigned lit_pos;
    enum json_token_kind lit_kind;

    int rc;                    /* the first failure, sticky */
    struct json_error err;
};

/* The class of each byte inside a string, by the enum above. */
static const unsigned char str_class[256] = {
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,  /* 00 */
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,  /* 10 */
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  /* 20 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  /* 30 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  /* 40 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0,  /* 50 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  /* 60 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  /* 70 */
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,  /* 80 */
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,  /* 90 */
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,  /* A0 */
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,  /* B0 */
    7, 7, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,  /* C0 */
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,  /* D0 */
    5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5,  /* E0 */
    6, 6, 6, 6, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,  /* F0 */
};

static _Atomic uint64_t hash_seed;

/* ------------------------------------------------------------------ */
/* Failures, offsets, tokens                                           */
/* ------------------------------------------------------------------ */

/* Record the first failure; returns NULL for the scanners to return. */
static const char *
fail(struct json_stream *s, int rc, const char *reason, size_t offset)
{
    if (s->rc == AW_OK) {
        s->rc = rc;
        s->err.reason = reason;
        s->err.offset = offset;
    }
    return NULL;
}

static const char *
no_memory(struct json_stream *s, const char *p)
{
    return fail(s, AW_NOMEM, "json.no_memory",
                s->total + (size_t)(p - s->chunk));
}

/* Offset in the document of p, a pointer into the current chunk. */
static size_t
off(const struct json_stream *s, const char *p)
{
    return s->total + (size_t)(p - s->chunk);
}

/*
 * Hand one token to the callback. False when it stopped the parse (the
 * failure is recorded at the token's offset).
 */
static bool
emit(struct json_stream *s, enum json_token_kind kind, const char *text,
     size_t len, size_t offset)
{
    struct json_token t = {kind, {text, len}, s->depth, offset};
    int rc;

    if (s->fn == NULL)
        return true;
    rc = s->fn(s->ctx, &t);
    if (rc != AW_OK) {
        fail(s, rc, "json.stopped", offset);
        return false;
    }
    return true;
}

static const char *begin_value(struct json_stream *s, const char *p);
static const char *begin_name(struct json_stream *s, const char *p);

static bool
is_ws(char c)
{
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

static const char *
skip_ws(const char *p, const char *end)
{
    while (p < end && is_ws(*p))
        p++;
    return p;
}

/*
 * A value ended before p. What most often follows, a comma and the next
 * name or item, is read here at once when the chunk holds it: taking
 * each structural byte through the state switch costs a mispredicted
 * jump. Returns where to go on.
 */
static const char *
value_done(struct json_stream *s, const char *p)
{
    if (s->depth == 0) {
        s->state = ST_END;
        return p;
    }
    s->state = ST_AFTER;
    p = skip_ws(p, s->end);
    if (p == s->end || *p != ',')
        return p;
    p = skip_ws(p + 1, s->end);
    if (s->frames[s->depth - 1].object) {
        s->state = ST_NAME;
        return p < s->end ? begin_name(s, p) : p;
    }
    s->state = ST_VALUE;
    return p < s->end ? begin_value(s, p) : p;
}

/* ------------------------------------------------------------------ */
/* Names of open objects                                               */
/* ------------------------------------------------------------------ */

/*
 * A seeded multiply-xorshift hash. The seed is random per process, so
 * colliding names cannot simply be looked up, but the hash is not a
 * keyed cryptographic one (a known limitation): names built to collide
 * cost up to max_members comparisons each, the bound on the worst case.
 */
static uint64_t
name_hash(uint64_t seed, const char *p, size_t n)
{
    uint64_t h = seed ^ (n * 0x9e3779b97f4a7c15u);
    uint64_t w;

    for (; n >= 8; p += 8, n -= 8) {
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdu;
        h ^= h >> 32;
    }
    /* The tail by shifts: a short memcpy into w stalls the load. */
    w = 0;
    for (size_t i = 0; i < n; i++)
        w |= (uint64_t)(unsigned char)p[i] << (8 * i);
    h = (h ^ w) * 0xc4ceb9fe1a85ec53u;
    return h ^ (h >> 29);
}

/* The slot holding name or the free slot where it would go. */
static struct name_slot *
name_slot(const struct frame *f, uint64_t h, const char *name, size_t len)
{
    size_t mask = f->nslots - 1;

    for (size_t i = h & mask;; i = (i + 1) & mask) {
        struct name_slot *e = &f->slots[i];

        if (e->gen != f->gen)
            return e;
        if (e->hash == h && e->len == len &&
            memcmp(f->names + e->off, name, len) == 0)
            return e;
    }
}

/* Double the set (or make the first), moving the names it holds. */
static bool
names_grow(struct json_stream *s, struct frame *f)
{
    size_t n = f->nslots == 0 ? FIRST_SLOTS : f->nslots * 2;
    struct name_slot *old = f->slots;
    size_t nold = f->nslots;

    f->slots = arena_alloc(s->a, n * sizeof(*f->slots));
    if (f->slots == NULL)
        return false;
    memset(f->slots, 0, n * sizeof(*f->slots));
    f->nslots = n;
    for (size_t i = 0; i < nold; i++) {
        if (old[i].gen == f->gen) {
            const char *name = f->names + old[i].off;

            *name_slot(f, old[i].hash, name, old[i].len) = old[i];
        }
    }
    return true;
}

/*
 * Room in f's names buffer for the name being read (at the end of the
 * buffer, in s->str) and n more bytes and a NUL; s->str moves along.
 */
static bool
names_room(struct json_stream *s, struct frame *f, size_t n)
{
    size_t keep = f->names_len + s->str_len;
    size_t cap = f->names_cap == 0 ? FIRST_NAMES : f->names_cap;
    char *p;

    if (f->names == NULL || f->names_cap - keep <= n) {
        while (cap - keep <= n)
            cap *= 2;
        p = arena_alloc(s->a, cap);
        if (p == NULL)
            return false;
        if (keep > 0)
            memcpy(p, f->names, keep);
        f->names = p;
        f->names_cap = cap;
    }
    s->str = f->names + f->names_len;
    s->str_cap = f->names_cap - f->names_len;
    return true;
}

/* The name just read stays in the names buffer, at r. */
static void
names_keep(struct json_stream *s, struct frame *f, struct name_ref *r)
{
    *r = (struct name_ref){f->names_len, s->str_len};
    f->names_len += s->str_len;
}

/*
 * Whether the open object of f already has the name in s->str, and if
 * not, remember it: 1 when it is new, 0 when it repeats, -1 without
 * memory.
 */
static int
names_add_small(struct json_stream *s, struct frame *f)
{
    size_t n = f->count - 1, len = s->str_len;

    /* The first byte spares most calls to memcmp. */
    for (size_t i = 0; i < n; i++) {
        const struct name_ref *r = &f->small[i];
        const char *name = f->names + r->off;

        if (r->len == len &&
            (len == 0 || (name[0] == s->str[0] &&
                          memcmp(name + 1, s->str + 1, len - 1) == 0)))
            return 0;
    }
    names_keep(s, f, &f->small[n]);
    return 1;
}

/* The small object grew past SMALL_OBJECT: its names to the hash set. */
static bool
names_to_hash(struct json_stream *s, struct frame *f)
{
    while (f->nslots < 4 * SMALL_OBJECT)
        if (!names_grow(s, f))
            return false;
    for (size_t i = 0; i < SMALL_OBJECT; i++) {
        const char *name = f->names + f->small[i].off;
        uint64_t h = name_hash(s->seed, name, f->small[i].len);

        *name_slot(f, h, name, f->small[i].len) =
            (struct name_slot){f->gen, h, f->small[i].off, f->small[i].len};
    }
    f->hashed = true;
    return true;
}

/* As names_add_small, with the hash set. */
static int
names_add_hashed(struct json_stream *s, struct frame *f)
{
    uint64_t h = name_hash(s->seed, s->str, s->str_len);
    struct name_slot *e;
    struct name_ref r;

    if (!f->hashed && !names_to_hash(s, f))
        return -1;
    if (f->count * 2 > f->nslots && !names_grow(s, f))
        return -1;
    e = name_slot(f, h, s->str, s->str_len);
    if (e->gen == f->gen)
        return 0;
    names_keep(s, f, &r);
    *e = (struct name_slot){f->gen, h, r.off, r.len};
    return 1;
}

/*
 * The decoded name in s->str is complete: refuse it if the open object
 * already has it, else remember it and deliver it.
 */
static const char *
name_done(struct json_stream *s, const char *next)
{
    struct frame *f = &s->frames[s->depth - 1];
    int added = f->count <= SMALL_OBJECT ? names_add_small(s, f)
                                         : names_add_hashed(s, f);

    if (added < 0)
        return no_memory(s, next);
    if (added == 0)
        return fail(s, AW_INVALID, "json.duplicate_key", s->tok_start);
    if (!emit(s, JSON_TOK_NAME, s->str, s->str_len, s->tok_start))
        return NULL;
    /* The colon and the value's first byte, when here (see value_done). */
    s->state = ST_COLON;
    next = skip_ws(next, s->end);
    if (next == s->end || *next != ':')
        return next;
    s->state = ST_VALUE;
    next = skip_ws(next + 1, s->end);
    return next < s->end ? begin_value(s, next) : next;
}

/* ------------------------------------------------------------------ */
/* Strings                                                             */
/* ------------------------------------------------------------------ */

/* Make room for n more decoded bytes and the NUL. */
static bool
str_grow(struct json_stream *s, size_t n)
{
    size_t need = s->str_len + n + 1, cap = s->str_cap;
    char *p;

    if (s->is_name)
        return names_room(s, &s->frames[s->depth - 1], n);
    while (cap < need)
        cap *= 2;
    cap = MIN(cap, s->lim.max_string + UTF8_SLACK);
    p = arena_alloc(s->a, cap);
    if (p == NULL)
        return false;
    memcpy(p, s->str, s->str_len);
    s->str = s->vstr = p;
    s->str_cap = s->vstr_cap = cap;
    return true;
}

/* Append n decoded bytes at p; the caller has checked max_string. */
static inline bool
str_put(struct json_stream *s, const char *p, size_t n)
{
    if (unlikely(s->str_cap - s->str_len <= n) && !str_grow(s, n))
        return false;
    memcpy(s->str + s->str_len, p, n);
    s->str_len += n;
    return true;
}

static const char *
too_long(struct json_stream *s)
{
    return fail(s, AW_TOOBIG, "json.string_too_long", s->tok_start);
}

/* Append code point cp (not a surrogate) as UTF-8; then check the bound. */
static const char *
str_put_cp(struct json_stream *s, unsigned long cp, const char *next)
{
    char out[4];
    size_t n;

    if (cp < 0x80) {
        out[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        out[0] = (char)(0xf0 | (cp >> 18));
        out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    if (s->str_len + n > s->lim.max_string)
        return too_long(s);
    if (!str_put(s, out, n))
        return no_memory(s, next);
    s->esc = ESC_NONE;
    return next;
}

/* One hex digit of an escape into s->cp; false when it is not one. */
static bool
hex_step(struct json_stream *s, char c)
{
    int h = hex_digit_value((unsigned char)c);

    if (h < 0)
        return false;
    s->cp = s->cp * 16 + (unsigned long)h;
    s->hex_n++;
    return true;
}

/* The fourth digit of \uXXXX was read: a character or a high surrogate. */
static const char *
escape_unit(struct json_stream *s, const char *next)
{
    if (s->cp < 0xd800 || s->cp > 0xdfff)
        return str_put_cp(s, s->cp, next);
    if (s->cp > 0xdbff)        /* a low surrogate with no high one */
        return fail(s, AW_INVALID, "json.bad_escape", s->esc_start);
    s->hi = s->cp;
    s->esc = ESC_LOW_SLASH;
    return next;
}

/* The low surrogate's digits were read: join the pair. */
static const char *
escape_pair(struct json_stream *s, const char *next)
{
    if (s->cp < 0xdc00 || s->cp > 0xdfff)
        return fail(s, AW_INVALID, "json.bad_escape", s->esc_start);
    return str_put_cp(s, 0x10000 + ((s->hi - 0xd800) << 10) +
                             (s->cp - 0xdc00), next);
}

/* The byte a one-letter escape stands for, or -1. */
static int
simple_escape(char c)
{
    switch (c) {
    case '"':
    case '\\':
    case '/':
        return c;
    case 'b':
        return '\b';
    case 'f':
        return '\f';
    case 'n':
        return '\n';
    case 'r':
        return '\r';
    case 't':
        return '\t';
    default:
        return -1;
    }
}

/*
 * One byte of an escape, p inside the chunk. Escapes are rare in real
 * bodies, so they go byte by byte, which also makes a chunk boundary
 * inside one cost nothing special.
 */
static const char *
lex_escape(struct json_stream *s, const char *p)
{
    int c;

    switch (s->esc) {
    case ESC_START:
        if (*p == 'u') {
            s->esc = ESC_HEX;
            s->hex_n = 0;
            s->cp = 0;
            return p + 1;
        }
        c = simple_escape(*p);
        if (c < 0)
            return fail(s, AW_INVALID, "json.bad_escape", off(s, p));
        return str_put_cp(s, (unsigned long)c, p + 1);
    case ESC_HEX:
    case ESC_LOW_HEX:
        if (!hex_step(s, *p))
            return fail(s, AW_INVALID, "json.bad_escape", off(s, p));
        if (s->hex_n < 4)
            return p + 1;
        return s->esc == ESC_HEX ? escape_unit(s, p + 1)
                                 : escape_pair(s, p + 1);
    case ESC_LOW_SLASH:
        if (*p != '\\')
            return fail(s, AW_INVALID, "json.bad_escape", s->esc_start);
        s->esc = ESC_LOW_U;
        return p + 1;
    case ESC_LOW_U:
        if (*p != 'u')
            return fail(s, AW_INVALID, "json.bad_escape", s->esc_start);
        s->esc = ESC_LOW_HEX;
        s->hex_n = 0;
        s->cp = 0;
        return p + 1;
    case ESC_NONE:
        break;
    }
    return p;
}

/*
 * Length of the valid UTF-8 sequence at p (n bytes available, at least
 * its length), or 0 (RFC 3629: no overlongs, no surrogates, nothing past
 * U+10FFFF).
 */
static size_t
utf8_seq(const unsigned char *p, unsigned char lo, unsigned char hi,
         size_t need)
{
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i <= need; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    return need + 1;
}

/*
 * A lead byte at p. When the whole sequence is in the chunk it is
 * checked and copied at once; else its bytes are checked one at a time
 * as they come (lex_utf8_tail), with the same verdict.
 */
static const char *
lex_utf8(struct json_stream *s, const char *p, const char *end)
{
    unsigned char c = (unsigned char)*p;
    unsigned need = str_class[c] - C_LEAD2 + 1;
    unsigned char lo = c == 0xe0 ? 0xa0 : c == 0xf0 ? 0x90 : 0x80;
    unsigned char hi = c == 0xed ? 0x9f : c == 0xf4 ? 0x8f : 0xbf;
    size_t k;

    if ((size_t)(end - p) > need) {
        k = utf8_seq((const unsigned char *)p, lo, hi, need);
        if (k == 0)
            return fail(s, AW_INVALID, "json.bad_utf8", off(s, p));
        if (s->str_len + k > s->lim.max_string)
            return too_long(s);
        return str_put(s, p, k) ? p + k : no_memory(s, p);
    }
    if (!str_put(s, p, 1))
        return no_memory(s, p);
    s->utf8_need = need;
    s->utf8_lo = lo;
    s->utf8_hi = hi;
    s->utf8_start = off(s, p);
    return p + 1;
}

/* One continuation byte of a sequence that a chunk boundary split. */
static const char *
lex_utf8_tail(struct json_stream *s, const char *p)
{
    unsigned char c = (unsigned char)*p;

    if (c < s->utf8_lo || c > s->utf8_hi)
        return fail(s, AW_INVALID, "json.bad_utf8", s->utf8_start);
    if (!str_put(s, p, 1))
        return no_memory(s, p);
    s->utf8_lo = 0x80;
    s->utf8_hi = 0xbf;
    if (--s->utf8_need == 0 && s->str_len > s->lim.max_string)
        return too_long(s);
    return p + 1;
}

/* The closing quote at p: deliver the string or name. */
static const char *
string_done(struct json_stream *s, const char *p)
{
    s->str[s->str_len] = '\0';
    if (s->is_name)
        return name_done(s, p + 1);
    if (!emit(s, JSON_TOK_STRING, s->str, s->str_len, s->tok_start))
        return NULL;
    return value_done(s, p + 1);
}

/* A byte of a string that is not plain, or an escape or a sequence. */
static const char *
lex_string_special(struct json_stream *s, const char *p, const char *end)
{
    if (s->esc != ESC_NONE)
        return lex_escape(s, p);
    if (s->utf8_need > 0)
        return lex_utf8_tail(s, p);
    switch (str_class[(unsigned char)*p]) {
    case C_QUOTE:
        return string_done(s, p);
    case C_BACKSLASH:
        s->esc = ESC_START;
        s->esc_start = off(s, p);
        return p + 1;
    case C_CONTROL:
        return fail(s, AW_INVALID, "json.syntax", off(s, p));
    case C_BAD:
        return fail(s, AW_INVALID, "json.bad_utf8", off(s, p));
    default:
        return lex_utf8(s, p, end);
    }
}

/*
 * The bytes of the little-endian word w that are not plain in a string
 * (below 0x20, a quote, a backslash, above 0x7f), as their high bits;
 * the lowest is exact (word_eq in base.h).
 */
static uint64_t
word_special(uint64_t w)
{
    return word_below(w, 0x20) | word_eq(w, '"') | word_eq(w, '\\') |
           (w & WORD_HIGHS);
}

/*
 * The end of the run of plain string bytes from p: 8 at a time, the
 * first special byte of a word found from its flag, the last few bytes
 * one at a time.
 */
static const char *
plain_run(const char *p, const char *end)
{
    uint64_t w, special;

    while (end - p >= 8) {
        memcpy(&w, p, 8);
        w = le64toh(w);
        special = word_special(w);
        if (special != 0)
            return p + __builtin_ctzll(special) / 8;
        p += 8;
    }
    while (p < end && str_class[(unsigned char)*p] == C_PLAIN)
        p++;
    return p;
}

/*
 * Inside a string: copy the run of plain bytes, then deal with the byte
 * that ended it (most often the closing quote). The run loop is the hot
 * path of most bodies.
 */
static const char *
lex_string(struct json_stream *s, const char *p, const char *end)
{
    while (p < end) {
        const char *q = p;

        if (s->esc == ESC_NONE && s->utf8_need == 0) {
            q = plain_run(p, end);
            if (s->str_len + (size_t)(q - p) > s->lim.max_string)
                return too_long(s);
            if (!str_put(s, p, (size_t)(q - p)))
                return no_memory(s, p);
            if (q == end)
                return end;
        }
        p = lex_string_special(s, q, end);
        if (p == NULL || s->state != ST_STRING)
            return p;
    }
    return p;
}

/* ------------------------------------------------------------------ */
/* Numbers and literals                                                */
/* ------------------------------------------------------------------ */

/* True when a number in state n may end here. */
static bool
num_complete(enum num n)
{
    return n == N_ZERO || n == N_INT || n == N_FRAC || n == N_EXP;
}

/*
 * The number's next state after byte c: N_END when c is not part of it
 * and it may end here, N_BAD when it may not (a digit after a leading
 * zero, a missing digit).
 */
static enum num
num_next(enum num n, char c)
{
    bool digit = c >= '0' && c <= '9';

    switch (n) {
    case N_START:
        return c == '-' ? N_MINUS : c == '0' ? N_ZERO : N_INT;
    case N_MINUS:
        return !digit ? N_BAD : c == '0' ? N_ZERO : N_INT;
    case N_ZERO:
    case N_INT:
        if (digit)
            return n == N_ZERO ? N_BAD : N_INT;
        return c == '.' ? N_DOT : c == 'e' || c == 'E' ? N_E : N_END;
    case N_DOT:
        return digit ? N_FRAC : N_BAD;
    case N_FRAC:
        return digit ? N_FRAC : c == 'e' || c == 'E' ? N_E : N_END;
    case N_E:
        return digit ? N_EXP : c == '+' || c == '-' ? N_ESIGN : N_BAD;
    case N_ESIGN:
        return digit ? N_EXP : N_BAD;
    case N_EXP:
        return digit ? N_EXP : N_END;
    default:
        return N_BAD;
    }
}

/*
 * The buffer of a number split by a chunk boundary or read by strtod,
 * made on first need: most documents never need it.
 */
static bool
num_buf_get(struct json_stream *s)
{
    size_t n = MIN(s->lim.max_number, s->lim.max_bytes);

    if (s->num_buf == NULL && n < SIZE_MAX)
        s->num_buf = arena_alloc(s->a, n + 1);
    return s->num_buf != NULL;
}

/*
 * The number ended before q (q not consumed). Its text is in the chunk
 * from num_ptr, or in num_buf with the chunk's part [p, q) to add. One
 * with an exponent or very many digits is read to check that it is a
 * finite double.
 */
static const char *
number_done(struct json_stream *s, const char *p, const char *q)
{
    const char *text = s->num_ptr;

    if (s->num_buffered) {
        if (q > p)
            memcpy(s->num_buf + s->num_buf_len, p, (size_t)(q - p));
        text = s->num_buf;
    }
    if (s->num_exp || s->num_len > EXACT_DIGITS) {
        if (!num_buf_get(s))
            return no_memory(s, s->num_ptr);
        if (text != s->num_buf)
            memcpy(s->num_buf, text, s->num_len);
        s->num_buf[s->num_len] = '\0';
        if (!isfinite(strtod(s->num_buf, NULL)))
            return fail(s, AW_INVALID, "json.bad_number", s->tok_start);
    }
    if (!emit(s, JSON_TOK_NUMBER, text, s->num_len, s->tok_start))
        return NULL;
    return value_done(s, q);
}

static const char *
lex_number(struct json_stream *s, const char *p, const char *end)
{
    const char *q;

    for (q = p; q < end; q++) {
        enum num next = num_next(s->num, *q);

        if (next == N_END)
            return number_done(s, p, q);
        if (next == N_BAD)
            return fail(s, AW_INVALID, "json.bad_number", off(s, q));
        if (s->num_len == s->lim.max_number)
            return fail(s, AW_TOOBIG, "json.number_too_long",
                        s->tok_start);
        s->num_len++;
        s->num_exp |= next == N_E;
        s->num = next;
    }
    /* The chunk ends inside the number: keep its bytes so far. */
    if (!num_buf_get(s))
        return no_memory(s, p);
    if (!s->num_buffered)
        p = s->num_ptr;
    memcpy(s->num_buf + s->num_buf_len, p, (size_t)(end - p));
    s->num_buf_len += (size_t)(end - p);
    s->num_buffered = true;
    return end;
}

/* The rest of true, false or null, whole in the chunk or split. */
static const char *
lex_literal(struct json_stream *s, const char *p, const char *end)
{
    size_t rest = strlen(s->lit + s->lit_pos);

    if ((size_t)(end - p) >= rest) {
        if (memcmp(p, s->lit + s->lit_pos, rest) != 0)
            return fail(s, AW_INVALID, "json.syntax", s->tok_start);
        p += rest;
        s->lit_pos += (unsigned)rest;
    }
    for (; p < end && s->lit[s->lit_pos] != '\0'; p++, s->lit_pos++)
        if (*p != s->lit[s->lit_pos])
            return fail(s, AW_INVALID, "json.syntax", s->tok_start);
    if (s->lit[s->lit_pos] != '\0')
        return p;
    if (!emit(s, s->lit_kind, "", 0, s->tok_start))
        return NULL;
    return value_done(s, p);
}

/* ------------------------------------------------------------------ */
/* Structure                                                           */
/* ------------------------------------------------------------------ */

/*
 * A frame for depth s->depth, growing the array by doubling. A frame is
 * set up on its first use only, so a stream costs nothing for the depths
 * it never reaches.
 */
static struct frame *
frame_push(struct json_stream *s)
{
    struct frame *f;

    if (s->depth == s->nframes) {
        unsigned n = s->nframes == 0 ? FIRST_FRAMES : s->nframes * 2;

        f = arena_alloc(s->a, n * sizeof(*f));
        if (f == NULL)
            return NULL;
        if (s->nused > 0)
            memcpy(f, s->frames, s->nused * sizeof(*f));
        s->frames = f;
        s->nframes = n;
    }
    f = &s->frames[s->depth];
    if (s->depth == s->nused) {
        f->gen = 0;
        f->small = NULL;
        f->slots = NULL;
        f->nslots = 0;
        f->names = NULL;
        f->names_len = f->names_cap = 0;
        s->nused++;
    }
    return f;
}

/* '{' or '[' at p; max_depth bounds the containers open at once. */
static const char *
open_container(struct json_stream *s, const char *p, bool object)
{
    struct frame *f;

    if (s->depth >= s->lim.max_depth)
        return fail(s, AW_TOOBIG, "json.too_deep", off(s, p));
    f = frame_push(s);
    if (f == NULL)
        return no_memory(s, p);
    if (object && f->small == NULL) {
        f->small = arena_alloc(s->a, SMALL_OBJECT * sizeof(*f->small));
        if (f->small == NULL)
            return no_memory(s, p);
    }
    f->object = object;
    f->count = 0;
    if (object) {
        f->gen++;
        f->names_len = 0;
        f->hashed = false;
    }
    if (!emit(s, object ? JSON_TOK_OBJECT_BEGIN : JSON_TOK_ARRAY_BEGIN, "",
              0, off(s, p)))
        return NULL;
    s->depth++;
    s->state = object ? ST_OBJECT_FIRST : ST_ARRAY_FIRST;
    return p + 1;
}

/* '}' or ']' at p, closing the innermost container if it matches. */
static const char *
close_container(struct json_stream *s, const char *p)
{
    bool object = *p == '}';

    if (s->depth == 0 || s->frames[s->depth - 1].object != object)
        return fail(s, AW_INVALID, "json.syntax", off(s, p));
    s->depth--;
    if (!emit(s, object ? JSON_TOK_OBJECT_END : JSON_TOK_ARRAY_END, "", 0,
              off(s, p)))
        return NULL;
    return value_done(s, p + 1);
}

/* A string or name opens at p; it is decoded where it will be kept. */
static const char *
begin_string(struct json_stream *s, const char *p, bool is_name)
{
    s->state = ST_STRING;
    s->is_name = is_name;
    s->tok_start = off(s, p);
    s->str_len = 0;
    s->esc = ESC_NONE;
    s->utf8_need = 0;
    if (!is_name) {
        if (s->vstr == NULL) {
            s->vstr_cap = MIN(FIRST_STRING, s->lim.max_string + UTF8_SLACK);
            s->vstr = arena_alloc(s->a, s->vstr_cap);
            if (s->vstr == NULL)
                return no_memory(s, p);
        }
        s->str = s->vstr;
        s->str_cap = s->vstr_cap;
    } else if (!names_room(s, &s->frames[s->depth - 1], 0)) {
        return no_memory(s, p);
    }
    return p + 1;
}

static const char *
begin_literal(struct json_stream *s, const char *p, const char *word,
              enum json_token_kind kind)
{
    s->state = ST_LITERAL;
    s->tok_start = off(s, p);
    s->lit = word;
    s->lit_pos = 0;
    s->lit_kind = kind;
    return p;
}

static const char *
begin_number(struct json_stream *s, const char *p)
{
    s->state = ST_NUMBER;
    s->tok_start = off(s, p);
    s->num = N_START;
    s->num_ptr = p;
    s->num_len = 0;
    s->num_buf_len = 0;
    s->num_buffered = false;
    s->num_exp = false;
    return p;
}

/* A member name must begin at p; max_members bounds them. */
static const char *
begin_name(struct json_stream *s, const char *p)
{
    struct frame *f = &s->frames[s->depth - 1];

    if (*p != '"')
        return fail(s, AW_INVALID, "json.syntax", off(s, p));
    if (f->count == s->lim.max_members)
        return fail(s, AW_TOOBIG, "json.too_many_members", off(s, p));
    f->count++;
    return begin_string(s, p, true);
}

/* A value must begin at p; max_items bounds those of an array. */
static const char *
begin_value(struct json_stream *s, const char *p)
{
    struct frame *f = s->depth > 0 ? &s->frames[s->depth - 1] : NULL;

    if (f != NULL && !f->object) {
        if (f->count == s->lim.max_items)
            return fail(s, AW_TOOBIG, "json.array_too_long", off(s, p));
        f->count++;
    }
    switch (*p) {
    case '{':
    case '[':
        return open_container(s, p, *p == '{');
    case '"':
        return begin_string(s, p, false);
    case 't':
        return begin_literal(s, p, "true", JSON_TOK_TRUE);
    case 'f':
        return begin_literal(s, p, "false", JSON_TOK_FALSE);
    case 'n':
        return begin_literal(s, p, "null", JSON_TOK_NULL);
    default:
        if (*p == '-' || (*p >= '0' && *p <= '9'))
            return begin_number(s, p);
        return fail(s, AW_INVALID, "json.syntax", off(s, p));
    }
}

/* A byte other than whitespace between tokens. */
static const char *
on_byte(struct json_stream *s, const char *p)
{
    switch (s->state) {
    case ST_ARRAY_FIRST:
        if (*p == ']')
            return close_container(s, p);
        return begin_value(s, p);
    case ST_VALUE:
        return begin_value(s, p);
    case ST_OBJECT_FIRST:
        if (*p == '}')
            return close_container(s, p);
        return begin_name(s, p);
    case ST_NAME:
        return begin_name(s, p);
    case ST_COLON:
        if (*p != ':')
            break;
        s->state = ST_VALUE;
        return p + 1;
    case ST_AFTER:
        if (*p == '}' || *p == ']')
            return close_container(s, p);
        if (*p != ',')
            break;
        s->state = s->frames[s->depth - 1].object ? ST_NAME : ST_VALUE;
        return p + 1;
    default:
        break;
    }
    return fail(s, AW_INVALID, "json.syntax", off(s, p));
}

/* Read [p, end) of the current chunk, stopping at the first failure. */
static void
scan(struct json_stream *s, const char *p, const char *end)
{
    while (p != NULL && p < end) {
        switch (s->state) {
        case ST_STRING:
            p = lex_string(s, p, end);
            break;
        case ST_NUMBER:
            p = lex_number(s, p, end);
            break;
        case ST_LITERAL:
            p = lex_literal(s, p, end);
            break;
        default:
            while (p < end && is_ws(*p))
                p++;
            if (p < end)
                p = on_byte(s, p);
        }
    }
}

/* ------------------------------------------------------------------ */
/* Interface                                                           */
/* ------------------------------------------------------------------ */

/* The per-process seed of the name hash, drawn on first use. */
static uint64_t
seed_get(void)
{
    uint64_t v = atomic_load_explicit(&hash_seed, memory_order_relaxed);

    if (v != 0)
        return v;
    if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != (ssize_t)sizeof(v))
        v = clock_mono_us() * 0x9e3779b97f4a7c15u ^ (uintptr_t)&v;
    v |= 1;
    atomic_store_explicit(&hash_seed, v, memory_order_relaxed);
    return v;
}

struct json_stream *
json_stream_new(const struct json_limits *l, json_token_fn fn, void *ctx,
                struct arena *a)
{
    struct json_stream *s = arena_alloc(a, sizeof(*s));

    if (s == NULL)
        return NULL;
    memset(s, 0, sizeof(*s));
    s->lim = *l;
    s->fn = fn;
    s->ctx = ctx;
    s->a = a;
    s->seed = seed_get();
    s->state = ST_VALUE;
    return s;
}

/* The sticky outcome into err. */
static int
report(const struct json_stream *s, struct json_error *err)
{
    if (s->rc != AW_OK)
        *err = s->err;
    return s->rc;
}

int
json_stream_feed(struct json_stream *s, const char *p, size_t n,
                 struct json_error *err)
{
    size_t room, take;

    if (s->rc != AW_OK || n == 0)      /* p may be NULL when n is 0 */
        return report(s, err);
    room = s->lim.max_bytes - s->total;
    take = MIN(n, room);
    s->chunk = p;
    s->end = p + take;
    if (take > 0)
        scan(s, p, p + take);
    s->total += take;
    if (s->rc == AW_OK && n > room)
        fail(s, AW_TOOBIG, "json.too_large", s->lim.max_bytes);
    return report(s, err);
}

int
json_stream_finish(struct json_stream *s, struct json_error *err)
{
    if (s->rc != AW_OK)
        return report(s, err);
    s->chunk = NULL;
    s->end = NULL;
    if (s->state == ST_NUMBER) {
        if (!num_complete(s->num))
            fail(s, AW_INVALID, "json.bad_number", s->total);
        else
            number_done(s, NULL, NULL);
    }
    if (s->state == ST_LITERAL)
        fail(s, AW_INVALID, "json.syntax", s->tok_start);
    else if (s->state != ST_END)
        fail(s, AW_INVALID, "json.syntax", s->total);
    return report(s, err);
}

size_t
json_stream_offset(const struct json_stream *s)
{
    return s->total;
}

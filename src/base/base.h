/*
 * base: the few things every module shares.
 *
 * - one status enum returned by every fallible function;
 * - slices, the (pointer, length) strings that travel between modules;
 * - arenas, bump allocators with a hard maximum, reset between requests;
 * - buffers with a fixed capacity chosen at creation;
 * - the diagnostic log, printf-checked, tagged with the worker;
 * - monotonic and wall clocks.
 */
#ifndef APIWARD_BASE_H
#define APIWARD_BASE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define APIWARD_VERSION "0.1.0"

/*
 * Every fallible function returns one of these into a local named rc.
 * AW_OK and the three flow values are not errors; everything below
 * AW_ERROR is.
 */
enum aw_status {
    AW_OK = 0,
    AW_AGAIN = 1,    /* not finished: more input or time is needed */
    AW_DECLINED = 2, /* not applicable; the caller tries something else */
    AW_DONE = 3,     /* finished, nothing more will come */
    AW_ERROR = -1,   /* generic failure, details logged by the callee */
    AW_NOMEM = -2,   /* an allocation or a bound on memory failed */
    AW_INVALID = -3, /* malformed input */
    AW_TOOBIG = -4,  /* input over a configured bound */
    AW_IO = -5,      /* a system call failed; errno says why */
};

/* A string that is not NUL-terminated: a pointer and a length. */
struct slice {
    const char *ptr;
    size_t len;
};

#define SLICE_LIT(s) ((struct slice){(s), sizeof(s) - 1})
#define SLICE_NULL ((struct slice){NULL, 0})

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

#define AW_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define AW_UNUSED __attribute__((unused))
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* True when both slices hold the same bytes. */
bool slice_eq(struct slice a, struct slice b);

/* True when both slices hold the same bytes, ASCII case folded. */
bool slice_eq_nocase(struct slice a, struct slice b);

/* slice_eq_nocase against a NUL-terminated literal; inline, so that a
   literal's length is known where it is called and most names are told
   apart by length alone. */
static inline bool
slice_is(struct slice a, const char *lit)
{
    size_t n = strlen(lit);

    return a.len == n && slice_eq_nocase(a, (struct slice){lit, n});
}

/*
 * Parse a decimal unsigned integer that fills the whole slice. No sign,
 * no spaces, no leading '+'. Returns AW_OK, AW_INVALID for any other
 * byte or an empty slice, AW_TOOBIG when the value exceeds max.
 */
int slice_to_u64(struct slice s, uint64_t max, uint64_t *out);

/* s without the spaces and tabs around it. */
struct slice slice_trim_blanks(struct slice s);

/* The 4-bit value of a hex digit, either case, or -1. */
int hex_digit_value(unsigned char c);

/*
 * Number formatting for the hot path, where printf's parsing of its
 * format costs more than the digits. Neither writes a NUL.
 *
 * fmt_u64 writes v in decimal (at most FMT_U64_MAX bytes) and returns
 * the count; fmt_hex64 writes v as 16 lower-case hex digits, zeros
 * first.
 */
#define FMT_U64_MAX 20
size_t fmt_u64(char *dst, uint64_t v);
void fmt_hex64(char *dst, uint64_t v);

/* Copy s into dst of size cap, always NUL-terminated, truncating. */
void slice_copy_cstr(char *dst, size_t cap, struct slice s);

/*
 * Arena: a chain of chunks from which allocations are bumped. The total
 * size is bounded by max; an allocation that would pass it fails with
 * NULL and leaves the arena usable. Reset keeps the first chunk, so a
 * connection that serves many small requests allocates once.
 */
struct arena_chunk;

struct arena {
    struct arena_chunk *head; /* newest chunk; allocations come from it */
    struct arena_chunk *lent; /* caller's first chunk, never freed here */
    size_t first_size;        /* size of the chunk kept across resets */
    size_t total;             /* bytes held in all chunks */
    size_t max;               /* bound on total */
};

/* Prepare an empty arena; nothing is allocated until first use. */
void arena_init(struct arena *a, size_t first_size, size_t max);

/*
 * Prepare an arena whose first chunk is the caller's memory mem[0..size)
 * (16-byte aligned, at least 64 bytes). The arena never frees it: after
 * arena_fini the caller takes it back. Larger needs grow from malloc up
 * to max.
 */
void arena_init_lent(struct arena *a, void *mem, size_t size, size_t max);

/* Release every chunk. Accepts an arena that never allocated. */
void arena_fini(struct arena *a);

/* Forget every allocation; keeps the first chunk for reuse. */
void arena_reset(struct arena *a);

/* 16-byte aligned memory valid until reset or fini; NULL when over max. */
void *arena_alloc(struct arena *a, size_t n);

/* arena_alloc and copy n bytes of src; NULL when over max. */
char *arena_dup(struct arena *a, const char *src, size_t n);

/* Printf into the arena; NULL when over max. */
char *arena_printf(struct arena *a, const char *fmt, ...) AW_PRINTF(2, 3);

/*
 * Pool of equal blocks, page-aligned, taken from the kernel with mmap.
 * Freed blocks are kept for reuse up to max_free and returned to the
 * kernel beyond it, so a burst of connections leaves no memory behind
 * (the malloc heap keeps freed memory resident). One thread only.
 */
struct pool {
    size_t size;        /* block size, a multiple of the page size */
    unsigned max_free;  /* blocks kept for reuse */
    unsigned nfree;
    void *free_list;    /* linked through the first word of each block */
    size_t in_use;      /* blocks handed out */
};

/* Prepare a pool of blocks of at least size bytes (rounded to pages). */
void pool_init(struct pool *p, size_t size, unsigned max_free);

/* A block of p->size bytes, or NULL when the kernel refuses. */
void *pool_get(struct pool *p);

/* Give a block back; NULL is ignored. */
void pool_put(struct pool *p, void *block);

/* Return every kept block to the kernel. Blocks in use are the owners'. */
void pool_fini(struct pool *p);

/*
 * Buffer of fixed capacity. data[start..end) holds unread bytes; writers
 * append at end. The capacity never grows: a full buffer is a bound hit.
 */
struct buf {
    char *data;
    size_t start;
    size_t end;
    size_t cap;
};

/* Allocate the storage; AW_NOMEM on failure. */
int buf_init(struct buf *b, size_t cap);

/* Free the storage; accepts a zeroed buffer. */
void buf_fini(struct buf *b);

static inline size_t
buf_len(const struct buf *b)
{
    return b->end - b->start;
}

static inline size_t
buf_room(const struct buf *b)
{
    return b->cap - b->end;
}

/* Move unread bytes to the front so that buf_room is largest. */
void buf_compact(struct buf *b);

/*
 * Append n bytes; AW_TOOBIG (and nothing written) when they do not fit.
 * What fits after end is copied inline (the builders of heads and log
 * lines append a hundred short pieces per request); buf_append_slow
 * compacts first.
 */
int buf_append_slow(struct buf *b, const void *src, size_t n);

static inline int
buf_append(struct buf *b, const void *src, size_t n)
{
    if (n > buf_room(b))
        return buf_append_slow(b, src, n);
    if (n > 0)
        memcpy(b->data + b->end, src, n);
    b->end += n;
    return AW_OK;
}

/* Printf-append; AW_TOOBIG (and nothing written) when it does not fit. */
int buf_printf(struct buf *b, const char *fmt, ...) AW_PRINTF(2, 3);

/*
 * A line or message built in a fixed buffer from many short pieces: the
 * first piece that does not fit sets overflow, and every later append
 * is a no-op, so the builder is checked once at the end.
 */
struct bld {
    struct buf b;
    bool overflow;
};

static inline void
bld_add(struct bld *o, struct slice s)
{
    if (!o->overflow && buf_append(&o->b, s.ptr, s.len) != AW_OK)
        o->overflow = true;
}

static inline void
bld_str(struct bld *o, const char *s)
{
    bld_add(o, (struct slice){s, strlen(s)});
}

/* A string literal, its length known at compile time. */
#define bld_lit(o, s) bld_add((o), SLICE_LIT("" s))

/* v in decimal. */
static inline void
bld_u64(struct bld *o, uint64_t v)
{
    char num[FMT_U64_MAX];

    bld_add(o, (struct slice){num, fmt_u64(num, v)});
}

/*
 * Eight bytes at a time: the high bit of each byte of the word w that
 * equals c (word_eq) or is below n, n at most 0x80 (word_below). A
 * borrow may also mark a byte above a marked one, never below, so
 * whether any byte is marked, and which is the lowest, is exact.
 */
#define WORD_ONES UINT64_C(0x0101010101010101)
#define WORD_HIGHS UINT64_C(0x8080808080808080)

static inline uint64_t
word_eq(uint64_t w, unsigned char c)
{
    uint64_t x = w ^ (WORD_ONES * c);

    return (x - WORD_ONES) & ~x & WORD_HIGHS;
}

static inline uint64_t
word_below(uint64_t w, unsigned char n)
{
    return (w - WORD_ONES * n) & ~w & WORD_HIGHS;
}

/*
 * Diagnostics. Each line carries the time, the level and the worker
 * number set by log_set_worker. Messages must never contain secrets; text
 * that came from a client is passed through log_escape first.
 */
enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

void log_set_level(enum log_level level);
void log_set_worker(int worker);
void log_msg(enum log_level level, const char *fmt, ...) AW_PRINTF(2, 3);

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

/*
 * Copy at most cap - 1 bytes of s into dst as printable ASCII: bytes
 * outside 0x20..0x7e and the quote and backslash become \xHH. Text longer
 * than fits ends in "...". Returns dst.
 */
char *log_escape(char *dst, size_t cap, struct slice s);

/* Monotonic milliseconds and microseconds, and wall-clock milliseconds. */
uint64_t clock_mono_ms(void);
uint64_t clock_mono_us(void);
uint64_t clock_wall_ms(void);

/*
 * The wall clock in ISO 8601 UTC with milliseconds,
 * "2025-01-01T12:00:00.000Z": CLOCK_UTC_LEN bytes and a NUL into dst.
 * The date and time of day are formatted once a second per thread.
 */
#define CLOCK_UTC_LEN 24
void clock_utc_text(char *dst);

/*
 * Parse a duration such as "250ms", "10s", "5m", "1h" or a bare number
 * of seconds into milliseconds. AW_INVALID for anything else.
 */
int duration_parse_ms(struct slice s, uint64_t *ms);

/*
 * Parse a size such as "16k", "1m", "512" (bytes, k = 1024) into bytes.
 * AW_INVALID for anything else, AW_TOOBIG past 2^40.
 */
int size_parse(struct slice s, uint64_t *bytes);

#endif

/*
 * The scan for the end of a head, shared by the request and response
 * parsers.
 *
 * Each call looks only at the bytes that arrived since the last one,
 * for line ends, refusing a bare LF at once and counting lines against
 * the limits. When the empty line that ends the head is found, the
 * caller parses the whole head in one pass. When it is not, the lines
 * that have arrived are checked now, the last one even though it is
 * incomplete, so that a malformed head is refused without waiting for
 * its end; and before any refusal of the scan's own, the lines before
 * it are checked too. A head therefore always fails on its first faulty
 * byte, however it was split (see head.h).
 */
#include <string.h>

#include "http/head.h"

/*
 * A partial line is checked at every call while it is short, and then
 * again once it has grown by SCAN_PARTIAL_STEP bytes or by an eighth of
 * its length, whichever is more. A line fed one byte at a time is thus
 * checked in linear time overall, and a fault in it is found at most
 * that many bytes after it arrived (at once when the line ends, a CR
 * arrives or the head limit is reached). A head fed in small pieces can
 * therefore still be pending when the same bytes in one piece are
 * already refused; once refused, the reason is the same.
 */
#define SCAN_PARTIAL_STEP 256

void
http_parser_init(struct http_parser *p)
{
    memset(p, 0, sizeof(*p));
}

/*
 * Check the line that starts at buf[from] against its grammar, reading
 * up to end, into scratch structures. A partial line leaves p->st as it
 * was, since its rules are applied again once it is complete.
 */
static int
scan_check(struct http_parser *p, const struct http_head_kind *k,
           const char *buf, size_t from, const char *end, bool partial,
           struct http_error *err)
{
    struct http_head_state scratch = p->st;
    struct http_head_state *st = partial ? &scratch : &p->st;
    const char *q = buf + from;
    struct http_request req = {0};
    struct http_response res = {0};
    struct http_header h;

    if (from > 0)
        return http_field_line(st, k, buf, &q, end, &h, err);
    if (k->response)
        return http_response_start(st, &q, end, &res, err);
    return http_request_start(st, buf, &q, end, k->limits, &req, err);
}

/* Check every complete line not checked yet, in order. */
static int
scan_check_lines(struct http_parser *p, const struct http_head_kind *k,
                 const char *buf, struct http_error *err)
{
    while (p->checked < p->line_start) {
        const char *line = buf + p->checked;
        const char *lf = memchr(line, '\n', p->line_start - p->checked);
        int rc = scan_check(p, k, buf, p->checked, lf + 1, false, err);

        if (rc == AW_INVALID)
            return rc;
        p->checked = (size_t)(lf + 1 - buf);
    }
    return AW_OK;
}

/*
 * Check the partial line buf[p->line_start..to) when forced or when it
 * is due. Returns AW_INVALID with its first fault, else AW_OK.
 */
static int
scan_check_partial(struct http_parser *p, const struct http_head_kind *k,
                   const char *buf, size_t to, bool force,
                   struct http_error *err)
{
    size_t len = to - p->line_start;
    size_t done =
        p->partial_end > p->line_start ? p->partial_end - p->line_start : 0;

    if (len == 0 || (!force && len > SCAN_PARTIAL_STEP &&
                     len - done < MAX(SCAN_PARTIAL_STEP, done / 8)))
        return AW_OK;
    p->partial_end = to;
    if (scan_check(p, k, buf, p->line_start, buf + to, true, err) == AW_INVALID)
        return AW_INVALID;
    return AW_OK;
}

/*
 * Refuse with the scan's own fault, found at buf[at], unless a line
 * before it, or the current line up to at, holds an earlier one.
 */
static int
scan_fail(struct http_parser *p, const struct http_head_kind *k,
          const char *buf, size_t at, struct http_error *err, int status,
          const char *reason, const char *detail)
{
    int rc = scan_check_lines(p, k, buf, err);

    if (rc == AW_OK && at > p->line_start)
        rc = scan_check_partial(p, k, buf, at, true, err);
    if (rc != AW_OK)
        return rc;
    return http_fail(err, status, reason, detail);
}

/*
 * Account for the LF at buf[i]. Returns AW_OK with *head_len when it
 * ends the empty line, AW_AGAIN when it ends any other line, or
 * AW_INVALID.
 */
static int
scan_line_end(struct http_parser *p, const struct http_head_kind *k,
              const char *buf, size_t i, size_t *head_len,
              struct http_error *err)
{
    if (i == 0 || buf[i - 1] != '\r')
        return scan_fail(p, k, buf, i, err, 400, "http.bare_lf",
                         "A line of the head ends in LF without CR.");
    p->scanned = i + 1;
    if (i - 1 == p->line_start) {
        /* RFC 9112 section 2.2 lets a server skip empty lines before
           the request line; refusing them keeps the reading of a
           pipelined stream unambiguous. */
        if (p->lines == 0)
            return http_fail(err, 400, "http.bad_request_line",
                             "The message starts with an empty line.");
        *head_len = i + 1;
        return AW_OK;
    }
    p->line_start = i + 1;
    p->lines++;
    if (p->lines - 1 > k->limits->max_headers)
        return scan_fail(p, k, buf, p->line_start, err, 431,
                         "http.too_many_headers",
                         "The head has more field lines than allowed.");
    return AW_AGAIN;
}

int
http_head_scan(struct http_parser *p, const char *buf, size_t len,
               const struct http_head_kind *k, size_t *head_len,
               struct http_error *err)
{
    size_t end = MIN(len, k->limits->max_head_bytes);
    /* Where the partial line may hold a CR not seen before; the last
       byte scanned before may be a CR whose LF has now arrived. */
    size_t cr_from = MAX(p->line_start, p->scanned > 0 ? p->scanned - 1 : 0);
    bool limit = len >= k->limits->max_head_bytes;
    int rc;

    while (p->scanned < end) {
        const char *lf = memchr(buf + p->scanned, '\n', end - p->scanned);

        if (lf == NULL) {
            p->scanned = end;
            break;
        }
        rc = scan_line_end(p, k, buf, (size_t)(lf - buf), head_len, err);
        if (rc != AW_AGAIN)
            return rc;
        cr_from = p->line_start;
    }
    rc = scan_check_lines(p, k, buf, err);
    if (rc != AW_OK)
        return rc;

    /* A CR with a byte after it in a line with no LF is bare: check the
       line at once, which refuses it or an earlier fault. */
    bool cr = end > cr_from + 1 &&
              memchr(buf + cr_from, '\r', end - 1 - cr_from) != NULL;

    rc = scan_check_partial(p, k, buf, end, cr || limit, err);
    if (rc != AW_OK)
        return rc;
    if (limit)
        return http_fail(err, 431, "http.head_too_large",
                         "The head is larger than allowed.");
    return AW_AGAIN;
}

/*
 * libFuzzer driver for the admin API past its token check: the input is
 * a request (head, then the body its Content-Length announces), parsed
 * by the strict HTTP parser as the admin listener parses it, then
 * routed by admin_dispatch to every endpoint: the ban list's query, a
 * ban's percent-encoded id or subject, a digest to evict, an API key
 * id to revoke, JSON bodies.
 *
 * Nothing stands behind the endpoints (no configuration serving, no
 * ban table, no Redis, no reload hook), so each must still give exactly
 * one answer: a status line, a head and a body of the length the head
 * announces, read here from the other end of a socket pair.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "admin/admin_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ANSWER_MAX (1 << 20)

static void
check(bool cond)
{
    if (!cond)
        abort();
}

/* Everything the admin code sent on fd, up to cap bytes; the length. */
static size_t
read_answer(int fd, char *out, size_t cap)
{
    size_t n = 0;

    for (;;) {
        ssize_t r = recv(fd, out + n, cap - n, MSG_DONTWAIT);

        if (r <= 0)
            return n;
        n += (size_t)r;
        check(n < cap);
    }
}

/* The answer is one status line and a body as long as it says. */
static void
check_answer(const char *a, size_t n)
{
    const char *end = memmem(a, n, "\r\n\r\n", 4);
    const char *cl = memmem(a, n, "Content-Length: ", 16);

    check(n > 12 && memcmp(a, "HTTP/1.1 ", 9) == 0);
    check(end != NULL && cl != NULL && cl < end);
    check((size_t)strtoul(cl + 16, NULL, 10) ==
          n - (size_t)(end + 4 - a));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct http_limits lim = {
        .max_head_bytes = ADMIN_MAX_HEAD, .max_headers = 64,
        .max_target_bytes = 2048, .max_body_bytes = ADMIN_MAX_BODY,
    };
    static const struct admin_hooks hooks = {0};
    static char answer[ANSWER_MAX];
    struct admin_conn ac = {.hooks = &hooks, .peer = "192.0.2.1"};
    struct http_parser p;
    struct http_error err;
    int sv[2];
    size_t body;

    ac.in = (struct buf){(char *)data, 0, size, size};
    ac.req.headers = ac.headers;
    http_parser_init(&p);
    if (http_parse_request(&p, (const char *)data, size, &lim, &ac.req,
                           &err) != AW_OK ||
        ac.req.framing == HTTP_BODY_CHUNKED)
        return 0;
    body = ac.req.framing == HTTP_BODY_LENGTH
               ? (size_t)ac.req.content_length : 0;
    if (size - ac.req.head_len < body)
        return 0;
    ac.body = (struct slice){(const char *)data + ac.req.head_len, body};
    check(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
    ac.fd = sv[0];
    ac.deadline = clock_mono_ms() + 1000;
    admin_dispatch(&ac);
    close(sv[0]);
    check_answer(answer, read_answer(sv[1], answer, sizeof(answer)));
    close(sv[1]);
    return 0;
}

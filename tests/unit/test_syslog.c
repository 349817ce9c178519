/*
 * Unit tests of the syslog sink of the security events
 * (src/telemetry/syslog.c, cef.c, events.c): RFC 5424 headers, CEF
 * escaping of client text, one datagram per event over UDP, and
 * octet-counted frames over TCP, against real loopback sockets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "telemetry/telemetry.h"

/* A socket bound to 127.0.0.1 on a free port; *sa gets the address. */
static int
bound(int type, struct sockaddr_in *sa)
{
    socklen_t len = sizeof(*sa);
    int fd = socket(AF_INET, type, 0);

    memset(sa, 0, sizeof(*sa));
    sa->sin_family = AF_INET;
    sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)sa, sizeof(*sa)), 0);
    getsockname(fd, (struct sockaddr *)sa, &len);
    return fd;
}

static void
start(const struct sockaddr_in *sa, bool tcp, bool cef)
{
    struct events_syslog o = {
        .peer = (const struct sockaddr *)sa,
        .peer_len = sizeof(*sa),
        .peer_text = "test receiver",
        .tcp = tcp,
        .cef = cef,
        .facility = 10,                 /* authpriv */
    };

    assert_int_equal(events_syslog_start(&o, 64 << 10, 2), AW_OK);
    assert_true(events_enabled());
}

static const struct security_event hostile = {
    .action = "authentication.failed",
    .reason = "auth.bad_signature",
    .outcome = "denied",
    .severity = 6,
    .method = "GET",
    .path = "/a|b=c\\d\ne\x01\xff",
    .client_ip = "192.0.2.1",
    .subject = "eve|CEF:0",
    .category = "authentication",
};

/* Receive up to cap - 1 bytes within 3 s; the count. */
static size_t
receive(int fd, char *buf, size_t cap)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    ssize_t n;

    assert_int_equal(poll(&p, 1, 3000), 1);
    n = recv(fd, buf, cap - 1, 0);
    assert_true(n > 0);
    buf[n] = '\0';
    return (size_t)n;
}

static void
test_udp_cef(void **state)
{
    struct sockaddr_in sa;
    int fd = bound(SOCK_DGRAM, &sa);
    char msg[8192];

    start(&sa, false, true);
    events_emit(0, &hostile);
    receive(fd, msg, sizeof(msg));
    /* authpriv (10) * 8 + warning (4) */
    assert_memory_equal(msg, "<84>1 ", 6);
    assert_non_null(strstr(msg, " apiward "));
    assert_non_null(strstr(msg, " authentication.failed - CEF:0|apiward|"
                                "apiward|"));
    assert_non_null(strstr(msg, "|authentication.failed|auth.bad_signature"
                                "|6|"));
    assert_non_null(strstr(msg, " request=/a|b\\=c\\\\d\\ne??"));
    assert_non_null(strstr(msg, " suser=eve|CEF:0"));
    assert_non_null(strstr(msg, " src=192.0.2.1"));
    assert_null(strchr(msg, '\n'));
    events_stop();
    assert_false(events_enabled());
    close(fd);
}

/* Read one octet-counted frame from a stream; its message in out. */
static void
read_frame(int fd, char *out, size_t cap)
{
    size_t len = 0, got = 0;
    char c;

    for (;;) {
        assert_int_equal(recv(fd, &c, 1, MSG_WAITALL), 1);
        if (c == ' ')
            break;
        assert_true(c >= '0' && c <= '9');
        len = len * 10 + (size_t)(c - '0');
    }
    assert_true(len > 0 && len < cap);
    while (got < len) {
        ssize_t n = recv(fd, out + got, len - got, 0);

        assert_true(n > 0);
        got += (size_t)n;
    }
    out[len] = '\0';
}

static void
test_tcp_json_frames(void **state)
{
    struct sockaddr_in sa;
    int lfd = bound(SOCK_STREAM, &sa), cfd;
    struct pollfd p;
    char msg[8192];
    struct security_event e = hostile;

    assert_int_equal(listen(lfd, 1), 0);
    start(&sa, true, false);
    for (int i = 0; i < 3; i++)
        events_emit(1, &e);
    p = (struct pollfd){.fd = lfd, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 3000), 1);
    cfd = accept(lfd, NULL, NULL);
    assert_true(cfd >= 0);
    for (int i = 0; i < 3; i++) {
        read_frame(cfd, msg, sizeof(msg));
        assert_memory_equal(msg, "<84>1 ", 6);
        assert_non_null(strstr(msg, " - {\"@timestamp\":"));
        assert_non_null(strstr(msg, "\"reason\":\"auth.bad_signature\""));
        assert_int_equal(msg[strlen(msg) - 1], '}');
    }
    events_stop();
    close(cfd);
    close(lfd);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_udp_cef),
        cmocka_unit_test(test_tcp_json_frames),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

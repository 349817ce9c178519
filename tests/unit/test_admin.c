/*
 * Unit tests of the admin module (src/admin/): the token file's checks,
 * bearer authentication and the endpoints' answers over a real loopback
 * socket, and systemd notifications received on a real datagram socket.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "admin/admin.h"

#define TOKEN "s3cret-admin-token-0123456789"

static char dir[64];
static char token_path[128];

static int
group_setup(void **state)
{
    snprintf(dir, sizeof(dir), "/tmp/test_admin.XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(token_path, sizeof(token_path), "%s/token", dir);
    return 0;
}

static int
group_teardown(void **state)
{
    char p[160];

    unlink(token_path);
    snprintf(p, sizeof(p), "%s/notify", dir);
    unlink(p);
    rmdir(dir);
    return 0;
}

static void
write_token(const char *text, mode_t mode)
{
    int fd;

    unlink(token_path);
    fd = open(token_path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    fchmod(fd, mode);
    close(fd);
}

/* A loopback port nobody listens on right now. */
static int
free_port(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    getsockname(fd, (struct sockaddr *)&sa, &len);
    close(fd);
    return ntohs(sa.sin_port);
}

static struct config_addr addr;
static struct config cfg;

static void
make_config(int port)
{
    struct sockaddr_in *sin = (struct sockaddr_in *)&addr.ss;

    memset(&addr, 0, sizeof(addr));
    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t)port);
    sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.len = sizeof(*sin);
    snprintf(addr.text, sizeof(addr.text), "127.0.0.1:%d", port);
    memset(&cfg, 0, sizeof(cfg));
    cfg.admin_listen = &addr;
    cfg.admin_token_file = token_path;
    cfg.admin_timeout_ms = 2000;
}

static const struct admin_hooks no_hooks = {NULL};

static void
test_token_file_checks(void **state)
{
    make_config(free_port());
    write_token(TOKEN "\n", 0644);
    assert_int_equal(admin_start(&cfg, &no_hooks), AW_INVALID);
    write_token("short\n", 0600);
    assert_int_equal(admin_start(&cfg, &no_hooks), AW_INVALID);
    unlink(token_path);
    assert_int_equal(admin_start(&cfg, &no_hooks), AW_INVALID);
    cfg.admin_listen = NULL;
    assert_int_equal(admin_start(&cfg, &no_hooks), AW_DECLINED);
}

/* Send req to the admin port and read the whole answer into out. */
static void
exchange(int port, const char *req, char *out, size_t cap)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    size_t got = 0;
    ssize_t n;

    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(send(fd, req, strlen(req), 0), (ssize_t)strlen(req));
    while (got < cap - 1 && (n = recv(fd, out + got, cap - 1 - got, 0)) > 0)
        got += (size_t)n;
    out[got] = '\0';
    close(fd);
}

static int
status_of(const char *answer)
{
    return strncmp(answer, "HTTP/1.1 ", 9) == 0 ? (int)strtol(answer + 9,
                                                              NULL, 10)
                                                : -1;
}

#define AUTH "Authorization: Bearer " TOKEN "\r\n"

static void
test_endpoints(void **state)
{
    static char out[1 << 16];
    int port = free_port();

    make_config(port);
    write_token(TOKEN "\n", 0600);
    assert_int_equal(admin_start(&cfg, &no_hooks), AW_OK);

    exchange(port, "GET /health HTTP/1.1\r\nHost: a\r\n\r\n", out,
             sizeof(out));
    assert_int_equal(status_of(out), 401);
    assert_non_null(strstr(out, "urn:apiward:problem:admin.unauthorized"));
    assert_non_null(strstr(out, "WWW-Authenticate: Bearer"));
    exchange(port, "GET /health HTTP/1.1\r\nHost: a\r\nAuthorization: "
                   "Bearer " TOKEN "x\r\n\r\n", out, sizeof(out));
    assert_int_equal(status_of(out), 401);
    exchange(port, "GET /health HTTP/1.1\r\nHost: a\r\n" AUTH "\r\n", out,
             sizeof(out));
    assert_int_equal(status_of(out), 200);
    assert_non_null(strstr(out, "\"status\":\"ok\""));
    exchange(port, "GET /metrics HTTP/1.1\r\nHost: a\r\n" AUTH "\r\n", out,
             sizeof(out));
    assert_int_equal(status_of(out), 200);
    assert_non_null(strstr(out, "text/plain; version=0.0.4"));
    exchange(port, "GET /nope HTTP/1.1\r\nHost: a\r\n" AUTH "\r\n", out,
             sizeof(out));
    assert_int_equal(status_of(out), 404);
    exchange(port, "POST /health HTTP/1.1\r\nHost: a\r\n" AUTH
                   "Content-Length: 0\r\n\r\n", out, sizeof(out));
    assert_int_equal(status_of(out), 405);
    exchange(port, "GET /config HTTP/1.1\r\nHost: a\r\n" AUTH "\r\n", out,
             sizeof(out));
    assert_int_equal(status_of(out), 503);      /* no snapshot installed */
    exchange(port, "POST /reload HTTP/1.1\r\nHost: a\r\n" AUTH
                   "Content-Length: 0\r\n\r\n", out, sizeof(out));
    assert_int_equal(status_of(out), 500);      /* no reload hook */
    assert_non_null(strstr(out, "admin.reload_failed"));
    exchange(port, "DELETE /introspection/zz HTTP/1.1\r\nHost: a\r\n" AUTH
                   "\r\n", out, sizeof(out));
    assert_int_equal(status_of(out), 404);
    exchange(port, "POST /introspection/evict HTTP/1.1\r\nHost: a\r\n" AUTH
                   "Content-Length: 7\r\n\r\n{\"x\":1}", out, sizeof(out));
    assert_int_equal(status_of(out), 400);
    assert_non_null(strstr(out, "admin.bad_body"));
    exchange(port, "GET /health HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n"
                   "Transfer-Encoding: chunked\r\n\r\n", out, sizeof(out));
    assert_int_equal(status_of(out), 400);
    assert_non_null(strstr(out, "http.ambiguous_length"));
    assert_null(strstr(out, TOKEN));
    admin_stop();
    admin_stop();                               /* harmless twice */
}

/* Bind a datagram socket at name (a path, or "@x" abstract). */
static int
bind_notify(const char *name)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t n = strlen(name);
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);

    memcpy(sa.sun_path, name, n);
    if (name[0] == '@')
        sa.sun_path[0] = '\0';
    assert_int_equal(bind(fd, (struct sockaddr *)&sa,
                          (socklen_t)(offsetof(struct sockaddr_un, sun_path)
                                      + n)), 0);
    return fd;
}

static void
test_notify(void **state)
{
    char path[160], msg[256], abstract[64];
    ssize_t n;
    int fd;

    unsetenv("NOTIFY_SOCKET");
    assert_int_equal(admin_notify("READY=1"), AW_DECLINED);
    snprintf(path, sizeof(path), "%s/notify", dir);
    fd = bind_notify(path);
    setenv("NOTIFY_SOCKET", path, 1);
    assert_int_equal(admin_notify("READY=1"), AW_OK);
    n = recv(fd, msg, sizeof(msg) - 1, 0);
    assert_int_equal(n, 7);
    assert_memory_equal(msg, "READY=1", 7);
    assert_int_equal(admin_notify("RELOADING=1"), AW_OK);
    n = recv(fd, msg, sizeof(msg) - 1, 0);
    assert_true(n > 0);
    msg[n] = '\0';
    assert_non_null(strstr(msg, "RELOADING=1\nMONOTONIC_USEC="));
    close(fd);
    snprintf(abstract, sizeof(abstract), "@apiward-test-%d", (int)getpid());
    fd = bind_notify(abstract);
    setenv("NOTIFY_SOCKET", abstract, 1);
    assert_int_equal(admin_notify("STOPPING=1"), AW_OK);
    n = recv(fd, msg, sizeof(msg) - 1, 0);
    assert_int_equal(n, 10);
    close(fd);
    setenv("NOTIFY_SOCKET", "relative/name", 1);
    assert_int_equal(admin_notify("READY=1"), AW_INVALID);
    unsetenv("NOTIFY_SOCKET");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_file_checks),
        cmocka_unit_test(test_endpoints),
        cmocka_unit_test(test_notify),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

/*
 * Readiness and reload notifications to systemd (sd_notify(3)'s
 * protocol): one datagram of "KEY=value" lines to the AF_UNIX socket
 * named by $NOTIFY_SOCKET. Written here rather than linking libsystemd
 * for one sendto.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "admin.h"

/* The socket's address from $NOTIFY_SOCKET; false when unusable. */
static bool
notify_addr(const char *name, struct sockaddr_un *sa, socklen_t *len)
{
    size_t n = strlen(name);

    if (n == 0 || n >= sizeof(sa->sun_path) ||
        (name[0] != '/' && name[0] != '@'))
        return false;
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    memcpy(sa->sun_path, name, n);
    if (name[0] == '@')
        sa->sun_path[0] = '\0';        /* an abstract socket */
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    return true;
}

int
admin_notify(const char *state)
{
    const char *name = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sa;
    socklen_t len;
    char msg[256];
    int fd, n;
    ssize_t sent;

    if (name == NULL)
        return AW_DECLINED;
    if (!notify_addr(name, &sa, &len))
        return AW_INVALID;
    if (strcmp(state, "RELOADING=1") == 0)
        n = snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
                     (unsigned long long)clock_mono_us());
    else
        n = snprintf(msg, sizeof(msg), "%s", state);
    if (n < 0 || (size_t)n >= sizeof(msg))
        return AW_INVALID;
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return AW_IO;
    sent = sendto(fd, msg, (size_t)n, MSG_NOSIGNAL,
                  (const struct sockaddr *)&sa, len);
    close(fd);
    return sent == n ? AW_OK : AW_IO;
}

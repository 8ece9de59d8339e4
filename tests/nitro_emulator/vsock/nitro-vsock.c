/*
 * Emulated vsock for programs on an emulated Nitro host (loaded through /etc/ld.so.preload).
 *
 * This machine's kernel has AF_VSOCK sockets but no transport between a parent instance and its
 * enclaves, so nothing connects. This library turns every AF_VSOCK stream socket into a unix socket
 * at the emulator's endpoint for that address:
 *
 *     (cid, port)  <->  $NITRO_EMULATOR_ROOT/run/nitro_emulator/vsock/<cid>/<port>.sock
 *
 * socket(AF_VSOCK)   gives a unix socket of the same type;
 * bind               VMADDR_CID_ANY (or the caller's own CID) binds the caller's endpoint: the parent's
 *                    CID is 3, an enclave's comes from NITRO_EMULATOR_VSOCK_CID (set by the emulator
 *                    for what runs inside an enclave); another CID is EADDRNOTAVAIL, a port in use
 *                    EADDRINUSE (a stale socket file of a dead process is replaced);
 * connect            connects to the endpoint of (cid, port); nothing there is ECONNRESET, like a
 *                    real vsock connect to a port nobody listens on; the connecting socket is first
 *                    bound to an abstract name that carries its own (cid, port), so the accepting side
 *                    sees a vsock peer address;
 * accept, accept4,
 * getsockname,
 * getpeername        return struct sockaddr_vm for these sockets, so programs (socat, Python) that
 *                    check the address family are not confused.
 *
 * Everything else (read, write, poll, close, fork, shutdown) works unchanged on the unix socket.
 * Programs that do not support vsock (a socat built without it) fail exactly as on a real host: they
 * never create an AF_VSOCK socket. Build: gcc -shared -fPIC -O2 -s -o libnitro-vsock.so nitro-vsock.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#define VSOCK_DIR "/run/nitro_emulator/vsock"
#define PEER_PREFIX "nitro-emulator-vsock/"
#define PARENT_CID 3U

typedef int (*socket_fn)(int, int, int);
typedef int (*addr_fn)(int, const struct sockaddr *, socklen_t);
typedef int (*name_fn)(int, struct sockaddr *, socklen_t *);
typedef int (*accept4_fn)(int, struct sockaddr *, socklen_t *, int);

static void *next_symbol(const char *name)
{
    return dlsym(RTLD_NEXT, name);
}

static unsigned int own_cid(void)
{
    const char *text = getenv("NITRO_EMULATOR_VSOCK_CID");
    char *end;
    unsigned long value;

    if (text == NULL || *text == '\0')
        return PARENT_CID;
    value = strtoul(text, &end, 10);
    return (*end == '\0' && value > 2 && value < 0xffffffffUL) ? (unsigned int) value : PARENT_CID;
}

static const char *root(void)
{
    const char *text = getenv("NITRO_EMULATOR_ROOT");
    return text == NULL ? "" : text;
}

/* The endpoint path of (cid, port); -1 with ENAMETOOLONG when it does not fit in sun_path. */
static int endpoint(struct sockaddr_un *address, unsigned int cid, unsigned int port)
{
    int length;

    memset(address, 0, sizeof(*address));
    address->sun_family = AF_UNIX;
    length = snprintf(address->sun_path, sizeof(address->sun_path), "%s" VSOCK_DIR "/%u/%u.sock", root(), cid, port);
    if (length < 0 || (size_t) length >= sizeof(address->sun_path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

/* (cid, port) from a unix address made by this library: an endpoint path or a peer's abstract name. */
static int parse_unix(const struct sockaddr_un *address, socklen_t length, unsigned int *cid, unsigned int *port)
{
    char text[sizeof(address->sun_path) + 1];
    size_t path_length, prefix_length;
    const char *rest;
    char tail[8];

    if (length <= offsetof(struct sockaddr_un, sun_path) || address->sun_family != AF_UNIX)
        return -1;
    path_length = length - offsetof(struct sockaddr_un, sun_path);
    if (path_length > sizeof(address->sun_path))
        path_length = sizeof(address->sun_path);
    if (address->sun_path[0] == '\0') {
        memcpy(text, address->sun_path + 1, path_length - 1);
        text[path_length - 1] = '\0';
        if (strncmp(text, PEER_PREFIX, strlen(PEER_PREFIX)) != 0)
            return -1;
        return sscanf(text + strlen(PEER_PREFIX), "%u/%u/", cid, port) == 2 ? 0 : -1;
    }
    memcpy(text, address->sun_path, path_length);
    text[path_length] = '\0';
    prefix_length = strlen(root()) + strlen(VSOCK_DIR "/");
    if (strlen(text) <= prefix_length || strncmp(text, root(), strlen(root())) != 0
        || strncmp(text + strlen(root()), VSOCK_DIR "/", strlen(VSOCK_DIR "/")) != 0)
        return -1;
    rest = text + prefix_length;
    if (sscanf(rest, "%u/%u%7s", cid, port, tail) != 3 || strcmp(tail, ".sock") != 0)
        return -1;
    return 0;
}

/* Copy a sockaddr_vm for (cid, port) into the caller's buffer, truncated like the kernel does. */
static void give_vsock(struct sockaddr *address, socklen_t *length, unsigned int cid, unsigned int port)
{
    struct sockaddr_vm vm;
    socklen_t room;

    if (address == NULL || length == NULL)
        return;
    memset(&vm, 0, sizeof(vm));
    vm.svm_family = AF_VSOCK;
    vm.svm_cid = cid;
    vm.svm_port = port;
    room = *length < sizeof(vm) ? *length : sizeof(vm);
    memcpy(address, &vm, room);
    *length = sizeof(vm);
}

static void give_unix(struct sockaddr *address, socklen_t *length, const struct sockaddr_un *unix_address,
                      socklen_t unix_length)
{
    socklen_t room;

    if (address == NULL || length == NULL)
        return;
    room = *length < unix_length ? *length : unix_length;
    memcpy(address, unix_address, room);
    *length = unix_length;
}

static int is_vsock(const struct sockaddr *address, socklen_t length)
{
    return address != NULL && length >= sizeof(struct sockaddr_vm) && address->sa_family == AF_VSOCK;
}

int socket(int domain, int type, int protocol)
{
    static socket_fn real;

    if (real == NULL)
        real = (socket_fn) next_symbol("socket");
    if (domain == AF_VSOCK)
        return real(AF_UNIX, type, 0);
    return real(domain, type, protocol);
}

/* Whether a unix socket file has a listener behind it (a leftover of a dead process has none). */
static int endpoint_alive(const struct sockaddr_un *address)
{
    static socket_fn real_socket;
    static addr_fn real_connect;
    int probe, alive;

    if (real_socket == NULL)
        real_socket = (socket_fn) next_symbol("socket");
    if (real_connect == NULL)
        real_connect = (addr_fn) next_symbol("connect");
    probe = real_socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (probe < 0)
        return 1;
    alive = real_connect(probe, (const struct sockaddr *) address, sizeof(*address)) == 0 || errno != ECONNREFUSED;
    close(probe);
    return alive;
}

int bind(int fd, const struct sockaddr *address, socklen_t length)
{
    static addr_fn real;
    const struct sockaddr_vm *vm = (const struct sockaddr_vm *) address;
    struct sockaddr_un unix_address;
    unsigned int cid = own_cid();
    char folder[sizeof(unix_address.sun_path)];
    char *slash;
    int saved, result;

    if (real == NULL)
        real = (addr_fn) next_symbol("bind");
    if (!is_vsock(address, length))
        return real(fd, address, length);
    if (vm->svm_cid != VMADDR_CID_ANY && vm->svm_cid != cid) {
        errno = EADDRNOTAVAIL;
        return -1;
    }
    if (vm->svm_port == VMADDR_PORT_ANY) {
        /* Only connecting sockets need a free port here: they get one in connect(). */
        errno = EOPNOTSUPP;
        return -1;
    }
    if (endpoint(&unix_address, cid, vm->svm_port) != 0)
        return -1;
    saved = errno;
    strcpy(folder, unix_address.sun_path);
    slash = strrchr(folder, '/');
    *slash = '\0';
    /* No setgid bit in the mode: a sandboxed service (RestrictSUIDSGID=yes) may not set it, and the
       folder inherits it from vsock/ anyway. chmod: the umask must not keep other users out. */
    if (mkdir(folder, 0775) == 0)
        chmod(folder, 0775);
    if (access(unix_address.sun_path, F_OK) == 0) {
        if (endpoint_alive(&unix_address)) {
            errno = EADDRINUSE;
            return -1;
        }
        unlink(unix_address.sun_path);
    }
    errno = saved;
    result = real(fd, (const struct sockaddr *) &unix_address, sizeof(unix_address));
    if (result == 0)
        chmod(unix_address.sun_path, 0666);
    return result;
}

/* Bind a connecting socket to an abstract name carrying its vsock address (cid, ephemeral port). */
static void bind_peer_name(int fd)
{
    static addr_fn real;
    struct sockaddr_un unix_address;
    unsigned int port, attempt;
    socklen_t length;
    struct timespec now;

    if (real == NULL)
        real = (addr_fn) next_symbol("bind");
    clock_gettime(CLOCK_MONOTONIC, &now);
    for (attempt = 0; attempt < 16; attempt++) {
        port = 1024 + (unsigned int) ((now.tv_nsec / 1000 + (long) getpid() * 7919 + attempt * 104729) % 64000);
        memset(&unix_address, 0, sizeof(unix_address));
        unix_address.sun_family = AF_UNIX;
        length = (socklen_t) snprintf(unix_address.sun_path + 1, sizeof(unix_address.sun_path) - 1,
                                      PEER_PREFIX "%u/%u/%d", own_cid(), port, (int) getpid());
        length += offsetof(struct sockaddr_un, sun_path) + 1;
        if (real(fd, (const struct sockaddr *) &unix_address, length) == 0 || errno != EADDRINUSE)
            return;
    }
}

int connect(int fd, const struct sockaddr *address, socklen_t length)
{
    static addr_fn real;
    static name_fn real_getsockname;
    const struct sockaddr_vm *vm = (const struct sockaddr_vm *) address;
    struct sockaddr_un unix_address, own;
    socklen_t own_length = sizeof(own);
    int saved, result;

    if (real == NULL)
        real = (addr_fn) next_symbol("connect");
    if (real_getsockname == NULL)
        real_getsockname = (name_fn) next_symbol("getsockname");
    if (!is_vsock(address, length))
        return real(fd, address, length);
    if (endpoint(&unix_address, vm->svm_cid, vm->svm_port) != 0)
        return -1;
    saved = errno;
    if (real_getsockname(fd, (struct sockaddr *) &own, &own_length) == 0
        && own_length <= offsetof(struct sockaddr_un, sun_path))
        bind_peer_name(fd);
    errno = saved;
    result = real(fd, (const struct sockaddr *) &unix_address, sizeof(unix_address));
    if (result != 0 && (errno == ENOENT || errno == ECONNREFUSED))
        errno = ECONNRESET;
    return result;
}

static int translate_name(int fd, struct sockaddr *address, socklen_t *length, int peer)
{
    static name_fn real_getsockname, real_getpeername;
    struct sockaddr_un unix_address;
    socklen_t unix_length = sizeof(unix_address);
    unsigned int cid, port;
    name_fn real;

    if (real_getsockname == NULL)
        real_getsockname = (name_fn) next_symbol("getsockname");
    if (real_getpeername == NULL)
        real_getpeername = (name_fn) next_symbol("getpeername");
    real = peer ? real_getpeername : real_getsockname;
    if (address == NULL || length == NULL)
        return real(fd, address, length);
    if (real(fd, (struct sockaddr *) &unix_address, &unix_length) != 0)
        return -1;
    if (parse_unix(&unix_address, unix_length, &cid, &port) == 0)
        give_vsock(address, length, cid, port);
    else
        give_unix(address, length, &unix_address, unix_length);
    return 0;
}

int getsockname(int fd, struct sockaddr *address, socklen_t *length)
{
    return translate_name(fd, address, length, 0);
}

int getpeername(int fd, struct sockaddr *address, socklen_t *length)
{
    return translate_name(fd, address, length, 1);
}

static int accept_any(int fd, struct sockaddr *address, socklen_t *length, int flags)
{
    static accept4_fn real;
    static name_fn real_getsockname;
    struct sockaddr_un peer, own;
    socklen_t peer_length = sizeof(peer), own_length = sizeof(own);
    unsigned int cid, port, own_cid_value, own_port;
    int connection;

    if (real == NULL)
        real = (accept4_fn) next_symbol("accept4");
    if (real_getsockname == NULL)
        real_getsockname = (name_fn) next_symbol("getsockname");
    if (address == NULL || length == NULL)
        return real(fd, address, length, flags);
    connection = real(fd, (struct sockaddr *) &peer, &peer_length, flags);
    if (connection < 0)
        return connection;
    if (parse_unix(&peer, peer_length, &cid, &port) == 0)
        give_vsock(address, length, cid, port);
    else if (real_getsockname(fd, (struct sockaddr *) &own, &own_length) == 0
             && parse_unix(&own, own_length, &own_cid_value, &own_port) == 0)
        /* A client that did not go through this library: an unknown vsock peer. */
        give_vsock(address, length, VMADDR_CID_ANY, VMADDR_PORT_ANY);
    else
        give_unix(address, length, &peer, peer_length);
    return connection;
}

int accept(int fd, struct sockaddr *address, socklen_t *length)
{
    return accept_any(fd, address, length, 0);
}

int accept4(int fd, struct sockaddr *address, socklen_t *length, int flags)
{
    return accept_any(fd, address, length, flags);
}

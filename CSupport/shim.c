// The non-inline half of CSupport: wrappers for syscalls and macros, layout
// assertions, and the dlopen probes. No policy: no retries, no timeouts.
#ifndef _GNU_SOURCE
#error "CSupport must be compiled with _GNU_SOURCE (Package.swift defines it)"
#endif

#include "include/CSupport.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <link.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

// MARK: Layout checks: these structs are shared with other processes.

_Static_assert(sizeof(pvm_ring_desc) == 256, "ring description is two control slots");
_Static_assert(sizeof(pvm_ring_slot) == PVM_CONTROL_SLOT, "control slot size");
_Static_assert(offsetof(pvm_ring_header, head) == 256, "head offset");
_Static_assert(offsetof(pvm_ring_header, armed) == 384, "armed offset");
_Static_assert(offsetof(pvm_ring_header, done) == 512, "done offset");
_Static_assert(offsetof(pvm_ring_header, release_tail) == 640, "release tail offset");
_Static_assert(offsetof(pvm_ring_header, waiting) == 768, "waiting offset");
_Static_assert(offsetof(pvm_ring_header, release_queue) == 896, "release queue offset");
_Static_assert(offsetof(pvm_ring_header, express) == PVM_EXPRESS_OFFSET, "express line offset");
_Static_assert(offsetof(pvm_ring_header, express) % PVM_CONTROL_SLOT == 0, "express line on its own lines");
_Static_assert(sizeof(pvm_express_line) == PVM_CACHE_LINE, "express line is one line");
_Static_assert(offsetof(pvm_ring_header, split) == PVM_SPLIT_OFFSET, "split line offset");
_Static_assert(sizeof(pvm_split_line) == PVM_CACHE_LINE, "split line is one line");
_Static_assert(offsetof(pvm_split_line, state) == 32, "split state offset");
_Static_assert(offsetof(pvm_express_half, payload) == 16, "express payload offset");
_Static_assert(sizeof(pvm_ring_header) == PVM_RING_HEADER_SIZE, "ring header size");
_Static_assert(sizeof(pvm_ring_header) % PVM_CACHE_LINE == 0, "data area starts on a line");
_Static_assert(sizeof(pvm_record_header) == PVM_RECORD_HEADER, "record header size");
_Static_assert(offsetof(pvm_record_header, length) == 8, "record length offset");
_Static_assert(offsetof(pvm_record_header, kind) == 12, "record kind offset");
_Static_assert(sizeof(pvm_rec_remote) == 24, "remote descriptor size");
_Static_assert(sizeof(pvm_remote_piece) == 16 && offsetof(pvm_rec_remote, length) == 8, "a remote descriptor starts with a piece");
_Static_assert(sizeof(pvm_rec_remote_pieces) == 24, "remote pieces header size");
_Static_assert(sizeof(pvm_rec_chunk) == 16, "chunk header size");
_Static_assert(sizeof(pvm_rec_loan) == 24, "loan descriptor size");
_Static_assert(sizeof(pvm_heap_header) == PVM_CONTROL_SLOT, "heap header size");
_Static_assert(sizeof(pvm_epoll_event) == 16, "unpacked epoll event");

// MARK: memfd

int pvm_memfd_create(const char *name) {
    return memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
}

int pvm_memfd_seal_size(int fd) {
    return fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
}

int pvm_memfd_is_size_sealed(int fd) {
    int seals = fcntl(fd, F_GET_SEALS);
    if (seals < 0) return -1;
    return (seals & (F_SEAL_SHRINK | F_SEAL_GROW)) == (F_SEAL_SHRINK | F_SEAL_GROW);
}

int pvm_fallocate(int fd, off_t length) { return fallocate(fd, 0, 0, length); }

// MARK: eventfd

int pvm_eventfd_create(void) { return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK); }

int pvm_eventfd_signal(int fd) {
    uint64_t one = 1;
    return write(fd, &one, sizeof one) == (ssize_t)sizeof one ? 0 : -1;
}

int pvm_eventfd_drain(int fd) {
    uint64_t value;
    ssize_t n = read(fd, &value, sizeof value);
    if (n == (ssize_t)sizeof value) return 1;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
    return -1;
}

// MARK: epoll

const uint32_t PVM_EPOLLIN = EPOLLIN;
const uint32_t PVM_EPOLLOUT = EPOLLOUT;
const uint32_t PVM_EPOLLERR = EPOLLERR;
const uint32_t PVM_EPOLLHUP = EPOLLHUP;
const uint32_t PVM_EPOLLRDHUP = EPOLLRDHUP;

int pvm_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

static int epoll_op(int epfd, int op, int fd, uint32_t events, uint64_t data) {
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = events;
    ev.data.u64 = data;
    return epoll_ctl(epfd, op, fd, &ev);
}

int pvm_epoll_add(int epfd, int fd, uint32_t events, uint64_t data) {
    return epoll_op(epfd, EPOLL_CTL_ADD, fd, events, data);
}
int pvm_epoll_mod(int epfd, int fd, uint32_t events, uint64_t data) {
    return epoll_op(epfd, EPOLL_CTL_MOD, fd, events, data);
}
int pvm_epoll_del(int epfd, int fd) { return epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL); }

int pvm_epoll_wait(int epfd, pvm_epoll_event *out, int max, int timeout_ms) {
    struct epoll_event evs[64];
    if (max > 64) max = 64;
    int n = epoll_wait(epfd, evs, max, timeout_ms);
    for (int i = 0; i < n; i++) {
        out[i].events = evs[i].events;
        out[i].data = evs[i].data.u64;
    }
    return n;
}

// MARK: Unix sockets

#define PVM_MAX_FDS 8

ssize_t pvm_send_with_fds(int sock, const void *buf, size_t len, const int *fds, int nfds) {
    if (nfds < 0 || nfds > PVM_MAX_FDS) { errno = EINVAL; return -1; }
    struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
    union {
        char space[CMSG_SPACE(sizeof(int) * PVM_MAX_FDS)];
        struct cmsghdr align;
    } control;
    memset(&control, 0, sizeof control);
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (nfds > 0) {
        msg.msg_control = control.space;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
    }
    return sendmsg(sock, &msg, MSG_NOSIGNAL);
}

ssize_t pvm_recv_with_fds(int sock, void *buf, size_t len, int *fds, int maxfds, int *nfds, int *truncated) {
    struct iovec iov = {.iov_base = buf, .iov_len = len};
    union {
        char space[CMSG_SPACE(sizeof(int) * PVM_MAX_FDS)];
        struct cmsghdr align;
    } control;
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.space;
    msg.msg_controllen = sizeof control.space;
    *nfds = 0;
    *truncated = 0;
    ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    if (n < 0) return n;
    if (msg.msg_flags & (MSG_CTRUNC | MSG_TRUNC)) *truncated = 1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        int *received = (int *)CMSG_DATA(c);
        for (size_t i = 0; i < count; i++) {
            int fd;
            memcpy(&fd, received + i, sizeof fd);
            if (*nfds < maxfds) {
                fds[(*nfds)++] = fd;
            } else {
                close(fd);  // more than the caller can hold: never leak it
                *truncated = 1;
            }
        }
    }
    return n;
}

int pvm_peer_credentials(int sock, pid_t *pid, uid_t *uid, gid_t *gid) {
    struct ucred cred;
    socklen_t len = sizeof cred;
    if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return -1;
    *pid = cred.pid;
    *uid = cred.uid;
    *gid = cred.gid;
    return 0;
}

size_t pvm_unix_path_max(void) { return sizeof(((struct sockaddr_un *)0)->sun_path); }

// A path starting with '@' names a socket in the abstract namespace (Linux):
// it has no file, so nothing is left on disk when its owner dies.
static int fill_sockaddr(struct sockaddr_un *addr, const char *path, socklen_t *len) {
    memset(addr, 0, sizeof *addr);
    addr->sun_family = AF_UNIX;
    size_t n = strlen(path);
    if (n + 1 > sizeof addr->sun_path) { errno = ENAMETOOLONG; return -1; }
    if (path[0] == '@') {
        addr->sun_path[0] = '\0';
        memcpy(addr->sun_path + 1, path + 1, n - 1);
        *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    } else {
        memcpy(addr->sun_path, path, n + 1);
        *len = (socklen_t)sizeof *addr;
    }
    return 0;
}

int pvm_unix_listen(const char *path, int backlog) {
    struct sockaddr_un addr;
    socklen_t alen;
    if (fill_sockaddr(&addr, path, &alen) != 0) return -1;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return -1;
    if (bind(fd, (struct sockaddr *)&addr, alen) != 0 || listen(fd, backlog) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

int pvm_unix_connect(const char *path) {
    struct sockaddr_un addr;
    socklen_t alen;
    if (fill_sockaddr(&addr, path, &alen) != 0) return -1;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    int rc;
    do { rc = connect(fd, (struct sockaddr *)&addr, alen); } while (rc != 0 && errno == EINTR);
    if (rc != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

int pvm_set_nonblocking(int fd, int on) {
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0) return -1;
    flags = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
    return fcntl(fd, F_SETFL, flags);
}

int pvm_accept(int listener) { return accept4(listener, NULL, NULL, SOCK_CLOEXEC); }

int pvm_socketpair(int fds[2]) { return socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds); }

// MARK: Cross-memory attach, processes, clocks

int pvm_affinity_cpu_count(void) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0) return -1;
    return CPU_COUNT(&set);
}


ssize_t pvm_vm_read(pid_t pid, void *local, const void *remote, size_t len) {
    struct iovec l = {.iov_base = local, .iov_len = len};
    struct iovec r = {.iov_base = (void *)remote, .iov_len = len};
    return process_vm_readv(pid, &l, 1, &r, 1, 0);
}

ssize_t pvm_vm_write(pid_t pid, const void *local, void *remote, size_t len) {
    struct iovec l = {.iov_base = (void *)local, .iov_len = len};
    struct iovec r = {.iov_base = remote, .iov_len = len};
    return process_vm_writev(pid, &l, 1, &r, 1, 0);
}

// The iovecs for bytes [from, from + len) of a message made of `n` pieces;
// how many, 0 when the range is not inside the pieces.
static int piece_iovecs(struct iovec *iov, const pvm_remote_piece *pieces, unsigned n, uint64_t from, size_t len) {
    int k = 0;
    for (unsigned i = 0; i < n && len > 0; i++) {
        uint64_t size = pieces[i].length;
        if (from >= size) { from -= size; continue; }
        uint64_t take = size - from < len ? size - from : len;
        iov[k].iov_base = (void *)(uintptr_t)(pieces[i].address + from);
        iov[k].iov_len = (size_t)take;
        k++;
        len -= (size_t)take;
        from = 0;
    }
    return len == 0 ? k : 0;
}

typedef ssize_t (*vm_copy_fn)(pid_t, const struct iovec *, unsigned long, const struct iovec *, unsigned long, unsigned long);

// One process_vm_readv or process_vm_writev between a contiguous range here
// and bytes [from, from + len) of a message in pieces (theirs for a read,
// ours for a write): the pieces become the remote or the local iovecs.
static ssize_t vm_copy_pieces(vm_copy_fn copy, int pieces_are_local, pid_t pid, void *contiguous,
                              const pvm_remote_piece *pieces, unsigned n, uint64_t from, size_t len) {
    struct iovec iov[PVM_REMOTE_PIECES_MAX];
    if (n > PVM_REMOTE_PIECES_MAX) { errno = EINVAL; return -1; }
    int k = piece_iovecs(iov, pieces, n, from, len);
    if (k == 0) { errno = EINVAL; return -1; }
    struct iovec one = {.iov_base = contiguous, .iov_len = len};
    return pieces_are_local ? copy(pid, iov, (unsigned long)k, &one, 1, 0) : copy(pid, &one, 1, iov, (unsigned long)k, 0);
}

ssize_t pvm_vm_read_pieces(pid_t pid, void *local, const pvm_remote_piece *pieces, unsigned n, uint64_t from, size_t len) {
    return vm_copy_pieces(process_vm_readv, 0, pid, local, pieces, n, from, len);
}

ssize_t pvm_vm_write_pieces(pid_t pid, void *remote, const pvm_remote_piece *pieces, unsigned n, uint64_t from, size_t len) {
    return vm_copy_pieces(process_vm_writev, 1, pid, remote, pieces, n, from, len);
}

int pvm_allow_ptrace_any(void) {
#ifdef PR_SET_PTRACER
    return prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);
#else
    errno = ENOSYS;
    return -1;
#endif
}

int pvm_pidfd_open(pid_t pid) {
#ifdef SYS_pidfd_open
    return (int)syscall(SYS_pidfd_open, pid, 0);
#else
    errno = ENOSYS;
    return -1;
#endif
}

uint64_t pvm_thread_cpu_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t pvm_random_u64(void) {
    uint64_t v = 0;
    if (getrandom(&v, sizeof v, 0) != (ssize_t)sizeof v) return 0;
    return v;
}

uint64_t pvm_monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

// MARK: dlopen probes

static void probe(pvm_dl_probe *out, const char *library, const char *symbol) {
    memset(out, 0, sizeof *out);
    void *handle = dlopen(library, RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL) {
        const char *e = dlerror();
        snprintf(out->detail, sizeof out->detail, "%s", e ? e : library);
        return;
    }
    if (dlsym(handle, symbol) == NULL) {
        const char *e = dlerror();
        snprintf(out->detail, sizeof out->detail, "%s: %s", library, e ? e : symbol);
    } else {
        out->present = 1;
        snprintf(out->detail, sizeof out->detail, "%s", library);
    }
    dlclose(handle);
}

void pvm_probe_ibverbs(pvm_dl_probe *out) { probe(out, "libibverbs.so.1", "ibv_get_device_list"); }
void pvm_probe_numa(pvm_dl_probe *out) { probe(out, "libnuma.so.1", "numa_available"); }

// MARK: Processes and signals (the daemon)

pid_t pvm_spawn_process(const char *path, char *const argv[], char *const envp[],
                        const char *cwd, int out_fd, int new_session) {
    return pvm_spawn_process_io(path, argv, envp, cwd, -1, out_fd, new_session, 0);
}

pid_t pvm_spawn_process_io(const char *path, char *const argv[], char *const envp[],
                           const char *cwd, int in_fd, int out_fd, int new_session, int search_path) {
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    int rc = posix_spawn_file_actions_init(&fa);
    if (rc != 0) return -rc;
    rc = posix_spawnattr_init(&attr);
    if (rc != 0) { posix_spawn_file_actions_destroy(&fa); return -rc; }
    if (in_fd >= 0) posix_spawn_file_actions_adddup2(&fa, in_fd, 0);
    else posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (out_fd >= 0) {
        posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
        posix_spawn_file_actions_adddup2(&fa, out_fd, 2);
    } else {
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_adddup2(&fa, 1, 2);
    }
    if (cwd != NULL) posix_spawn_file_actions_addchdir_np(&fa, cwd);
    /* Nothing else the spawner holds leaks into the child: a daemon that
       inherited its starter's descriptors (a parent's pipe to watch for
       exit, say) would keep them open for its whole life. */
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    sigset_t empty, defaults;
    sigemptyset(&empty);
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    sigaddset(&defaults, SIGTERM);
    sigaddset(&defaults, SIGINT);
    sigaddset(&defaults, SIGHUP);
    sigaddset(&defaults, SIGCHLD);
    posix_spawnattr_setsigmask(&attr, &empty);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
    if (new_session) flags |= POSIX_SPAWN_SETSID;
    posix_spawnattr_setflags(&attr, flags);
    pid_t pid = -1;
    rc = search_path ? posix_spawnp(&pid, path, &fa, &attr, argv, envp)
                     : posix_spawn(&pid, path, &fa, &attr, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    return rc == 0 ? pid : -rc;
}

int pvm_termination_signalfd(void) {
    signal(SIGPIPE, SIG_IGN);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    if (sigprocmask(SIG_BLOCK, &set, NULL) != 0) return -1;
    return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

int pvm_signalfd_read(int fd) {
    struct signalfd_siginfo info;
    ssize_t n = read(fd, &info, sizeof info);
    if (n == (ssize_t)sizeof info) return (int)info.ssi_signo;
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return 0;
    return -1;
}

int pvm_reap(pid_t pid) {
    int status = 0;
    pid_t r;
    do { r = waitpid(pid, &status, WNOHANG); } while (r < 0 && errno == EINTR);
    if (r == 0) return -1;
    if (r < 0) return -2;
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return -1;
}

int pvm_lock_file(const char *path) {
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return -2;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int busy = errno == EWOULDBLOCK;
        close(fd);
        return busy ? -1 : -2;
    }
    return fd;
}

int pvm_pipe(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

const char *pvm_image_path(void) {
    Dl_info info;
    struct link_map *map = NULL;
    if (dladdr1((void *)&pvm_image_path, &info, (void **)&map, RTLD_DL_LINKMAP) == 0) return NULL;
    // Linked into the program itself: no separate image. (dli_fname is then
    // the name the program was started by, "pvmbench" when found on PATH,
    // which is no folder to look in.)
    if (map == NULL || map->l_name == NULL || map->l_name[0] != '/') return NULL;
    return map->l_name;
}

// MARK: TCP (IPv4)

static int fill_sockaddr_in(struct sockaddr_in *addr, const char *ipv4, int port) {
    memset(addr, 0, sizeof *addr);
    addr->sin_family = AF_INET;
    addr->sin_port = htons((uint16_t)port);
    if (ipv4 == NULL || ipv4[0] == 0) { addr->sin_addr.s_addr = htonl(INADDR_ANY); return 0; }
    if (inet_pton(AF_INET, ipv4, &addr->sin_addr) != 1) { errno = EINVAL; return -1; }
    return 0;
}

int pvm_tcp_nodelay(int fd) {
    int one = 1;
    return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

int pvm_tcp_listen(const char *ipv4, int port, int backlog) {
    struct sockaddr_in addr;
    if (port < 0 || port > 65535 || fill_sockaddr_in(&addr, ipv4, port) != 0) { errno = EINVAL; return -1; }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return -1;
    int one = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, backlog) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

int pvm_tcp_connect_start(const char *ipv4, int port, const char *bind_ipv4) {
    struct sockaddr_in addr;
    if (port <= 0 || port > 65535 || fill_sockaddr_in(&addr, ipv4, port) != 0) { errno = EINVAL; return -1; }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return -1;
    if (bind_ipv4 != NULL && bind_ipv4[0] != 0) {
        struct sockaddr_in local;
        if (fill_sockaddr_in(&local, bind_ipv4, 0) != 0 || bind(fd, (struct sockaddr *)&local, sizeof local) != 0) {
            int saved = errno;
            close(fd);
            errno = saved;
            return -1;
        }
    }
    (void)pvm_tcp_nodelay(fd);
    int rc;
    do { rc = connect(fd, (struct sockaddr *)&addr, sizeof addr); } while (rc != 0 && errno == EINTR);
    if (rc != 0 && errno != EINPROGRESS) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

int pvm_socket_error(int fd) {
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return -1;
    return err;
}

int pvm_tcp_accept(int listener, char *peer, size_t peer_len, int *peer_port) {
    struct sockaddr_in addr;
    socklen_t alen = sizeof addr;
    int fd = accept4(listener, (struct sockaddr *)&addr, &alen, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) return -1;
    (void)pvm_tcp_nodelay(fd);
    if (peer != NULL && peer_len > 0) {
        if (inet_ntop(AF_INET, &addr.sin_addr, peer, (socklen_t)peer_len) == NULL) peer[0] = 0;
    }
    if (peer_port != NULL) *peer_port = ntohs(addr.sin_port);
    return fd;
}

int pvm_tcp_local_address(int fd, char *ip, size_t ip_len, int *port) {
    struct sockaddr_in addr;
    socklen_t alen = sizeof addr;
    if (getsockname(fd, (struct sockaddr *)&addr, &alen) != 0) return -1;
    if (ip != NULL && inet_ntop(AF_INET, &addr.sin_addr, ip, (socklen_t)ip_len) == NULL) return -1;
    if (port != NULL) *port = ntohs(addr.sin_port);
    return 0;
}

int pvm_resolve_ipv4(const char *name, char *out, size_t out_len) {
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(name, NULL, &hints, &res);
    if (rc != 0) return rc;
    struct sockaddr_in *sin = (struct sockaddr_in *)res->ai_addr;
    const char *ok = inet_ntop(AF_INET, &sin->sin_addr, out, (socklen_t)out_len);
    freeaddrinfo(res);
    return ok == NULL ? EAI_FAIL : 0;
}

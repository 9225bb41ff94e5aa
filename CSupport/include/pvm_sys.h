// System calls and macros that Swift imports badly or not at all: memfd and
// seals, eventfd, epoll (its event struct is packed on x86-64), SCM_RIGHTS
// (CMSG_* are function-like macros), SO_PEERCRED, process_vm_readv, pidfd.
// Thin on purpose: each returns the kernel's result and leaves errno alone.
#ifndef PVM_SYS_H
#define PVM_SYS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "pvm_shm.h"

// MARK: memfd segments

/// memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING).
int pvm_memfd_create(const char *name);
/// Seals size changes and further seals: a peer cannot shrink the segment
/// under our mapping (which would turn our next access into SIGBUS).
int pvm_memfd_seal_size(int fd);
/// 1 if `fd` carries F_SEAL_SHRINK and F_SEAL_GROW, 0 if not, -1 on error.
int pvm_memfd_is_size_sealed(int fd);
/// fallocate(fd, 0, 0, length): reserves the pages now so that a full
/// filesystem or memory limit is an error here, not a SIGBUS later.
int pvm_fallocate(int fd, off_t length);

// MARK: eventfd doorbell

int pvm_eventfd_create(void);  // EFD_CLOEXEC | EFD_NONBLOCK
int pvm_eventfd_signal(int fd);  // write 1
int pvm_eventfd_drain(int fd);   // read; 1 if it was signalled, 0 if not, -1 on error

// MARK: epoll (unpacked event for Swift)

typedef struct pvm_epoll_event {
    uint32_t events;
    uint64_t data;
} pvm_epoll_event;

int pvm_epoll_create(void);
int pvm_epoll_add(int epfd, int fd, uint32_t events, uint64_t data);
int pvm_epoll_mod(int epfd, int fd, uint32_t events, uint64_t data);
int pvm_epoll_del(int epfd, int fd);
int pvm_epoll_wait(int epfd, pvm_epoll_event *out, int max, int timeout_ms);

extern const uint32_t PVM_EPOLLIN;
extern const uint32_t PVM_EPOLLOUT;
extern const uint32_t PVM_EPOLLERR;
extern const uint32_t PVM_EPOLLHUP;
extern const uint32_t PVM_EPOLLRDHUP;

// MARK: Unix sockets and descriptor passing

/// sendmsg() of `len` bytes with `nfds` descriptors attached (SCM_RIGHTS).
ssize_t pvm_send_with_fds(int sock, const void *buf, size_t len, const int *fds, int nfds);
/// recvmsg() into `buf`; received descriptors (close-on-exec) go to `fds`,
/// their number to `*nfds`. `*truncated` is set when the kernel dropped
/// descriptors or data (MSG_CTRUNC / MSG_TRUNC): the caller must treat the
/// message as malformed. Descriptors beyond `maxfds` are closed here.
ssize_t pvm_recv_with_fds(int sock, void *buf, size_t len, int *fds, int maxfds, int *nfds, int *truncated);
/// SO_PEERCRED of a connected Unix socket.
int pvm_peer_credentials(int sock, pid_t *pid, uid_t *uid, gid_t *gid);
/// Unix stream socket bound and listening at `path` (non-blocking, close-on-exec).
/// A path starting with '@' is in the abstract namespace (no file on disk).
int pvm_unix_listen(const char *path, int backlog);
/// Blocking connect to `path`; returns the socket (close-on-exec) or -1.
int pvm_unix_connect(const char *path);
/// Maximum length of a Unix socket path, including the NUL.
size_t pvm_unix_path_max(void);
int pvm_set_nonblocking(int fd, int on);
/// accept4(listener, NULL, NULL, SOCK_CLOEXEC).
int pvm_accept(int listener);
/// socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC) into fds[2].
int pvm_socketpair(int fds[2]);
/// CPUs in this process's affinity mask (sched_getaffinity + CPU_COUNT), or -1.
int pvm_affinity_cpu_count(void);

// MARK: Cross-memory attach and processes

/// process_vm_readv of one contiguous range; bytes read or -1.
ssize_t pvm_vm_read(pid_t pid, void *local, const void *remote, size_t len);
/// Bytes [from, from + len) of a message made of `n` pieces (at most
/// PVM_REMOTE_PIECES_MAX) in process `pid` read into `local`: one
/// process_vm_readv; bytes read or -1 (EINVAL: the range is not inside the pieces).
ssize_t pvm_vm_read_pieces(pid_t pid, void *local, const pvm_remote_piece *pieces, unsigned n, uint64_t from, size_t len);
/// Bytes [from, from + len) of a message made of `n` pieces in this process
/// written at `remote` in process `pid`: one process_vm_writev; bytes
/// written or -1.
ssize_t pvm_vm_write_pieces(pid_t pid, void *remote, const pvm_remote_piece *pieces, unsigned n, uint64_t from, size_t len);
/// prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY): lets peers of this user read
/// our memory under Yama ptrace_scope 1.
int pvm_allow_ptrace_any(void);
/// pidfd_open(pid, 0) or -1.
int pvm_pidfd_open(pid_t pid);
/// Current thread's CPU time in nanoseconds (CLOCK_THREAD_CPUTIME_ID).
uint64_t pvm_thread_cpu_ns(void);
/// 64 random bits from getrandom(2) (0 if it failed).
uint64_t pvm_random_u64(void);
/// CLOCK_MONOTONIC in nanoseconds.
uint64_t pvm_monotonic_ns(void);

// MARK: Processes and signals (the daemon)

/// posix_spawn of `path` with `argv` and `envp`: standard input from
/// /dev/null, standard output and error to `out_fd` (/dev/null if -1),
/// working directory `cwd` (NULL: inherited), signal mask emptied and
/// SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGCHLD back to their defaults, a new
/// session when `new_session`. Returns the pid, or -errno.
pid_t pvm_spawn_process(const char *path, char *const argv[], char *const envp[],
                        const char *cwd, int out_fd, int new_session);
/// pvm_spawn_process with standard input from `in_fd` (/dev/null if -1),
/// and `path` looked up along this process's PATH when
/// `search_path` (posix_spawnp).
pid_t pvm_spawn_process_io(const char *path, char *const argv[], char *const envp[],
                           const char *cwd, int in_fd, int out_fd, int new_session, int search_path);

/// A program started by pvm_launch_start whose exec is not yet known.
typedef struct pvm_launch pvm_launch;
/// Starts `path` as pvm_spawn_process does (standard input /dev/null,
/// output and error to `out_fd`, working directory `cwd` or inherited,
/// signal mask empty, SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGCHLD and every
/// handled signal at their defaults, no other descriptor kept) but returns
/// at once, before the exec (launch.c says how). Sets `*pid`, `*pidfd` (-1
/// where the kernel gives none) and `*status_fd` (non-blocking, close-on-
/// exec: readable when pvm_launch_poll has news). Returns 0, or -errno
/// when nothing was started. `argv`, `envp`, `path` and `cwd` are copied.
int pvm_launch_start(const char *path, char *const argv[], char *const envp[], const char *cwd, int out_fd,
                     pvm_launch **handle, pid_t *pid, int *pidfd, int *status_fd);
/// The exec's outcome: -1 while not known, 0 when the program runs, or the
/// errno of the failed exec (the child has exited with status 127). Once
/// it is known, the caller closes `status_fd` and calls pvm_launch_free.
int pvm_launch_poll(pvm_launch *handle, int status_fd);
/// Releases what pvm_launch_start kept for the child.
void pvm_launch_free(pvm_launch *handle);
/// Blocks SIGTERM, SIGINT and SIGHUP and returns a signalfd (non-blocking,
/// close-on-exec) that reports them; ignores SIGPIPE. -1 on error.
int pvm_termination_signalfd(void);
/// Reads one signal from a signalfd: its number, 0 if none, -1 on error.
int pvm_signalfd_read(int fd);
/// waitpid(pid, &status, WNOHANG): the exit status (signal as 128+n), -1 if
/// still running, -2 on error.
int pvm_reap(pid_t pid);
/// Takes an exclusive flock on `path` (created 0600). Returns the
/// descriptor, -1 if another process holds it, -2 on other errors.
int pvm_lock_file(const char *path);
/// pipe2(O_CLOEXEC) into fds[2].
int pvm_pipe(int fds[2]);

// MARK: TCP (IPv4)

/// TCP socket bound to `ipv4` (dotted quad; "0.0.0.0" for every address)
/// and `port` (0: any), listening, non-blocking, close-on-exec, with
/// SO_REUSEADDR. Returns the socket or -1 (errno set).
int pvm_tcp_listen(const char *ipv4, int port, int backlog);
/// Starts a non-blocking connect to `ipv4`:`port` (optionally from the
/// local address `bind_ipv4`, NULL for any). Returns the socket (close-on-exec,
/// TCP_NODELAY set) with the connect under way (wait for it to be writable,
/// then check pvm_socket_error), or -1.
int pvm_tcp_connect_start(const char *ipv4, int port, const char *bind_ipv4);
/// SO_ERROR of a socket (0: connected), or -1 if it cannot be read.
int pvm_socket_error(int fd);
/// accept4 of a TCP listener: the socket (non-blocking, close-on-exec,
/// TCP_NODELAY set) and the peer's address in `peer` (at least 16 bytes) and
/// port; -1 with errno otherwise.
int pvm_tcp_accept(int listener, char *peer, size_t peer_len, int *peer_port);
/// Local address and port of a bound socket into `ip` (at least 16 bytes) and `*port`.
int pvm_tcp_local_address(int fd, char *ip, size_t ip_len, int *port);
/// Resolves `name` to its first IPv4 address (dotted quad into `out`, at
/// least 16 bytes). 0 on success, else the getaddrinfo error code.
int pvm_resolve_ipv4(const char *name, char *out, size_t out_len);
/// Sets TCP_NODELAY (and SO_KEEPALIVE off) on a TCP socket.
int pvm_tcp_nodelay(int fd);

#endif

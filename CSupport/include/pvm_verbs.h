// libibverbs, loaded at run time. The programs never link libibverbs: a
// table of its entry points is filled with dlopen/dlsym when the verbs
// transport is first considered, so the same binary runs on machines
// without RDMA (and costs them nothing).
//
// Thin wrappers only, no policy: every decision (queue depths, timeouts,
// retry counts, when to signal, when to arm) is the caller's (Swift's).
// Every function that can fail returns 0 or a positive errno value, or a
// pointer with the errno value in *err; none of them reads the environment
// except pvm_verbs_default_library_path.
//
// Objects are handed out as pointers to the verbs structures themselves,
// declared here incompletely so that this header does not need
// <infiniband/verbs.h> (Swift sees them as OpaquePointer). The data path
// (post, poll, notify) goes through the context's provider table, as the
// static inline functions of verbs.h do, so it needs no table at all.
#ifndef PVM_VERBS_H
#define PVM_VERBS_H

#include <stddef.h>
#include <stdint.h>

struct ibv_context;
struct ibv_pd;
struct ibv_mr;
struct ibv_cq;
struct ibv_comp_channel;
struct ibv_srq;
struct ibv_qp;

/// The loaded library: the dlopen handle and the resolved entry points.
/// Opaque; made by pvm_verbs_load, released by pvm_verbs_unload.
typedef struct pvm_verbs_lib pvm_verbs_lib;

enum {
    PVM_VERBS_DETAIL_LEN = 256,
    PVM_VERBS_NAME_LEN = 64,
    PVM_VERBS_MAX_PORTS = 4,
    /// The longest chain of work requests one post call takes (one doorbell).
    PVM_VERBS_MAX_CHAIN = 64,
};

/// What pvm_verbs_load found.
typedef enum pvm_verbs_load_status {
    /// The library could not be opened or lacks an entry point (see detail).
    PVM_VERBS_ABSENT = 0,
    /// The library loaded but lists no device (detail says why).
    PVM_VERBS_NO_DEVICE = 1,
    /// The library loaded and lists at least one device.
    PVM_VERBS_DEVICES = 2,
} pvm_verbs_load_status;

typedef struct pvm_verbs_load_report {
    int32_t status;                   // a pvm_verbs_load_status
    int32_t device_count;
    /// ibv_fork_init's result: 0, or the errno value it returned.
    int32_t fork_init_error;
    /// 0 when this file was compiled without <infiniband/verbs.h>.
    int32_t built_with_headers;
    /// errno of ibv_get_device_list when it returned no list, else 0.
    int32_t list_error;
    char library[PVM_VERBS_DETAIL_LEN]; // the path that was opened (or tried)
    char detail[PVM_VERBS_DETAIL_LEN];  // dlerror's text, or why there is no device
} pvm_verbs_load_report;

/// The library path to use when the caller names none: the value of
/// PVM_IBVERBS_LIBRARY when it is set and not empty, else "libibverbs.so.1".
const char *pvm_verbs_default_library_path(void);

/// Opens `path` (NULL: pvm_verbs_default_library_path()), resolves every
/// entry point, calls ibv_fork_init before anything else (pvmd forks to
/// spawn tasks), then counts the devices. Always fills *report. Returns the
/// table when status is NO_DEVICE or DEVICES, NULL when ABSENT. The library
/// stays resident (RTLD_NODELETE) after pvm_verbs_unload, because providers
/// keep global state that must not be unmapped under live objects.
pvm_verbs_lib *pvm_verbs_load(const char *path, pvm_verbs_load_report *report);
void pvm_verbs_unload(pvm_verbs_lib *lib);

// MARK: Discovery

typedef struct pvm_verbs_port_info {
    uint8_t port_num;
    uint8_t state;          // enum ibv_port_state (4 = ACTIVE)
    uint8_t link_layer;     // 0 unspecified, 1 InfiniBand, 2 Ethernet
    uint8_t active_mtu;     // enum ibv_mtu: 1 = 256 ... 5 = 4096
    uint8_t max_mtu;
    uint8_t active_width;   // IB encoding: 1 = 1x, 2 = 4x, 4 = 8x, 8 = 12x, 16 = 2x
    uint8_t active_speed;   // IB encoding: 1 SDR, 2 DDR, 4 QDR, 8 FDR10, 16 FDR, 32 EDR, 64 HDR, 128 NDR
    uint8_t phys_state;
    uint16_t lid;
    uint16_t sm_lid;
    int32_t gid_table_len;
    uint32_t max_msg_size;
    /// The first GID table entry of type RoCE v2 (preferring an IPv4-mapped
    /// address), or -1 when none was found or the library cannot say.
    int32_t roce_v2_gid_index;
    /// errno of the port query, 0 when the fields above are valid.
    int32_t query_error;
    uint8_t gid0[16];
    uint8_t roce_v2_gid[16];
} pvm_verbs_port_info;

typedef struct pvm_verbs_device_info {
    char name[PVM_VERBS_NAME_LEN];
    uint64_t node_guid;      // host byte order
    uint32_t port_count;     // physical ports of the device
    uint32_t ports_listed;   // entries filled in ports[] (at most PVM_VERBS_MAX_PORTS)
    /// errno of opening or querying the device, 0 when the fields are valid.
    int32_t open_error;
    uint32_t max_qp_wr;
    uint32_t max_srq_wr;
    uint32_t max_cqe;
    uint32_t max_qp_rd_atom;
    uint32_t max_sge;
    uint64_t max_mr_size;
    pvm_verbs_port_info ports[PVM_VERBS_MAX_PORTS];
} pvm_verbs_device_info;

/// Fills up to `max` entries; returns the number filled, or -errno when the
/// device list cannot be had.
int pvm_verbs_query_devices(const pvm_verbs_lib *lib, pvm_verbs_device_info *out, int max);

// MARK: Objects

/// Opens the device called `name` (ibv_open_device).
struct ibv_context *pvm_verbs_open_device(const pvm_verbs_lib *lib, const char *name, int *err);
int pvm_verbs_close_device(const pvm_verbs_lib *lib, struct ibv_context *context);
/// Queries one port into *out (the query_error field carries the result too).
int pvm_verbs_query_port(const pvm_verbs_lib *lib, struct ibv_context *context, uint8_t port,
                         pvm_verbs_port_info *out);
/// Reads the GID table entry `index` of `port` (ibv_query_gid).
int pvm_verbs_query_gid(const pvm_verbs_lib *lib, struct ibv_context *context, uint8_t port,
                        int index, uint8_t gid[16]);

struct ibv_pd *pvm_verbs_alloc_pd(const pvm_verbs_lib *lib, struct ibv_context *context, int *err);
int pvm_verbs_dealloc_pd(const pvm_verbs_lib *lib, struct ibv_pd *pd);

/// Access flags of a registration, the values of enum ibv_access_flags.
enum {
    PVM_VERBS_ACCESS_LOCAL_WRITE = 1,
    PVM_VERBS_ACCESS_REMOTE_WRITE = 2,
    PVM_VERBS_ACCESS_REMOTE_READ = 4,
};
/// ibv_reg_mr (a macro in newer headers; resolved here by its exported name).
struct ibv_mr *pvm_verbs_reg_mr(const pvm_verbs_lib *lib, struct ibv_pd *pd, void *addr,
                                size_t length, int access, int *err);
int pvm_verbs_dereg_mr(const pvm_verbs_lib *lib, struct ibv_mr *mr);
uint32_t pvm_verbs_mr_lkey(const struct ibv_mr *mr);
uint32_t pvm_verbs_mr_rkey(const struct ibv_mr *mr);

struct ibv_comp_channel *pvm_verbs_create_comp_channel(const pvm_verbs_lib *lib,
                                                       struct ibv_context *context, int *err);
int pvm_verbs_destroy_comp_channel(const pvm_verbs_lib *lib, struct ibv_comp_channel *channel);
/// The channel's file descriptor, for epoll (readable when an event waits).
int pvm_verbs_comp_channel_fd(const struct ibv_comp_channel *channel);

/// A CQ of at least `entries` entries whose events go to `channel` (may be NULL).
struct ibv_cq *pvm_verbs_create_cq(const pvm_verbs_lib *lib, struct ibv_context *context,
                                   int entries, struct ibv_comp_channel *channel, int *err);
int pvm_verbs_destroy_cq(const pvm_verbs_lib *lib, struct ibv_cq *cq);

struct ibv_srq *pvm_verbs_create_srq(const pvm_verbs_lib *lib, struct ibv_pd *pd,
                                     uint32_t max_wr, uint32_t max_sge, int *err);
int pvm_verbs_destroy_srq(const pvm_verbs_lib *lib, struct ibv_srq *srq);

/// Capacities of a queue pair: asked for on creation, granted on return.
typedef struct pvm_verbs_qp_caps {
    uint32_t max_send_wr;
    uint32_t max_recv_wr;
    uint32_t max_send_sge;
    uint32_t max_recv_sge;
    uint32_t max_inline_data;
} pvm_verbs_qp_caps;

/// A reliable-connected QP; receives come from `srq` when it is not NULL.
/// `caps` is read, then overwritten with what the provider granted.
struct ibv_qp *pvm_verbs_create_rc_qp(const pvm_verbs_lib *lib, struct ibv_pd *pd,
                                      struct ibv_cq *send_cq, struct ibv_cq *recv_cq,
                                      struct ibv_srq *srq, pvm_verbs_qp_caps *caps, int *err);
int pvm_verbs_destroy_qp(const pvm_verbs_lib *lib, struct ibv_qp *qp);
uint32_t pvm_verbs_qp_num(const struct ibv_qp *qp);

/// RESET -> INIT: the port, P_Key index 0 and the remote access flags.
int pvm_verbs_qp_to_init(const pvm_verbs_lib *lib, struct ibv_qp *qp, uint8_t port, int access);

/// The far end as the INIT -> RTR transition needs it.
typedef struct pvm_verbs_remote {
    uint32_t dest_qpn;
    uint32_t rq_psn;           // the PSN the remote starts sending with
    uint16_t dlid;
    uint8_t path_mtu;          // enum ibv_mtu
    uint8_t use_grh;           // 1: global routing (required on RoCE)
    uint8_t dgid[16];
    uint8_t sgid_index;
    uint8_t hop_limit;
    uint8_t traffic_class;
    uint8_t service_level;
    uint8_t port;
    uint8_t max_dest_rd_atomic;
    uint8_t min_rnr_timer;
    uint8_t reserved;
} pvm_verbs_remote;

int pvm_verbs_qp_to_rtr(const pvm_verbs_lib *lib, struct ibv_qp *qp, const pvm_verbs_remote *remote);
/// RTR -> RTS with our send PSN and the retry policy the caller chose.
int pvm_verbs_qp_to_rts(const pvm_verbs_lib *lib, struct ibv_qp *qp, uint32_t sq_psn,
                        uint8_t timeout, uint8_t retry_count, uint8_t rnr_retry,
                        uint8_t max_rd_atomic);
/// Any state -> ERR (flushes outstanding work requests before destruction).
int pvm_verbs_qp_to_error(const pvm_verbs_lib *lib, struct ibv_qp *qp);

// MARK: Data path (no table, no allocation: the provider's ops)

enum {
    PVM_VERBS_OP_RDMA_WRITE = 0,
    PVM_VERBS_OP_RDMA_WRITE_IMM = 1,
    PVM_VERBS_OP_SEND = 2,
    PVM_VERBS_OP_SEND_IMM = 3,
    PVM_VERBS_OP_RDMA_READ = 4,
};
enum {
    PVM_VERBS_SEND_FENCE = 1,
    PVM_VERBS_SEND_SIGNALED = 2,
    PVM_VERBS_SEND_SOLICITED = 4,
    PVM_VERBS_SEND_INLINE = 8,
};

/// One send-queue work request with at most one scatter/gather element.
typedef struct pvm_verbs_send_work {
    uint64_t wr_id;
    uint64_t local_addr;
    uint64_t remote_addr;      // RDMA write/read only
    uint32_t length;           // 0: no scatter/gather element
    uint32_t lkey;
    uint32_t rkey;             // RDMA write/read only
    uint32_t imm;              // host byte order; *_IMM opcodes only
    uint8_t opcode;            // PVM_VERBS_OP_*
    uint8_t flags;             // PVM_VERBS_SEND_*
    uint8_t reserved[6];
} pvm_verbs_send_work;

/// One receive work request with at most one scatter/gather element.
typedef struct pvm_verbs_recv_work {
    uint64_t wr_id;
    uint64_t addr;
    uint32_t length;           // 0: no buffer (RDMA write with immediate)
    uint32_t lkey;
} pvm_verbs_recv_work;

/// Posts `count` (1...PVM_VERBS_MAX_CHAIN) requests as one chain, one
/// doorbell. On failure *bad_index is the first request not posted.
int pvm_verbs_post_send(struct ibv_qp *qp, const pvm_verbs_send_work *work, int count, int *bad_index);
int pvm_verbs_post_recv(struct ibv_qp *qp, const pvm_verbs_recv_work *work, int count, int *bad_index);
int pvm_verbs_post_srq_recv(struct ibv_srq *srq, const pvm_verbs_recv_work *work, int count, int *bad_index);

/// Completion opcodes (enum ibv_wc_opcode).
enum {
    PVM_VERBS_WC_SEND = 0,
    PVM_VERBS_WC_RDMA_WRITE = 1,
    PVM_VERBS_WC_RDMA_READ = 2,
    PVM_VERBS_WC_RECV = 128,
    PVM_VERBS_WC_RECV_RDMA_WITH_IMM = 129,
};

typedef struct pvm_verbs_completion {
    uint64_t wr_id;
    uint32_t status;           // enum ibv_wc_status, 0 = success
    uint32_t opcode;           // PVM_VERBS_WC_* (valid only on success)
    uint32_t byte_len;
    uint32_t imm;              // host byte order, valid when has_imm
    uint32_t qp_num;
    uint32_t src_qp;
    uint32_t vendor_err;
    uint8_t has_imm;
    uint8_t reserved[3];
} pvm_verbs_completion;

/// Polls at most `max` completions into `out`; returns how many, or -errno.
int pvm_verbs_poll_cq(struct ibv_cq *cq, pvm_verbs_completion *out, int max);
/// Arms the CQ: the next completion (solicited only when asked) posts an event.
int pvm_verbs_req_notify_cq(struct ibv_cq *cq, int solicited_only);
/// Reads one event from the channel (blocks unless the fd is non-blocking).
/// Returns 0 with *cq set, or errno (EAGAIN when nothing is waiting).
int pvm_verbs_get_cq_event(const pvm_verbs_lib *lib, struct ibv_comp_channel *channel,
                           struct ibv_cq **cq);
/// Acknowledges `count` events of `cq` (every event read must be, before destroy).
void pvm_verbs_ack_cq_events(const pvm_verbs_lib *lib, struct ibv_cq *cq, unsigned int count);

/// A completion status's text (ibv_wc_status_str when present).
const char *pvm_verbs_wc_status_str(const pvm_verbs_lib *lib, uint32_t status);

#endif

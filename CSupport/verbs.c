// libibverbs loaded at run time: the entry-point table, thin wrappers over
// the control path, and the data path through the provider's ops table.
// See include/pvm_verbs.h for the contract. No policy lives here.
#ifndef _GNU_SOURCE
#error "CSupport must be compiled with _GNU_SOURCE (Package.swift defines it)"
#endif

#include "pvm_verbs.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *pvm_verbs_default_library_path(void) {
    // secure_getenv: a set-uid program must not be talked into loading a
    // library of the caller's choosing.
    const char *path = secure_getenv("PVM_IBVERBS_LIBRARY");
    return (path != NULL && path[0] != '\0') ? path : "libibverbs.so.1";
}

#if defined(__has_include)
#if __has_include(<infiniband/verbs.h>)
#define PVM_HAVE_VERBS_H 1
#endif
#endif

#ifdef PVM_HAVE_VERBS_H
#include <endian.h>
#include <infiniband/verbs.h>

// Our constants are the verbs values, so the data path passes them through.
_Static_assert((int)PVM_VERBS_OP_RDMA_WRITE == (int)IBV_WR_RDMA_WRITE, "opcode");
_Static_assert((int)PVM_VERBS_OP_RDMA_WRITE_IMM == (int)IBV_WR_RDMA_WRITE_WITH_IMM, "opcode");
_Static_assert((int)PVM_VERBS_OP_SEND == (int)IBV_WR_SEND, "opcode");
_Static_assert((int)PVM_VERBS_OP_SEND_IMM == (int)IBV_WR_SEND_WITH_IMM, "opcode");
_Static_assert((int)PVM_VERBS_OP_RDMA_READ == (int)IBV_WR_RDMA_READ, "opcode");
_Static_assert((int)PVM_VERBS_SEND_FENCE == (int)IBV_SEND_FENCE, "send flag");
_Static_assert((int)PVM_VERBS_SEND_SIGNALED == (int)IBV_SEND_SIGNALED, "send flag");
_Static_assert((int)PVM_VERBS_SEND_SOLICITED == (int)IBV_SEND_SOLICITED, "send flag");
_Static_assert((int)PVM_VERBS_SEND_INLINE == (int)IBV_SEND_INLINE, "send flag");
_Static_assert((int)PVM_VERBS_WC_SEND == (int)IBV_WC_SEND, "wc opcode");
_Static_assert((int)PVM_VERBS_WC_RDMA_WRITE == (int)IBV_WC_RDMA_WRITE, "wc opcode");
_Static_assert((int)PVM_VERBS_WC_RDMA_READ == (int)IBV_WC_RDMA_READ, "wc opcode");
_Static_assert((int)PVM_VERBS_WC_RECV == (int)IBV_WC_RECV, "wc opcode");
_Static_assert((int)PVM_VERBS_WC_RECV_RDMA_WITH_IMM == (int)IBV_WC_RECV_RDMA_WITH_IMM, "wc opcode");
_Static_assert((int)PVM_VERBS_ACCESS_LOCAL_WRITE == (int)IBV_ACCESS_LOCAL_WRITE, "access");
_Static_assert((int)PVM_VERBS_ACCESS_REMOTE_WRITE == (int)IBV_ACCESS_REMOTE_WRITE, "access");
_Static_assert((int)PVM_VERBS_ACCESS_REMOTE_READ == (int)IBV_ACCESS_REMOTE_READ, "access");
_Static_assert(sizeof(union ibv_gid) == 16, "gid");

// The entry points. Names that are macros in newer headers (ibv_reg_mr,
// ibv_query_port) are looked up by their exported symbol, and the fields
// are named without the ibv_ prefix so that no macro expands here.
struct pvm_verbs_lib {
    void *handle;
    int (*fork_init)(void);
    struct ibv_device **(*get_device_list)(int *);
    void (*free_device_list)(struct ibv_device **);
    const char *(*get_device_name)(struct ibv_device *);
    __be64 (*get_device_guid)(struct ibv_device *);
    struct ibv_context *(*open_device)(struct ibv_device *);
    int (*close_device)(struct ibv_context *);
    int (*query_device)(struct ibv_context *, struct ibv_device_attr *);
    // The exported ibv_query_port takes the old, shorter attribute struct;
    // it is the fallback for providers without the extended query.
    int (*query_port)(struct ibv_context *, uint8_t, struct _compat_ibv_port_attr *);
    int (*query_gid)(struct ibv_context *, uint8_t, int, union ibv_gid *);
    struct ibv_pd *(*alloc_pd)(struct ibv_context *);
    int (*dealloc_pd)(struct ibv_pd *);
    struct ibv_mr *(*reg_mr)(struct ibv_pd *, void *, size_t, int);
    int (*dereg_mr)(struct ibv_mr *);
    struct ibv_comp_channel *(*create_comp_channel)(struct ibv_context *);
    int (*destroy_comp_channel)(struct ibv_comp_channel *);
    struct ibv_cq *(*create_cq)(struct ibv_context *, int, void *, struct ibv_comp_channel *, int);
    int (*destroy_cq)(struct ibv_cq *);
    struct ibv_srq *(*create_srq)(struct ibv_pd *, struct ibv_srq_init_attr *);
    int (*destroy_srq)(struct ibv_srq *);
    struct ibv_qp *(*create_qp)(struct ibv_pd *, struct ibv_qp_init_attr *);
    int (*destroy_qp)(struct ibv_qp *);
    int (*modify_qp)(struct ibv_qp *, struct ibv_qp_attr *, int);
    int (*get_cq_event)(struct ibv_comp_channel *, struct ibv_cq **, void **);
    void (*ack_cq_events)(struct ibv_cq *, unsigned int);
    // Optional: absent from old libraries; the wrappers cope without them.
    const char *(*wc_status_str)(enum ibv_wc_status);
    int (*query_gid_ex)(struct ibv_context *, uint32_t, uint32_t, struct ibv_gid_entry *,
                        uint32_t, size_t);
};

// The 1.1 ABI is the current one of every function that has two versions
// (1.0 is the compatibility layer for pre-2007 binaries); a function with
// one version is found by its default name.
static void *resolve(void *handle, const char *name) {
    void *f = dlvsym(handle, name, "IBVERBS_1.1");
    return f != NULL ? f : dlsym(handle, name);
}

#define PVM_RESOLVE(field, symbol)                                                     \
    do {                                                                               \
        *(void **)(&lib->field) = resolve(lib->handle, symbol);                        \
        if (lib->field == NULL) { missing = symbol; goto fail; }                       \
    } while (0)

pvm_verbs_lib *pvm_verbs_load(const char *path, pvm_verbs_load_report *report) {
    memset(report, 0, sizeof *report);
    report->built_with_headers = 1;
    if (path == NULL) path = pvm_verbs_default_library_path();
    snprintf(report->library, sizeof report->library, "%s", path);

    pvm_verbs_lib *lib = calloc(1, sizeof *lib);
    if (lib == NULL) {
        snprintf(report->detail, sizeof report->detail, "%s: out of memory", path);
        return NULL;
    }
    const char *missing = NULL;
    (void)dlerror();
    lib->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (lib->handle == NULL) {
        const char *e = dlerror();
        snprintf(report->detail, sizeof report->detail, "%s", e != NULL ? e : path);
        free(lib);
        return NULL;
    }
    PVM_RESOLVE(fork_init, "ibv_fork_init");
    PVM_RESOLVE(get_device_list, "ibv_get_device_list");
    PVM_RESOLVE(free_device_list, "ibv_free_device_list");
    PVM_RESOLVE(get_device_name, "ibv_get_device_name");
    PVM_RESOLVE(get_device_guid, "ibv_get_device_guid");
    PVM_RESOLVE(open_device, "ibv_open_device");
    PVM_RESOLVE(close_device, "ibv_close_device");
    PVM_RESOLVE(query_device, "ibv_query_device");
    PVM_RESOLVE(query_port, "ibv_query_port");
    PVM_RESOLVE(query_gid, "ibv_query_gid");
    PVM_RESOLVE(alloc_pd, "ibv_alloc_pd");
    PVM_RESOLVE(dealloc_pd, "ibv_dealloc_pd");
    PVM_RESOLVE(reg_mr, "ibv_reg_mr");
    PVM_RESOLVE(dereg_mr, "ibv_dereg_mr");
    PVM_RESOLVE(create_comp_channel, "ibv_create_comp_channel");
    PVM_RESOLVE(destroy_comp_channel, "ibv_destroy_comp_channel");
    PVM_RESOLVE(create_cq, "ibv_create_cq");
    PVM_RESOLVE(destroy_cq, "ibv_destroy_cq");
    PVM_RESOLVE(create_srq, "ibv_create_srq");
    PVM_RESOLVE(destroy_srq, "ibv_destroy_srq");
    PVM_RESOLVE(create_qp, "ibv_create_qp");
    PVM_RESOLVE(destroy_qp, "ibv_destroy_qp");
    PVM_RESOLVE(modify_qp, "ibv_modify_qp");
    PVM_RESOLVE(get_cq_event, "ibv_get_cq_event");
    PVM_RESOLVE(ack_cq_events, "ibv_ack_cq_events");
    *(void **)(&lib->wc_status_str) = resolve(lib->handle, "ibv_wc_status_str");
    *(void **)(&lib->query_gid_ex) = dlsym(lib->handle, "_ibv_query_gid_ex");

    // Before any other verbs call: registrations made after this are kept
    // out of forked children (MADV_DONTFORK) so the parent's pages stay put.
    // Kernels with copy-on-fork support make it unnecessary; a failure is
    // reported, not fatal.
    report->fork_init_error = lib->fork_init();

    int count = 0;
    errno = 0;
    struct ibv_device **list = lib->get_device_list(&count);
    if (list == NULL) {
        int e = errno != 0 ? errno : ENODEV;
        report->list_error = e;
        report->status = PVM_VERBS_NO_DEVICE;
        snprintf(report->detail, sizeof report->detail, "ibv_get_device_list: %s", strerror(e));
    } else {
        lib->free_device_list(list);
        report->device_count = count;
        if (count == 0) {
            report->status = PVM_VERBS_NO_DEVICE;
            snprintf(report->detail, sizeof report->detail,
                     "ibv_get_device_list listed no device");
        } else {
            report->status = PVM_VERBS_DEVICES;
            snprintf(report->detail, sizeof report->detail, "%d device%s", count,
                     count == 1 ? "" : "s");
        }
    }
    return lib;

fail:;
    const char *e = dlerror();
    snprintf(report->detail, sizeof report->detail, "%s: %s", path,
             e != NULL ? e : missing);
    dlclose(lib->handle);
    free(lib);
    return NULL;
}

void pvm_verbs_unload(pvm_verbs_lib *lib) {
    if (lib == NULL) return;
    // RTLD_NODELETE keeps the code mapped; this drops our reference only.
    dlclose(lib->handle);
    free(lib);
}

// MARK: Discovery

static int query_port_attr(const pvm_verbs_lib *lib, struct ibv_context *context, uint8_t port,
                           struct ibv_port_attr *attr) {
    // The extended query fills the whole current struct; without it the
    // exported function fills the older prefix and the rest stays zero
    // (the behaviour of verbs.h's own inline ibv_query_port).
    struct verbs_context *vctx = verbs_get_ctx_op(context, query_port);
    memset(attr, 0, sizeof *attr);
    int rc = vctx != NULL ? vctx->query_port(context, port, attr, sizeof *attr)
                          : lib->query_port(context, port, (struct _compat_ibv_port_attr *)attr);
    if (rc < 0) rc = -rc;
    return rc;
}

static int is_ipv4_mapped(const uint8_t gid[16]) {
    for (int i = 0; i < 10; i++) if (gid[i] != 0) return 0;
    return gid[10] == 0xff && gid[11] == 0xff;
}

static void find_roce_v2(const pvm_verbs_lib *lib, struct ibv_context *context,
                         pvm_verbs_port_info *out) {
    out->roce_v2_gid_index = -1;
    if (lib->query_gid_ex == NULL || out->link_layer != IBV_LINK_LAYER_ETHERNET) return;
    int limit = out->gid_table_len < 256 ? out->gid_table_len : 256;
    for (int i = 0; i < limit; i++) {
        struct ibv_gid_entry entry;
        memset(&entry, 0, sizeof entry);
        if (lib->query_gid_ex(context, out->port_num, (uint32_t)i, &entry, 0, sizeof entry) != 0)
            continue; // an empty entry (ENODATA) or an index the port lacks
        if (entry.gid_type != IBV_GID_TYPE_ROCE_V2) continue;
        int better = out->roce_v2_gid_index < 0 ||
                     (!is_ipv4_mapped(out->roce_v2_gid) && is_ipv4_mapped(entry.gid.raw));
        if (better) {
            out->roce_v2_gid_index = i;
            memcpy(out->roce_v2_gid, entry.gid.raw, 16);
        }
    }
}

int pvm_verbs_query_port(const pvm_verbs_lib *lib, struct ibv_context *context, uint8_t port,
                         pvm_verbs_port_info *out) {
    memset(out, 0, sizeof *out);
    out->port_num = port;
    out->roce_v2_gid_index = -1;
    struct ibv_port_attr attr;
    int rc = query_port_attr(lib, context, port, &attr);
    if (rc != 0) { out->query_error = rc; return rc; }
    out->state = (uint8_t)attr.state;
    out->link_layer = attr.link_layer;
    out->active_mtu = (uint8_t)attr.active_mtu;
    out->max_mtu = (uint8_t)attr.max_mtu;
    out->active_width = attr.active_width;
    out->active_speed = attr.active_speed;
    out->phys_state = attr.phys_state;
    out->lid = attr.lid;
    out->sm_lid = attr.sm_lid;
    out->gid_table_len = attr.gid_tbl_len;
    out->max_msg_size = attr.max_msg_sz;
    union ibv_gid gid;
    if (attr.gid_tbl_len > 0 && lib->query_gid(context, port, 0, &gid) == 0)
        memcpy(out->gid0, gid.raw, 16);
    find_roce_v2(lib, context, out);
    return 0;
}

int pvm_verbs_query_gid(const pvm_verbs_lib *lib, struct ibv_context *context, uint8_t port,
                        int index, uint8_t gid[16]) {
    union ibv_gid g;
    if (lib->query_gid(context, port, index, &g) != 0) return errno != 0 ? errno : EINVAL;
    memcpy(gid, g.raw, 16);
    return 0;
}

int pvm_verbs_query_devices(const pvm_verbs_lib *lib, pvm_verbs_device_info *out, int max) {
    int count = 0;
    errno = 0;
    struct ibv_device **list = lib->get_device_list(&count);
    if (list == NULL) return -(errno != 0 ? errno : ENODEV);
    int filled = 0;
    for (int d = 0; d < count && filled < max; d++) {
        pvm_verbs_device_info *info = &out[filled++];
        memset(info, 0, sizeof *info);
        const char *name = lib->get_device_name(list[d]);
        snprintf(info->name, sizeof info->name, "%s", name != NULL ? name : "?");
        info->node_guid = be64toh(lib->get_device_guid(list[d]));
        errno = 0;
        struct ibv_context *context = lib->open_device(list[d]);
        if (context == NULL) { info->open_error = errno != 0 ? errno : ENODEV; continue; }
        struct ibv_device_attr attr;
        memset(&attr, 0, sizeof attr);
        int rc = lib->query_device(context, &attr);
        if (rc != 0) {
            info->open_error = rc < 0 ? -rc : rc;
            lib->close_device(context);
            continue;
        }
        info->port_count = attr.phys_port_cnt;
        info->max_qp_wr = (uint32_t)attr.max_qp_wr;
        info->max_srq_wr = (uint32_t)attr.max_srq_wr;
        info->max_cqe = (uint32_t)attr.max_cqe;
        info->max_qp_rd_atom = (uint32_t)attr.max_qp_rd_atom;
        info->max_sge = (uint32_t)attr.max_sge;
        info->max_mr_size = attr.max_mr_size;
        for (uint32_t p = 1; p <= attr.phys_port_cnt && info->ports_listed < PVM_VERBS_MAX_PORTS; p++) {
            pvm_verbs_query_port(lib, context, (uint8_t)p, &info->ports[info->ports_listed++]);
        }
        lib->close_device(context);
    }
    lib->free_device_list(list);
    return filled;
}

// MARK: Objects

struct ibv_context *pvm_verbs_open_device(const pvm_verbs_lib *lib, const char *name, int *err) {
    int count = 0;
    errno = 0;
    struct ibv_device **list = lib->get_device_list(&count);
    if (list == NULL) { *err = errno != 0 ? errno : ENODEV; return NULL; }
    struct ibv_context *context = NULL;
    *err = ENODEV;
    for (int d = 0; d < count; d++) {
        const char *n = lib->get_device_name(list[d]);
        if (n == NULL || strcmp(n, name) != 0) continue;
        errno = 0;
        context = lib->open_device(list[d]);
        *err = context != NULL ? 0 : (errno != 0 ? errno : ENODEV);
        break;
    }
    lib->free_device_list(list);
    return context;
}

int pvm_verbs_close_device(const pvm_verbs_lib *lib, struct ibv_context *context) {
    return lib->close_device(context) != 0 ? (errno != 0 ? errno : EIO) : 0;
}

// Functions that return a pointer set errno on failure; the ones that
// return int return the errno value itself (some older providers -1).
#define PVM_PTR_RESULT(expr)                                        \
    do {                                                            \
        errno = 0;                                                  \
        void *p_ = (void *)(expr);                                  \
        *err = p_ != NULL ? 0 : (errno != 0 ? errno : ENOMEM);      \
        return p_;                                                  \
    } while (0)

static int int_result(int rc) {
    if (rc == 0) return 0;
    if (rc > 0) return rc;
    return errno != 0 ? errno : EIO;
}

struct ibv_pd *pvm_verbs_alloc_pd(const pvm_verbs_lib *lib, struct ibv_context *context, int *err) {
    PVM_PTR_RESULT(lib->alloc_pd(context));
}

int pvm_verbs_dealloc_pd(const pvm_verbs_lib *lib, struct ibv_pd *pd) {
    errno = 0;
    return int_result(lib->dealloc_pd(pd));
}

struct ibv_mr *pvm_verbs_reg_mr(const pvm_verbs_lib *lib, struct ibv_pd *pd, void *addr,
                                size_t length, int access, int *err) {
    PVM_PTR_RESULT(lib->reg_mr(pd, addr, length, access));
}

int pvm_verbs_dereg_mr(const pvm_verbs_lib *lib, struct ibv_mr *mr) {
    errno = 0;
    return int_result(lib->dereg_mr(mr));
}

uint32_t pvm_verbs_mr_lkey(const struct ibv_mr *mr) { return mr->lkey; }
uint32_t pvm_verbs_mr_rkey(const struct ibv_mr *mr) { return mr->rkey; }

struct ibv_comp_channel *pvm_verbs_create_comp_channel(const pvm_verbs_lib *lib,
                                                       struct ibv_context *context, int *err) {
    PVM_PTR_RESULT(lib->create_comp_channel(context));
}

int pvm_verbs_destroy_comp_channel(const pvm_verbs_lib *lib, struct ibv_comp_channel *channel) {
    errno = 0;
    return int_result(lib->destroy_comp_channel(channel));
}

int pvm_verbs_comp_channel_fd(const struct ibv_comp_channel *channel) { return channel->fd; }

struct ibv_cq *pvm_verbs_create_cq(const pvm_verbs_lib *lib, struct ibv_context *context,
                                   int entries, struct ibv_comp_channel *channel, int *err) {
    PVM_PTR_RESULT(lib->create_cq(context, entries, NULL, channel, 0));
}

int pvm_verbs_destroy_cq(const pvm_verbs_lib *lib, struct ibv_cq *cq) {
    errno = 0;
    return int_result(lib->destroy_cq(cq));
}

struct ibv_srq *pvm_verbs_create_srq(const pvm_verbs_lib *lib, struct ibv_pd *pd,
                                     uint32_t max_wr, uint32_t max_sge, int *err) {
    struct ibv_srq_init_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.attr.max_wr = max_wr;
    attr.attr.max_sge = max_sge;
    PVM_PTR_RESULT(lib->create_srq(pd, &attr));
}

int pvm_verbs_destroy_srq(const pvm_verbs_lib *lib, struct ibv_srq *srq) {
    errno = 0;
    return int_result(lib->destroy_srq(srq));
}

struct ibv_qp *pvm_verbs_create_rc_qp(const pvm_verbs_lib *lib, struct ibv_pd *pd,
                                      struct ibv_cq *send_cq, struct ibv_cq *recv_cq,
                                      struct ibv_srq *srq, pvm_verbs_qp_caps *caps, int *err) {
    struct ibv_qp_init_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.send_cq = send_cq;
    attr.recv_cq = recv_cq;
    attr.srq = srq;
    attr.qp_type = IBV_QPT_RC;
    attr.sq_sig_all = 0;
    attr.cap.max_send_wr = caps->max_send_wr;
    attr.cap.max_recv_wr = srq != NULL ? 0 : caps->max_recv_wr;
    attr.cap.max_send_sge = caps->max_send_sge;
    attr.cap.max_recv_sge = srq != NULL ? 0 : caps->max_recv_sge;
    attr.cap.max_inline_data = caps->max_inline_data;
    errno = 0;
    struct ibv_qp *qp = lib->create_qp(pd, &attr);
    if (qp == NULL) { *err = errno != 0 ? errno : ENOMEM; return NULL; }
    // The provider writes back what it granted (at least what was asked).
    caps->max_send_wr = attr.cap.max_send_wr;
    caps->max_recv_wr = attr.cap.max_recv_wr;
    caps->max_send_sge = attr.cap.max_send_sge;
    caps->max_recv_sge = attr.cap.max_recv_sge;
    caps->max_inline_data = attr.cap.max_inline_data;
    *err = 0;
    return qp;
}

int pvm_verbs_destroy_qp(const pvm_verbs_lib *lib, struct ibv_qp *qp) {
    errno = 0;
    return int_result(lib->destroy_qp(qp));
}

uint32_t pvm_verbs_qp_num(const struct ibv_qp *qp) { return qp->qp_num; }

int pvm_verbs_qp_to_init(const pvm_verbs_lib *lib, struct ibv_qp *qp, uint8_t port, int access) {
    struct ibv_qp_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.qp_state = IBV_QPS_INIT;
    attr.pkey_index = 0;
    attr.port_num = port;
    attr.qp_access_flags = (unsigned int)access;
    errno = 0;
    return int_result(lib->modify_qp(qp, &attr,
                                     IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT | IBV_QP_ACCESS_FLAGS));
}

int pvm_verbs_qp_to_rtr(const pvm_verbs_lib *lib, struct ibv_qp *qp, const pvm_verbs_remote *remote) {
    struct ibv_qp_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.qp_state = IBV_QPS_RTR;
    attr.path_mtu = (enum ibv_mtu)remote->path_mtu;
    attr.dest_qp_num = remote->dest_qpn;
    attr.rq_psn = remote->rq_psn;
    attr.max_dest_rd_atomic = remote->max_dest_rd_atomic;
    attr.min_rnr_timer = remote->min_rnr_timer;
    attr.ah_attr.dlid = remote->dlid;
    attr.ah_attr.sl = remote->service_level;
    attr.ah_attr.src_path_bits = 0;
    attr.ah_attr.port_num = remote->port;
    if (remote->use_grh) {
        attr.ah_attr.is_global = 1;
        memcpy(attr.ah_attr.grh.dgid.raw, remote->dgid, 16);
        attr.ah_attr.grh.sgid_index = remote->sgid_index;
        attr.ah_attr.grh.hop_limit = remote->hop_limit;
        attr.ah_attr.grh.traffic_class = remote->traffic_class;
    }
    errno = 0;
    return int_result(lib->modify_qp(qp, &attr,
                                     IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU | IBV_QP_DEST_QPN |
                                         IBV_QP_RQ_PSN | IBV_QP_MAX_DEST_RD_ATOMIC |
                                         IBV_QP_MIN_RNR_TIMER));
}

int pvm_verbs_qp_to_rts(const pvm_verbs_lib *lib, struct ibv_qp *qp, uint32_t sq_psn,
                        uint8_t timeout, uint8_t retry_count, uint8_t rnr_retry,
                        uint8_t max_rd_atomic) {
    struct ibv_qp_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.qp_state = IBV_QPS_RTS;
    attr.sq_psn = sq_psn;
    attr.timeout = timeout;
    attr.retry_cnt = retry_count;
    attr.rnr_retry = rnr_retry;
    attr.max_rd_atomic = max_rd_atomic;
    errno = 0;
    return int_result(lib->modify_qp(qp, &attr,
                                     IBV_QP_STATE | IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT |
                                         IBV_QP_RNR_RETRY | IBV_QP_SQ_PSN | IBV_QP_MAX_QP_RD_ATOMIC));
}

int pvm_verbs_qp_to_error(const pvm_verbs_lib *lib, struct ibv_qp *qp) {
    struct ibv_qp_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.qp_state = IBV_QPS_ERR;
    errno = 0;
    return int_result(lib->modify_qp(qp, &attr, IBV_QP_STATE));
}

// MARK: Data path

int pvm_verbs_post_send(struct ibv_qp *qp, const pvm_verbs_send_work *work, int count, int *bad_index) {
    *bad_index = 0;
    if (count < 1 || count > PVM_VERBS_MAX_CHAIN) return EINVAL;
    struct ibv_send_wr wrs[PVM_VERBS_MAX_CHAIN];
    struct ibv_sge sges[PVM_VERBS_MAX_CHAIN];
    for (int i = 0; i < count; i++) {
        const pvm_verbs_send_work *w = &work[i];
        if (w->opcode > PVM_VERBS_OP_RDMA_READ) { *bad_index = i; return EINVAL; }
        sges[i] = (struct ibv_sge){.addr = w->local_addr, .length = w->length, .lkey = w->lkey};
        wrs[i] = (struct ibv_send_wr){
            .wr_id = w->wr_id,
            .next = i + 1 < count ? &wrs[i + 1] : NULL,
            .sg_list = w->length != 0 ? &sges[i] : NULL,
            .num_sge = w->length != 0 ? 1 : 0,
            .opcode = (enum ibv_wr_opcode)w->opcode,
            .send_flags = w->flags,
        };
        if (w->opcode == PVM_VERBS_OP_RDMA_WRITE_IMM || w->opcode == PVM_VERBS_OP_SEND_IMM)
            wrs[i].imm_data = htobe32(w->imm);
        wrs[i].wr.rdma.remote_addr = w->remote_addr;
        wrs[i].wr.rdma.rkey = w->rkey;
    }
    struct ibv_send_wr *bad = NULL;
    int rc = ibv_post_send(qp, wrs, &bad);
    if (rc != 0) {
        *bad_index = bad != NULL ? (int)(bad - wrs) : 0;
        return rc < 0 ? -rc : rc;
    }
    return 0;
}

static void fill_recv(struct ibv_recv_wr *wrs, struct ibv_sge *sges,
                      const pvm_verbs_recv_work *work, int count) {
    for (int i = 0; i < count; i++) {
        const pvm_verbs_recv_work *w = &work[i];
        sges[i] = (struct ibv_sge){.addr = w->addr, .length = w->length, .lkey = w->lkey};
        wrs[i] = (struct ibv_recv_wr){
            .wr_id = w->wr_id,
            .next = i + 1 < count ? &wrs[i + 1] : NULL,
            .sg_list = w->length != 0 ? &sges[i] : NULL,
            .num_sge = w->length != 0 ? 1 : 0,
        };
    }
}

int pvm_verbs_post_recv(struct ibv_qp *qp, const pvm_verbs_recv_work *work, int count, int *bad_index) {
    *bad_index = 0;
    if (count < 1 || count > PVM_VERBS_MAX_CHAIN) return EINVAL;
    struct ibv_recv_wr wrs[PVM_VERBS_MAX_CHAIN];
    struct ibv_sge sges[PVM_VERBS_MAX_CHAIN];
    fill_recv(wrs, sges, work, count);
    struct ibv_recv_wr *bad = NULL;
    int rc = ibv_post_recv(qp, wrs, &bad);
    if (rc != 0) {
        *bad_index = bad != NULL ? (int)(bad - wrs) : 0;
        return rc < 0 ? -rc : rc;
    }
    return 0;
}

int pvm_verbs_post_srq_recv(struct ibv_srq *srq, const pvm_verbs_recv_work *work, int count, int *bad_index) {
    *bad_index = 0;
    if (count < 1 || count > PVM_VERBS_MAX_CHAIN) return EINVAL;
    struct ibv_recv_wr wrs[PVM_VERBS_MAX_CHAIN];
    struct ibv_sge sges[PVM_VERBS_MAX_CHAIN];
    fill_recv(wrs, sges, work, count);
    struct ibv_recv_wr *bad = NULL;
    int rc = ibv_post_srq_recv(srq, wrs, &bad);
    if (rc != 0) {
        *bad_index = bad != NULL ? (int)(bad - wrs) : 0;
        return rc < 0 ? -rc : rc;
    }
    return 0;
}

enum { POLL_BATCH = 32 };

int pvm_verbs_poll_cq(struct ibv_cq *cq, pvm_verbs_completion *out, int max) {
    if (max <= 0) return 0;
    struct ibv_wc wc[POLL_BATCH];
    int want = max < POLL_BATCH ? max : POLL_BATCH;
    int n = ibv_poll_cq(cq, want, wc);
    if (n < 0) return n == -1 ? -EIO : n;
    for (int i = 0; i < n; i++) {
        const struct ibv_wc *w = &wc[i];
        int has_imm = (w->wc_flags & IBV_WC_WITH_IMM) != 0;
        out[i] = (pvm_verbs_completion){
            .wr_id = w->wr_id,
            .status = (uint32_t)w->status,
            .opcode = (uint32_t)w->opcode,
            .byte_len = w->byte_len,
            .imm = has_imm ? be32toh(w->imm_data) : 0,
            .qp_num = w->qp_num,
            .src_qp = w->src_qp,
            .vendor_err = w->vendor_err,
            .has_imm = (uint8_t)has_imm,
        };
    }
    return n;
}

int pvm_verbs_req_notify_cq(struct ibv_cq *cq, int solicited_only) {
    int rc = ibv_req_notify_cq(cq, solicited_only);
    return rc < 0 ? -rc : rc;
}

int pvm_verbs_get_cq_event(const pvm_verbs_lib *lib, struct ibv_comp_channel *channel,
                           struct ibv_cq **cq) {
    void *cq_context = NULL;
    errno = 0;
    if (lib->get_cq_event(channel, cq, &cq_context) != 0) return errno != 0 ? errno : EIO;
    return 0;
}

void pvm_verbs_ack_cq_events(const pvm_verbs_lib *lib, struct ibv_cq *cq, unsigned int count) {
    lib->ack_cq_events(cq, count);
}

const char *pvm_verbs_wc_status_str(const pvm_verbs_lib *lib, uint32_t status) {
    if (lib != NULL && lib->wc_status_str != NULL)
        return lib->wc_status_str((enum ibv_wc_status)status);
    return status == 0 ? "success" : "work completion error";
}

#else // no <infiniband/verbs.h>: everything compiles, nothing loads.

struct pvm_verbs_lib { int unused; };

pvm_verbs_lib *pvm_verbs_load(const char *path, pvm_verbs_load_report *report) {
    memset(report, 0, sizeof *report);
    if (path == NULL) path = pvm_verbs_default_library_path();
    snprintf(report->library, sizeof report->library, "%s", path);
    snprintf(report->detail, sizeof report->detail, "built without libibverbs headers");
    return NULL;
}
void pvm_verbs_unload(pvm_verbs_lib *lib) { (void)lib; }
int pvm_verbs_query_devices(const pvm_verbs_lib *lib, pvm_verbs_device_info *out, int max) {
    (void)lib; (void)out; (void)max; return -ENOSYS;
}
struct ibv_context *pvm_verbs_open_device(const pvm_verbs_lib *lib, const char *name, int *err) {
    (void)lib; (void)name; *err = ENOSYS; return NULL;
}
int pvm_verbs_close_device(const pvm_verbs_lib *lib, struct ibv_context *c) { (void)lib; (void)c; return ENOSYS; }
int pvm_verbs_query_port(const pvm_verbs_lib *lib, struct ibv_context *c, uint8_t port, pvm_verbs_port_info *out) {
    (void)lib; (void)c; memset(out, 0, sizeof *out); out->port_num = port; out->query_error = ENOSYS; return ENOSYS;
}
int pvm_verbs_query_gid(const pvm_verbs_lib *lib, struct ibv_context *c, uint8_t port, int index, uint8_t gid[16]) {
    (void)lib; (void)c; (void)port; (void)index; (void)gid; return ENOSYS;
}
struct ibv_pd *pvm_verbs_alloc_pd(const pvm_verbs_lib *lib, struct ibv_context *c, int *err) {
    (void)lib; (void)c; *err = ENOSYS; return NULL;
}
int pvm_verbs_dealloc_pd(const pvm_verbs_lib *lib, struct ibv_pd *pd) { (void)lib; (void)pd; return ENOSYS; }
struct ibv_mr *pvm_verbs_reg_mr(const pvm_verbs_lib *lib, struct ibv_pd *pd, void *addr, size_t length, int access, int *err) {
    (void)lib; (void)pd; (void)addr; (void)length; (void)access; *err = ENOSYS; return NULL;
}
int pvm_verbs_dereg_mr(const pvm_verbs_lib *lib, struct ibv_mr *mr) { (void)lib; (void)mr; return ENOSYS; }
uint32_t pvm_verbs_mr_lkey(const struct ibv_mr *mr) { (void)mr; return 0; }
uint32_t pvm_verbs_mr_rkey(const struct ibv_mr *mr) { (void)mr; return 0; }
struct ibv_comp_channel *pvm_verbs_create_comp_channel(const pvm_verbs_lib *lib, struct ibv_context *c, int *err) {
    (void)lib; (void)c; *err = ENOSYS; return NULL;
}
int pvm_verbs_destroy_comp_channel(const pvm_verbs_lib *lib, struct ibv_comp_channel *ch) { (void)lib; (void)ch; return ENOSYS; }
int pvm_verbs_comp_channel_fd(const struct ibv_comp_channel *ch) { (void)ch; return -1; }
struct ibv_cq *pvm_verbs_create_cq(const pvm_verbs_lib *lib, struct ibv_context *c, int entries, struct ibv_comp_channel *ch, int *err) {
    (void)lib; (void)c; (void)entries; (void)ch; *err = ENOSYS; return NULL;
}
int pvm_verbs_destroy_cq(const pvm_verbs_lib *lib, struct ibv_cq *cq) { (void)lib; (void)cq; return ENOSYS; }
struct ibv_srq *pvm_verbs_create_srq(const pvm_verbs_lib *lib, struct ibv_pd *pd, uint32_t max_wr, uint32_t max_sge, int *err) {
    (void)lib; (void)pd; (void)max_wr; (void)max_sge; *err = ENOSYS; return NULL;
}
int pvm_verbs_destroy_srq(const pvm_verbs_lib *lib, struct ibv_srq *srq) { (void)lib; (void)srq; return ENOSYS; }
struct ibv_qp *pvm_verbs_create_rc_qp(const pvm_verbs_lib *lib, struct ibv_pd *pd, struct ibv_cq *s, struct ibv_cq *r,
                                      struct ibv_srq *srq, pvm_verbs_qp_caps *caps, int *err) {
    (void)lib; (void)pd; (void)s; (void)r; (void)srq; (void)caps; *err = ENOSYS; return NULL;
}
int pvm_verbs_destroy_qp(const pvm_verbs_lib *lib, struct ibv_qp *qp) { (void)lib; (void)qp; return ENOSYS; }
uint32_t pvm_verbs_qp_num(const struct ibv_qp *qp) { (void)qp; return 0; }
int pvm_verbs_qp_to_init(const pvm_verbs_lib *lib, struct ibv_qp *qp, uint8_t port, int access) {
    (void)lib; (void)qp; (void)port; (void)access; return ENOSYS;
}
int pvm_verbs_qp_to_rtr(const pvm_verbs_lib *lib, struct ibv_qp *qp, const pvm_verbs_remote *remote) {
    (void)lib; (void)qp; (void)remote; return ENOSYS;
}
int pvm_verbs_qp_to_rts(const pvm_verbs_lib *lib, struct ibv_qp *qp, uint32_t psn, uint8_t t, uint8_t r, uint8_t rnr, uint8_t rd) {
    (void)lib; (void)qp; (void)psn; (void)t; (void)r; (void)rnr; (void)rd; return ENOSYS;
}
int pvm_verbs_qp_to_error(const pvm_verbs_lib *lib, struct ibv_qp *qp) { (void)lib; (void)qp; return ENOSYS; }
int pvm_verbs_post_send(struct ibv_qp *qp, const pvm_verbs_send_work *w, int n, int *bad) {
    (void)qp; (void)w; (void)n; *bad = 0; return ENOSYS;
}
int pvm_verbs_post_recv(struct ibv_qp *qp, const pvm_verbs_recv_work *w, int n, int *bad) {
    (void)qp; (void)w; (void)n; *bad = 0; return ENOSYS;
}
int pvm_verbs_post_srq_recv(struct ibv_srq *srq, const pvm_verbs_recv_work *w, int n, int *bad) {
    (void)srq; (void)w; (void)n; *bad = 0; return ENOSYS;
}
int pvm_verbs_poll_cq(struct ibv_cq *cq, pvm_verbs_completion *out, int max) { (void)cq; (void)out; (void)max; return -ENOSYS; }
int pvm_verbs_req_notify_cq(struct ibv_cq *cq, int s) { (void)cq; (void)s; return ENOSYS; }
int pvm_verbs_get_cq_event(const pvm_verbs_lib *lib, struct ibv_comp_channel *ch, struct ibv_cq **cq) {
    (void)lib; (void)ch; *cq = NULL; return ENOSYS;
}
void pvm_verbs_ack_cq_events(const pvm_verbs_lib *lib, struct ibv_cq *cq, unsigned int n) { (void)lib; (void)cq; (void)n; }
const char *pvm_verbs_wc_status_str(const pvm_verbs_lib *lib, uint32_t status) {
    (void)lib; return status == 0 ? "success" : "work completion error";
}

#endif

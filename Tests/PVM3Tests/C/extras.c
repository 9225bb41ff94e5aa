/*
 * The rest of libpvm3's exports: hosts (pvm_addhosts, pvm_delhosts,
 * pvm_start_pvmd), tracing masks (pvm_gettmask, pvm_settmask), the
 * registration calls (pvm_reg_tracer, pvm_reg_rm, pvm_reg_hoster,
 * pvm_reg_tasker), and the exported helpers the original header does not
 * declare (pvm_alloc, pvm_realloc, pvm_free, pvm_fd_add, pvm_fd_delete,
 * the control-message handlers pvm_tc_*), declared here, and the helpers
 * pvmgettmp, pvmgetrsh, pvmtmpnam.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pvm3.h"

extern int pvm_errno;

/* exported by libpvm3, not declared by pvm3.h */
int pvm_gettmask(int who, char *tmask);
int pvm_settmask(int who, char *tmask);
char *pvm_alloc(unsigned len, char *tag);
char *pvm_realloc(char *p, unsigned len);
void pvm_free(char *p);
int pvm_fd_add(int fd, int sets);
int pvm_fd_delete(int fd, int sets);
int pvm_tc_noop(int mid);
int pvm_tc_settmask(int mid);
int pvm_tc_settrace(int mid);
int pvm_tc_settrcbuf(int mid);
int pvm_tc_settrcopt(int mid);
int pvm_tc_siblings(int mid);
/* declared by the original pvm3.h only in some configurations */
char *pvmtmpnam(char *buf);
char *pvmgetrsh(void);
char *pvmgettmp(void);

#define SHOW(e) printf("%s = %d\n", #e, (int)(e))
#define YESNO(e) printf("%s: %s\n", #e, (e) ? "yes" : "no")

int main(void)
{
    int me, infos[3], i, b;
    char *hosts[] = { "no.such.host.invalid", "other.invalid", 0 };
    char mask[64], mask2[64];
    char *p, name1[PVMTMPNAMLEN + 256], name2[PVMTMPNAMLEN + 256], prefix[512];
    setvbuf(stdout, 0, _IOLBF, 0);   /* lines survive a kill on timeout */

    printf("== helpers\n");
    setenv("PVM_RSH", "/usr/bin/ssh", 1);
    printf("pvmgetrsh() = %s\n", pvmgetrsh());
    YESNO(getenv("PVM_TMP") && strcmp(pvmgettmp(), getenv("PVM_TMP")) == 0);
    snprintf(prefix, sizeof prefix, "%s/pvmtmp", pvmgettmp());
    YESNO(pvmtmpnam(name1) == name1);
    YESNO(pvmtmpnam(name2) == name2);
    YESNO(strncmp(name1, prefix, strlen(prefix)) == 0);
    YESNO(strcmp(name1, name2) != 0);
    p = pvmtmpnam(0);
    YESNO(p != 0 && strncmp(p, prefix, strlen(prefix)) == 0);

    me = pvm_mytid();
    pvm_setopt(PvmAutoErr, 0);

    printf("== hosts\n");
    infos[0] = infos[1] = 12345;
    SHOW(pvm_addhosts(hosts, 2, infos));
    printf("infos = %d %d\n", infos[0], infos[1]);
    SHOW(pvm_addhosts(hosts, 0, infos));
    SHOW(pvm_addhosts(hosts, -1, infos));
    infos[0] = infos[1] = 12345;
    SHOW(pvm_delhosts(hosts, 2, infos));
    printf("infos = %d %d\n", infos[0], infos[1]);
    SHOW(pvm_delhosts(hosts, 0, infos));
    SHOW(pvm_delhosts(hosts, -1, infos));
    SHOW(pvm_start_pvmd(0, 0, 0));          /* one runs already */

    printf("== trace masks\n");
    memset(mask, 'x', sizeof mask);
    SHOW(pvm_gettmask(PvmTaskSelf, mask));
    printf("self mask = [%s] (%d chars)\n", mask, (int)strlen(mask));
    memset(mask, 'x', sizeof mask);
    SHOW(pvm_gettmask(PvmTaskChild, mask));
    printf("child mask = [%s]\n", mask);
    SHOW(pvm_gettmask(5, mask));
    memset(mask2, '@', 35);
    mask2[35] = 0;
    mask2[2] = 'A';
    SHOW(pvm_settmask(PvmTaskChild, mask2));
    memset(mask, 0, sizeof mask);
    SHOW(pvm_gettmask(PvmTaskChild, mask));
    printf("child mask = [%s]\n", mask);
    SHOW(pvm_settmask(5, mask2));

    printf("== registration\n");
    {
        struct pvmhostinfo *hip = 0;
        memset(mask2, '@', 35);
        mask2[35] = 0;
        SHOW(pvm_reg_tracer(-1, 0, -1, 0, mask2, 0, 0));
        SHOW(pvm_reg_tasker());
        SHOW(pvm_reg_tasker());
        SHOW(pvm_reg_hoster());
        SHOW(pvm_reg_rm(&hip));
    }

    printf("== exported helpers\n");
    p = pvm_alloc(16, "test");
    YESNO(p != 0);
    if (p) {
        for (i = 0; i < 16; i++) p[i] = (char)i;
        p = pvm_realloc(p, 4096);
        YESNO(p != 0 && p[15] == 15);
        pvm_free(p);
    }
    SHOW(pvm_fd_add(0, 1));
    SHOW(pvm_fd_delete(0, 1));
    b = pvm_mkbuf(PvmDataDefault);
    SHOW(pvm_tc_noop(b));
    SHOW(pvm_bufinfo(b, 0, 0, 0));          /* the handler freed its message */
    /* the others read their message's body: give each an empty message */
    SHOW(pvm_tc_settmask(pvm_mkbuf(PvmDataDefault)));
    SHOW(pvm_tc_settrace(pvm_mkbuf(PvmDataDefault)));
    SHOW(pvm_tc_settrcbuf(pvm_mkbuf(PvmDataDefault)));
    SHOW(pvm_tc_settrcopt(pvm_mkbuf(PvmDataDefault)));
    SHOW(pvm_tc_siblings(pvm_mkbuf(PvmDataDefault)));
    SHOW(pvm_exit());
    (void)me;
    return 0;
}

// The floor of any shared-memory transport with one ring per direction: two
// processes ping-pong 32-byte records through two rings (A->B and B->A),
// each record published by storing its position last, as our rings do.
// Compare with cacheline-pingpong.c, which bounces one shared line.
//
// Argument 1 (default): stamp only. Argument 0: payload, length and kind, then
// the stamp, then a full fence, as our ring commits a record.
//
//   cc -O2 -o two-ring-pingpong two-ring-pingpong.c && ./two-ring-pingpong [0|1]
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
static uint64_t now_ns(void){struct timespec ts;clock_gettime(CLOCK_MONOTONIC,&ts);return ts.tv_sec*1000000000ull+ts.tv_nsec;}
#define CAP (256*1024)
typedef struct { char *data; uint64_t pos; } ring;
static inline void put(ring *r, int mode) {
  char *rec = r->data + (r->pos & (CAP-1));
  if (mode == 0) { // like ours: payload, len, kind, stamp
    *(volatile uint64_t*)(rec+16) = 42; *(volatile uint32_t*)(rec+8) = 8; *(volatile uint16_t*)(rec+12) = 2; *(volatile uint16_t*)(rec+14) = 0;
    atomic_store_explicit((_Atomic uint64_t*)rec, r->pos+1, memory_order_release);
    atomic_thread_fence(memory_order_seq_cst);
  } else { atomic_store_explicit((_Atomic uint64_t*)rec, r->pos+1, memory_order_release); }
  r->pos += 32;
}
static inline void get(ring *r) {
  char *rec = r->data + (r->pos & (CAP-1));
  while (atomic_load_explicit((_Atomic uint64_t*)rec, memory_order_acquire) != r->pos+1) __builtin_ia32_pause();
  r->pos += 32;
}
int main(int argc,char**argv){
  int mode = argc>1?atoi(argv[1]):1; long n=200000;
  char *m = mmap(NULL, 2*CAP, PROT_READ|PROT_WRITE, MAP_SHARED|MAP_ANONYMOUS, -1, 0);
  memset(m,0,2*CAP);
  ring ab={m,0}, ba={m+CAP,0}, ab2={m,0}, ba2={m+CAP,0};
  if(fork()==0){ for(long i=0;i<2*n+1000;i++){ get(&ab2); put(&ba2,mode);} _exit(0);}
  for(long i=0;i<1000;i++){put(&ab,mode);get(&ba);}
  uint64_t t0=now_ns(); for(long i=0;i<2*n;i++){put(&ab,mode);get(&ba);}
  printf("two-ring ping-pong one-way: %.1f ns in a batch (mode %d)\n", (double)(now_ns()-t0)/(4.0*n), mode);
  wait(NULL); return 0; }

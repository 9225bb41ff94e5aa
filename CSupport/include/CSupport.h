// Umbrella header of the CSupport module. Not API: names starting with pvm_
// here are the project's internal C layer.
#ifndef CSUPPORT_H
#define CSUPPORT_H
#include "pvm_atomic.h"
#include "pvm_futex.h"
#include "pvm_sys.h"
#include "pvm_shm.h"
#include "pvm_dl.h"
#include "pvm_verbs.h"
#include "pvm_numa.h"
#endif

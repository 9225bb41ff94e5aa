import PVMBench

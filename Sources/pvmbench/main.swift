import PVMBench

PVMBenchCommand.main()

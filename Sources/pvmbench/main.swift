import PVMBench

PVMBenchCommand.runFromCommandLine()

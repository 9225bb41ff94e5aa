import PVMDaemon

DaemonCommand.runMain()

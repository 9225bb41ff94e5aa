import PVMConsole

ConsoleCommand.runMain()

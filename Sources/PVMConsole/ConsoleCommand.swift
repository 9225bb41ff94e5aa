#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import PVM

/// `pvm [-d debugmask] [-n hostname] [hostfile]`: the console's own
/// command line. It starts the local daemon when none runs (saying nothing)
/// or says `pvmd already running.`, then reads commands.
public struct ConsoleCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "pvm",
        abstract: "The PVM console: manage the virtual machine and its tasks.",
        discussion: """
        Starts the local pvmd when none runs, reads ~/.pvmrc, then reads commands from standard \
        input ('help' lists them). 'quit' or the end of input leaves the pvmd running; 'halt' \
        stops it and every task.
        """)

    @Option(name: .customShort("d", allowingJoined: true),
            help: ArgumentHelp("The console's libpvm debug mask (hex with 0x, octal with 0).", valueName: "debugmask"))
    var debugMask: String?

    @Option(name: .customShort("n", allowingJoined: true),
            help: ArgumentHelp("The name of this host in the virtual machine, for a pvmd the console starts.", valueName: "hostname"))
    var hostName: String?

    @Argument(help: "A hostfile (accepted and ignored: virtual machines of more than one host are not supported yet).")
    var hostfile: String?

    public init() {}

    /// Entry point of the `pvm` executable.
    public static func runMain() { main() }

    public func run() throws {
        // As PVM's console: an interrupt at the prompt does not end it.
        signal(SIGINT, SIG_IGN)
        signal(SIGPIPE, SIG_IGN)
        if let hostfile {
            warn("pvm: hostfile \(hostfile) ignored: virtual machines of more than one host are not supported yet")
        }
        var startedHere = false
        if let hostName {
            do { startedHere = try Self.startDaemon(hostName: hostName) } catch {
                warn("Console: \(error)")
                throw ExitCode(1)
            }
        }
        let vm: VirtualMachine
        do { vm = try VirtualMachine.sharedConsole() } catch {
            warn("Console: \(error)")
            throw ExitCode(1)
        }
        if !vm.startedDaemon && !startedHere { say("pvmd already running.\n") }
        if let debugMask { _ = try? vm.setOption(PVMOption.debugMask.rawValue, ConsoleWords.cInteger(debugMask)) }
        let console = Console(vm: vm, echoCommands: isatty(0) == 0)
        throw ExitCode(console.run())
    }

    /// Starts `pvmd --background -n hostName` unless a daemon already
    /// listens. Returns whether it started one.
    static func startDaemon(hostName: String) throws(PVMError) -> Bool {
        let env = Environment.current
        if let running = try DaemonLauncher.connect(socketPath: DaemonLauncher.socketPath(environment: env)) {
            running.close()
            return false
        }
        do { try DaemonLauncher.startDaemon(environment: env, arguments: ["-n", hostName]) } catch { throw PVMError(.cantStart, error.detail) }
        return true
    }

    private func say(_ text: String) { _ = text.withCString { write(1, $0, strlen($0)) } }
    private func warn(_ text: String) { _ = (text + "\n").withCString { write(2, $0, strlen($0)) } }
}

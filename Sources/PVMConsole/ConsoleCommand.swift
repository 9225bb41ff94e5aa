#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import PVM
import PVMControl

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

    @Argument(help: "A hostfile: when this console starts the daemon, the hosts in it are added (PVM's options; see pvmd --help). Ignored when a daemon already runs.")
    var hostfile: String?

    public init() {}

    /// Entry point of the `pvm` executable.
    public static func runMain() { main() }

    public func run() throws {
        // As PVM's console: an interrupt at the prompt does not end it.
        signal(SIGINT, SIG_IGN)
        signal(SIGPIPE, SIG_IGN)
        var daemonArguments: [String] = hostName.map { ["-n", $0] } ?? []
        var hostsToAdd: [HostEntry] = []
        if let hostfile {
            let env = Environment.current
            let file: Hostfile
            do { file = try Hostfile.parse(try DaemonLauncher.readTextFile(hostfile), expand: { env[$0] }) } catch {
                warn("pvm: \(hostfile): \(error)")
                throw ExitCode(1)
            }
            let me = hostName ?? Environment.shortHostName()
            for entry in file.entries {
                if entry.name == me {
                    // The master's own line: its options go to the daemon started here.
                    if let v = entry.options.speed { daemonArguments += ["--speed", String(v)] }
                    if let v = entry.options.executablePath { daemonArguments += ["--ep", v] }
                    if let v = entry.options.workingDirectory { daemonArguments += ["--wd", v] }
                    if let v = entry.options.bind { daemonArguments += ["--bind", String(describing: v)] }
                } else if entry.startNow {
                    hostsToAdd.append(entry)
                }
            }
            // The daemon records the hostfile's hosts and `*` defaults for
            // later adds (`&` lines are only recorded); this console adds
            // the others below.
            var cwd = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let path = hostfile.hasPrefix("/") || getcwd(&cwd, cwd.count) == nil
                ? hostfile : String(decoding: cwd.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) + "/" + hostfile
            daemonArguments += ["--record-only", path]
        }
        var startedHere = false
        if !daemonArguments.isEmpty || hostfile != nil {
            do { startedHere = try Self.startDaemon(arguments: daemonArguments) } catch {
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
        if startedHere && !hostsToAdd.isEmpty {
            // As PVM's master does with its hostfile: quietly, failures said.
            do {
                for r in try vm.addHosts(hostsToAdd.map(\.spec)) where r.status < 0 {
                    warn("pvm: cannot add \(r.name): \(PVMError.text(for: r.status))\(r.message.isEmpty ? "" : ": " + r.message)")
                }
            } catch { warn("pvm: adding the hostfile's hosts: \(error)") }
        }
        if let debugMask { _ = try? vm.setOption(PVMOption.debugMask.rawValue, ConsoleWords.cInteger(debugMask)) }
        let console = Console(vm: vm, echoCommands: isatty(0) == 0)
        throw ExitCode(console.run())
    }

    /// Starts `pvmd --background` with `arguments` unless a daemon already
    /// listens. Returns whether it started one.
    static func startDaemon(arguments: [String]) throws(PVMError) -> Bool {
        let env = Environment.current
        if let running = try DaemonLauncher.connect(socketPath: DaemonLauncher.socketPath(environment: env)) {
            running.close()
            return false
        }
        do { try DaemonLauncher.startDaemon(environment: env, arguments: arguments) } catch { throw PVMError(.cantStart, error.detail) }
        return true
    }

    private func say(_ text: String) { _ = text.withCString { write(1, $0, strlen($0)) } }
    private func warn(_ text: String) { _ = (text + "\n").withCString { write(2, $0, strlen($0)) } }
}

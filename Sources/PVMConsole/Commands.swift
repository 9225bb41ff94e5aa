#if canImport(Glibc)
import Glibc
#endif
import PVM
import PVMTransport

// The commands. Output follows PVM 3.4's console column for column (its
// printf formats are noted where the layout is not obvious), so scripts
// that read the original's output read this one's.

extension Console {
    var me: Int32 { vm.myTid.rawValue }

    // MARK: Virtual machine

    func conf() {
        let list: [HostInfo]
        do { list = try vm.config() } catch { autoError("pvm_config", error); return }
        hosts = list
        let formats = Set(list.map(\.signature.rawValue)).count
        out.line("\(list.count) host\(list.count > 1 ? "s" : ""), \(formats) data format\(formats > 1 ? "s" : "")")
        // PVM's five columns ("%24s %8x %8s%8d 0x%08x"), then ours: the
        // host's fabric (tcp, or its RDMA port) after two spaces.
        out.line("                    HOST     DTID     ARCH   SPEED       DSIG  FABRIC")
        for h in list {
            let fabric = (try? HostFabric(parsing: h.fabric))?.description ?? h.fabric
            out.line(Columns.right(h.name, 24) + " " + Columns.right(Columns.hex(h.tid), 8) + " "
                     + Columns.right(h.architecture, 8) + Columns.right(String(h.speed), 8)
                     + " 0x" + Columns.hex8(h.signature.rawValue) + "  " + fabric)
        }
    }

    func knownHosts() -> [HostInfo] {
        if hosts == nil { hosts = try? vm.config() }
        return hosts ?? []
    }

    /// Adds hosts (each word one spec: a name, or 'name opt=value ...' in
    /// quotes), in the table PVM prints; failures show PVM's text and the reason.
    func add(_ av: [String]) {
        let specs = Array(av.dropFirst())
        let results: [HostChange]
        do { results = try vm.addHosts(specs) } catch { autoError("pvm_addhosts", error); return }
        hosts = nil
        out.line("\(results.filter { $0.status > 0 }.count) successful")
        out.line("                    HOST     DTID")
        for r in results {
            if r.status > 0 {
                out.line(Columns.right(r.name, 24) + " " + Columns.right(Columns.hex(r.status), 8))
            } else {
                out.line(Columns.right(r.name, 24) + " " + Columns.right(PVMError.text(for: r.status), 8))
                if !r.message.isEmpty { out.line("    " + r.message) }
            }
        }
    }

    func delete(_ av: [String]) {
        let names = Array(av.dropFirst())
        let results: [Int32]
        do { results = try vm.deleteHosts(names) } catch { autoError("pvm_delhosts", error); return }
        hosts = nil
        out.line("\(results.filter { $0 == 0 }.count) successful")
        out.line("                    HOST  STATUS")
        for (name, code) in zip(names, results) {
            out.line(Columns.right(name, 24) + "  " + Columns.right(code == 0 ? "deleted" : PVMError.text(for: code), 8))
        }
    }

    func mstat(_ av: [String]) {
        for name in av.dropFirst() {
            let code: Int32
            do { code = try vm.hostStatus(name) } catch { code = error.code }
            out.line(Columns.right(name, 24) + "  " + (code < 0 ? PVMError.text(for: code) : "ok"))
        }
    }

    /// Halts the machine. The daemon terminates every task, this console
    /// included; PVM's console dies of that SIGTERM (status 143). This one
    /// ignores it, waits until the daemon has stopped and removed its
    /// runtime directory, and exits with status 0.
    func halt() {
        let directory = RuntimeDirectory.forCurrentUser(environment: Environment.current).path
        signal(SIGTERM, SIG_IGN)
        do { try vm.halt() } catch {
            signal(SIGTERM, SIG_DFL)
            autoError("pvm_halt", error)
            return
        }
        var waited = 0
        while access(directory, F_OK) == 0 && waited < 10_000 {
            usleep(10_000)
            waited += 10
        }
        if access(directory, F_OK) == 0 {
            diagnostic("Console: the pvmd did not finish halting (\(directory) is still there)")
            exitStatus = 1
        } else {
            exitStatus = 0
        }
    }

    func quit() {
        out.line("")
        try? vm.exit()
        out.line("Console: exit handler called")
        out.line("pvmd still running.")
        exitStatus = 0
    }

    /// `reset` kills every task but the no-reset ones (this console among
    /// them) and empties the mailbox of all but their entries; `reset info
    /// [class [index]]` only removes orphaned persistent entries (all, a
    /// class's, or one).
    func reset(_ av: [String]) {
        if av.count > 1 {
            guard av[1] == "info" else {
                out.line("\"\(av[1])\" arg to reset not valid")
                return
            }
            let name = av.count > 2 ? av[2] : ""
            let index = av.count > 3 ? ConsoleWords.integer(av[3]) : -1
            do { _ = try vm.removeOrphanedInfo(name, index: index) } catch { autoError("pvm_delinfo", error) }
            return
        }
        do { try vm.reset() } catch { autoError("pvm_reset", error) }
    }

    // MARK: The mailbox

    /// `names [pattern]`: each matching mailbox class, then its entries
    /// ("\tindex=%d owner=0x%x/%d flags=0x%x") and a blank line.
    func names(_ av: [String]) {
        let classes: [MailboxClass]
        do { classes = try vm.mailboxClasses(matching: av.count > 1 ? av[1] : "") } catch {
            autoError("pvm_getmboxinfo", error)
            return
        }
        for c in classes {
            out.line("<\(c.name)>:")
            for e in c.entries {
                let owner = e.owner.rawValue
                out.line("\tindex=\(e.index) owner=0x\(String(UInt32(bitPattern: owner), radix: 16))/\(owner) flags=0x\(String(UInt32(bitPattern: e.flags.rawValue), radix: 16))")
            }
            out.line("")
        }
    }

    /// `put name flags data`: the string `data` as an entry of class
    /// `name` (flags a decimal number, as `atoi` reads it). Silent, also
    /// when another task's entry is in the way.
    func put(_ av: [String]) {
        let message = Message()
        do {
            try message.pack(av[3])
            _ = try vm.putInfo(av[1], message, flags: MailboxFlags(rawValue: ConsoleWords.integer(av[2])))
        } catch where error.code == PVMError.Code.denied.rawValue {
            return
        } catch {
            autoError("pvm_putinfo", error)
        }
    }

    // MARK: Tasks

    func ps(_ av: [String]) {
        let hostList = knownHosts()
        var host = VirtualMachine.host(of: me)
        var long = false
        var everything = false
        for word in av.dropFirst() {
            let chars = Array(word)
            var i = 0
            scan: while i < chars.count {
                switch chars[i] {
                case "n":
                    let name = String(chars[(i + 1)...])
                    if name != "." {
                        if let h = hostList.last(where: { $0.name == name }) { host = h.tid } else { out.line("unknown host \(name)") }
                    }
                    break scan
                case "h":
                    host = ConsoleWords.taskID(String(chars[(i + 1)...]))
                    break scan
                case "a": host = 0
                case "l": long = true
                case "x": everything = true
                case "-": break
                default: out.line("unknown flag -\(chars[i])")
                }
                i += 1
            }
        }
        let list: [TaskInfo]
        do { list = try vm.tasks(where: host) } catch { autoError("pvm_tasks", error); return }
        out.line(Self.taskHeader(long: long))
        for t in list where everything || (t.tid.rawValue != me && t.tid.rawValue != 0) {
            out.line(taskRow(t, long: long))
        }
    }

    static func taskHeader(long: Bool) -> String {
        long ? "                    HOST      TID     PTID    PID   FLAG 0x COMMAND"
             : "                    HOST      TID   FLAG 0x COMMAND"
    }

    /// "%24s %8x[ %8x %6d] %9s %-12s": host, tid (`(cons)` for this
    /// console), parent and pid with -l, flags, command.
    func taskRow(_ t: TaskInfo, long: Bool) -> String {
        var s: String
        if let h = (hosts ?? []).last(where: { $0.tid == t.host }) {
            s = Columns.right(h.name, 24)
        } else {
            s = Columns.right(Columns.hex(t.host), 24)
        }
        s += t.tid.rawValue == me ? "   (cons)" : " " + Columns.right(Columns.hex(t.tid.rawValue), 8)
        if long {
            if t.parent == me {
                s += "   (cons)"
            } else if t.parent != 0 {
                s += " " + Columns.right(Columns.hex(t.parent), 8)
            } else {
                s += "        -"
            }
            s += " " + Columns.right(String(t.pid), 6)
        }
        s += " " + Columns.right(Columns.taskFlags(t.flags), 9)
        s += " " + Columns.left(t.name.isEmpty ? "-" : t.name, 12)
        return s
    }

    func pstat(_ av: [String]) {
        for word in av.dropFirst() {
            let tid = ConsoleWords.taskID(word)
            let code: Int32
            do { code = try vm.taskStatus(tid) } catch { code = error.code }
            out.line("t" + Columns.right(Columns.hex(tid), 8) + "  " + (code < 0 ? PVMError.text(for: code) : "run"))
        }
    }

    func kill(_ av: [String]) {
        var targets = Array(av.dropFirst())
        var children = false
        if let first = targets.first, first.hasPrefix("-") {
            targets.removeFirst()
            for c in first {
                switch c {
                case "c": children = true
                case "-": break
                default: out.line("unknown flag -\(c)")
                }
            }
        }
        guard !targets.isEmpty else {
            out.line("incorrect arg count")
            return
        }
        var all: [TaskInfo] = []
        if children {
            do { all = try vm.tasks(where: 0) } catch { autoError("pvm_tasks", error); return }
        }
        for word in targets {
            let tid = ConsoleWords.taskID(word)
            if children {
                for t in all where t.parent == tid && t.tid.rawValue != me { terminate(t.tid.rawValue) }
            } else if tid == me {
                out.line("\(TaskID(tid)): that's me.")
            } else {
                terminate(tid)
            }
        }
    }

    private func terminate(_ tid: Int32) {
        do { try vm.kill(tid) } catch {
            // pvm_kill is pvm_sendsig(SIGTERM): libpvm reports both.
            autoError("pvm_sendsig", error)
            autoError("pvm_kill", error)
        }
    }

    func sig(_ av: [String]) {
        let signum = ConsoleWords.integer(av[1])
        for word in av.dropFirst(2) {
            do { try vm.signal(ConsoleWords.taskID(word), signum) } catch { autoError("pvm_sendsig", error) }
        }
    }

    /// `spawn [-count] [-host] [-host:wd] [--host=IP[:wd]] [-ARCH[:wd]]
    /// [-:wd] [-?] [->] [->file] [->>file] file [arg ...]`. Children never
    /// have the console as parent (PvmNoSpawnParent). With `->` they are a
    /// job: their output comes back tagged with the job's code.
    func spawn(_ av: [String]) {
        var i = 1
        var flags = SpawnFlags.noSpawnParent.rawValue
        var location = ""
        var count: Int32 = 1
        var redirect = false
        var append = false
        var outputFile: String? = nil
        var trace = false
        while av[i].hasPrefix("-") {
            guard av.count - i >= 2 else {
                out.line("incorrect arg count")
                return
            }
            var w = Substring(av[i].dropFirst())
            if w.first == "~" {
                flags |= SpawnFlags.hostComplement.rawValue
                w = w.dropFirst()
            }
            if let c = w.unicodeScalars.first {
                if c == "." || ("a"..."z").contains(c) {
                    location = String(w)
                    flags |= SpawnFlags.host.rawValue
                }
                if c == ":" { location = String(w) }
                if ("A"..."Z").contains(c) {
                    location = String(w)
                    flags |= SpawnFlags.architecture.rawValue
                }
                if c == "?" { flags |= SpawnFlags.debug.rawValue }
                if ("0"..."9").contains(c) { count = ConsoleWords.integer(String(w)) }
                if c == ">" {
                    redirect = true
                    var rest = w.dropFirst()
                    append = rest.first == ">"
                    if append { rest = rest.dropFirst() }
                    outputFile = rest.isEmpty ? nil : String(rest)
                }
                if c == "@" { trace = true }
                if c == "-" && w.dropFirst().hasPrefix("host=") {
                    location = String(w.dropFirst(6))
                    flags |= SpawnFlags.host.rawValue
                }
            }
            i += 1
        }
        let file = av[i]
        let arguments = Array(av[(i + 1)...])
        if trace {
            out.line("spawn: -@: \(PVMError.text(for: PVMError.Code.notImpl.rawValue)) (no tracing yet)")
            return
        }
        _ = try? vm.setOption(PVMOption.traceTid.rawValue, 0)
        var job: Job? = nil
        if redirect {
            let tag = nextJobTag
            nextJobTag += 1
            _ = try? vm.setOption(PVMOption.outputTid.rawValue, me)
            _ = try? vm.setOption(PVMOption.outputContext.rawValue, vm.context)
            _ = try? vm.setOption(PVMOption.outputCode.rawValue, tag)
            let number = tag - Self.firstJobTag + 1
            out.line("[\(number)]")
            var sink: OutputChannel? = nil
            if let name = outputFile {
                // `->file` makes a new file (never one that exists, as PVM
                // 3.4.6 does); `->>file` appends, creating it if needed.
                let fd = append
                    ? open(name, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0o600)
                    : open(name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
                if fd < 0 {
                    let reason = String(cString: strerror(errno))
                    diagnostic("\(name): \(reason)")
                    return
                }
                sink = OutputChannel(fd: fd, owned: true)
            }
            let j = Job(tag: tag, number: number, sink: sink)
            jobs.append(j)
            job = j
        } else {
            _ = try? vm.setOption(PVMOption.outputTid.rawValue, 0)
        }
        let results: [Int32]
        do {
            results = try vm.spawnResults(file, arguments: arguments, flags: flags, where: location, count: Int(count))
        } catch {
            autoError("pvm_spawn", error)
            if let job { endJob(job) }
            return
        }
        let started = results.filter { $0 > 0 }.count
        if let job, started == 0 { endJob(job) }
        out.line("\(started) successful")
        for r in results { out.line(r > 0 ? TaskID(r).description : PVMError.text(for: r)) }
    }

    /// ` 1: t40010 t40011`; with -l a `ps` table of each job's tasks.
    func listJobs(_ av: [String]) {
        let long = av.count > 1 && av[1] == "-l"
        if long {
            out.line(Self.taskHeader(long: false))
            _ = knownHosts()
        }
        for job in jobs {
            out.write(" \(job.number):" + (long ? "\n" : ""))
            for tid in job.tasks.keys.sorted() {
                if long {
                    if let info = try? vm.tasks(where: tid), info.count == 1 {
                        out.line(taskRow(info[0], long: false))
                    } else {
                        out.line(" \(TaskID(tid))")
                    }
                } else {
                    out.write(" \(TaskID(tid))")
                }
            }
            if !long { out.write("\n") }
        }
    }

    // MARK: The console's own settings

    func alias(_ av: [String]) {
        if av.count < 3 {
            for a in aliases { out.line(a.name + "\t" + a.words.joined(separator: " ")) }
            return
        }
        aliases.removeAll { $0.name == av[1] }
        let at = aliases.firstIndex { $0.name > av[1] } ?? aliases.endIndex
        aliases.insert((av[1], Array(av[2...])), at: at)
    }

    func setenv(_ av: [String]) {
        switch av.count {
        case 1:
            var p = environ
            while let entry = p.pointee {
                out.line(String(cString: entry))
                p += 1
            }
        case 2:
            if let v = getenv(av[1]) { out.line(String(cString: v)) }
        default:
            Glibc.setenv(av[1], av[2...].joined(separator: " "), 1)
        }
    }

    func export(_ av: [String]) {
        if av.count == 1 {
            out.line("PVM_EXPORT=" + (getenv("PVM_EXPORT").map { String(cString: $0) } ?? ""))
        } else {
            for name in av.dropFirst() { VirtualMachine.export(name) }
        }
    }

    func getopt(_ av: [String]) {
        if av.count == 1 {
            for (i, name) in OptionNames.all.enumerated() where !name.isEmpty {
                out.line("\(name) Currently Set to \(optionValue(Int32(i + 1)))")
            }
            return
        }
        guard let what = OptionNames.number(av[1]) else {
            out.line("PVM Option \"\(av[1])\" Unknown.")
            return
        }
        out.line("\(av[1]) Currently Set to \(optionValue(what))")
    }

    private func optionValue(_ what: Int32) -> Int32 {
        do { return try vm.option(what) } catch {
            autoError("pvm_getopt", error)
            return error.code
        }
    }

    func setopt(_ av: [String]) {
        guard let what = OptionNames.number(av[1]) else {
            out.line("PVM Option \"\(av[1])\" Unknown.")
            return
        }
        let value = ConsoleWords.integer(av[2])
        let old: Int32
        do { old = try vm.setOption(what, value) } catch {
            autoError("pvm_setopt", error)
            old = error.code
        }
        out.line("\(av[1]) Changed from \(old) to \(value)")
    }

    func help(_ av: [String]) {
        let topic = av.count > 1 ? av[1] : "help"
        if let spec = CommandSpec.named(topic) {
            out.line(spec.headline)
            for line in spec.details { out.line(line) }
        }
        if topic == "help" {
            out.line("Commands are:")
            for spec in CommandSpec.all { out.line("  " + spec.headline) }
        }
    }
}

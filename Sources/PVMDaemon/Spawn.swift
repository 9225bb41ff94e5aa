#if canImport(Glibc)
import Glibc
#endif
import CSupport
import PVMControl
import Logging
import PVMEncoding
import PVMSystem

/// A `pvm_spawn` as it reaches the daemon.
struct SpawnRequest {
    var file: String
    var arguments: [String]
    var flags: Int32
    var location: String
    var count: Int32
    var environment: [String]
    var outputTid: Int32
    var outputCode: Int32
    var outputContext: Int32
    var context: Int32
    /// Part of a spawn spread over several hosts: the copies wait at
    /// enrollment for the whole sibling list (`Daemon.releaseSiblings`).
    var siblingsPending = false

    init(_ r: inout ControlReader) throws(PVMError) {
        file = try r.string()
        arguments = try r.strings()
        flags = try r.int()
        location = try r.string()
        count = try r.int()
        environment = try r.strings()
        outputTid = try r.int()
        outputCode = try r.int()
        outputContext = try r.int()
        context = try r.int()
        if r.remaining >= 4 { siblingsPending = try r.int() != 0 }
    }

    func write(_ w: inout ControlWriter) {
        w.string(file); w.strings(arguments); w.int(flags); w.string(location); w.int(count)
        w.strings(environment); w.int(outputTid); w.int(outputCode); w.int(outputContext); w.int(context)
        w.int(siblingsPending ? 1 : 0)
    }

    /// The same request for `count` copies on the host named `name`.
    func placed(on name: String, count: Int32, directory: String?) -> SpawnRequest {
        var r = self
        r.siblingsPending = true
        r.flags = (flags & ~(SpawnFlag.host | SpawnFlag.arch | SpawnFlag.hostComplement)) | SpawnFlag.host
        r.location = name + (directory.map { ":" + $0 } ?? "")
        r.count = count
        return r
    }

    /// `where` split into its target (host or architecture) and directory.
    var target: (name: String, directory: String?) {
        guard let colon = location.firstIndex(of: ":") else { return (location, nil) }
        let dir = String(location[location.index(after: colon)...])
        return (String(location[..<colon]), dir.isEmpty ? nil : dir)
    }
}

/// Collects `count` results that arrive in any order, then calls the
/// completion once with all of them in order.
final class Gather<T> {
    private var values: [T?]
    private var left: Int
    private var done: (([T]) -> Void)?

    init(count: Int) {
        values = Array(repeating: nil, count: count)
        left = count
    }

    func put(_ i: Int, _ value: T) {
        guard values[i] == nil else { return }
        values[i] = value
        left -= 1
        finish()
    }

    func whenDone(_ body: @escaping ([T]) -> Void) {
        done = body
        finish()
    }

    private func finish() {
        guard left == 0, let body = done else { return }
        done = nil
        body(values.map { $0! })
    }
}

/// PVM 3.4's spawn flags.
enum SpawnFlag {
    static let host: Int32 = 1
    static let arch: Int32 = 2
    static let hostComplement: Int32 = 32
    static let noSpawnParent: Int32 = 64
}

extension Daemon {
    /// Where the copies of a spawn go, as (host, count) pairs: the named
    /// host (PvmTaskHost), the hosts of an architecture (PvmTaskArch),
    /// else every host in turn, as PVM spreads tasks over its machine.
    func placement(_ req: SpawnRequest) -> [(host: Int32, count: Int32)]? {
        let (target, _) = req.target
        let complement = req.flags & SpawnFlag.hostComplement != 0
        let all = hostTable.values.sorted { $0.number < $1.number }
        let candidates: [HostEntryRecord]
        if req.flags & SpawnFlag.host != 0 {
            candidates = all.filter { ($0.name == target) != complement }
        } else if req.flags & SpawnFlag.arch != 0 {
            candidates = all.filter { ($0.architecture == target) != complement }
        } else {
            candidates = all
        }
        guard !candidates.isEmpty else { return nil }
        var counts = [Int32](repeating: 0, count: candidates.count)
        let start = spawnCursor % candidates.count
        for k in 0..<Int(max(0, min(req.count, 1 << 16))) { counts[(start + k) % candidates.count] += 1 }
        spawnCursor = (start + Int(max(0, req.count))) % candidates.count
        return candidates.indices.compactMap { counts[$0] > 0 ? (candidates[$0].number, counts[$0]) : nil }
    }

    /// A spawn placed over several hosts: this host's part here, the rest
    /// forwarded; one answer with every result, host by host.
    func spawnAcrossHosts(_ req: SpawnRequest, parent: Int32, _ respond: @escaping (ControlWriter) -> Void) {
        let total = Int(max(0, min(req.count, 1 << 16)))
        guard let parts = placement(req) else {
            var w = ControlWriter()
            w.ints(Array(repeating: PVMError.Code.noHost.rawValue, count: total))
            respond(w)
            return
        }
        let directory = req.target.directory
        let gather = Gather<[Int32]>(count: parts.count)
        for (i, part) in parts.enumerated() {
            guard let entry = hostTable[part.host] else { gather.put(i, Array(repeating: PVMError.Code.noHost.rawValue, count: Int(part.count))); continue }
            let sub = req.placed(on: entry.name, count: part.count, directory: directory)
            if part.host == host {
                spawn(sub, parent: parent) { gather.put(i, $0) }
                continue
            }
            var w = ControlWriter()
            sub.write(&w)
            let n = Int(part.count)
            forward(.spawn, w, toHost: part.host, requester: parent) { reply in
                var r = ControlReader(reply ?? [])
                let tids = (try? r.ints()) ?? Array(repeating: PVMError.Code.hostFail.rawValue, count: n)
                gather.put(i, tids)
            }
        }
        gather.whenDone { [weak self] lists in
            let all = lists.flatMap { $0 }
            // Every copy learns every sibling, whichever host it runs on.
            let siblings = all.filter { $0 > 0 }
            if let self {
                self.releaseSiblings(siblings)
                for h in Set(siblings.map { TaskID($0).hostNumber }) where h != self.host {
                    var w = ControlWriter()
                    w.ints(siblings)
                    self.forward(.setSiblings, w, toHost: h, requester: parent) { _ in }
                }
            }
            var w = ControlWriter()
            w.ints(all)
            respond(w)
        }
    }

    /// Starts `count` copies and calls `done` with one entry per copy: a
    /// tid, or a negative PVM error code (PvmNoFile, PvmNoHost, PvmOutOfRes).
    /// The copies are started without waiting for their execs (`launch`);
    /// `done` runs once every exec is known, at once when none was started.
    /// Until then the copies wait at enrollment, as their sibling list is
    /// not complete.
    func spawn(_ req: SpawnRequest, parent: Int32, _ done: @escaping ([Int32]) -> Void) {
        let count = Int(max(0, min(req.count, 1 << 16)))
        func failAll(_ code: PVMError.Code) { done(Array(repeating: code.rawValue, count: count)) }

        // Placement: `where` is "host[:dir]" with PvmTaskHost, "ARCH[:dir]"
        // with PvmTaskArch, and ":dir" alone names a working directory.
        var target = req.location
        var directory: String? = nil
        if let colon = target.firstIndex(of: ":") {
            let dir = String(target[target.index(after: colon)...])
            if !dir.isEmpty { directory = dir }
            target = String(target[..<colon])
        }
        let complement = req.flags & SpawnFlag.hostComplement != 0
        if req.flags & SpawnFlag.host != 0 {
            var matches = target == options.hostName
            if complement { matches = !matches }
            if !matches { return failAll(.noHost) }
        } else if req.flags & SpawnFlag.arch != 0 {
            var matches = target == options.architecture
            if complement { matches = !matches }
            if !matches { return failAll(.noHost) }
        }
        let cwd = directory ?? options.workingDirectory ?? options.environment["PVM_WD"].flatMap { $0.isEmpty ? nil : $0 }
            ?? options.environment["HOME"] ?? "/"

        let path = resolve(req.file)
        var env = options.environment
        for pair in req.environment {
            guard let eq = pair.firstIndex(of: "=") else { continue }
            env[String(pair[..<eq])] = String(pair[pair.index(after: eq)...])
        }
        env["PVMSOCK"] = options.directory.socketPath
        env["PVM_ARCH"] = options.architecture
        env["PVMCTX"] = "0x" + String(UInt32(bitPattern: req.context), radix: 16)
        let envList = env.map { "\($0.key)=\($0.value)" }
        let argv = [path ?? req.file] + req.arguments
        // NUMA placement: the spawner's exported PVM_BIND, else this host's bind=.
        var placement = options.bind
        if let text = req.environment.last(where: { $0.hasPrefix("PVM_BIND=") })?.dropFirst(9) {
            do { placement = try Placement(parsing: String(text)) } catch {
                log.notice("spawn of \(req.file) for \(TaskID(parent)) refused: PVM_BIND: \(error)")
                return failAll(.badParam)
            }
        }

        let batch = SpawnBatch(request: req, parent: parent, count: count, done: done)
        let now = Clock.monotonicNanoseconds()
        for i in 0..<count {
            guard let local = allocateLocal() else { batch.results[i] = PVMError.Code.outOfRes.rawValue; continue }
            let t = TaskID(host: host, local: local).rawValue
            guard let path else {
                // PVM uses up a task id for a spawn that finds no program, too.
                batch.results[i] = PVMError.Code.noFile.rawValue
                continue
            }
            switch launch(path: path, argv: argv, env: envList, cwd: cwd, tid: t, req: req, parent: parent,
                          placement: placement, batch: batch, index: i) {
            case .success(let rec):
                rec.siblingsPendingSince = now
                batch.results[i] = t
                batch.pending += 1
            case .failure(let error):
                log.info("spawn of \(path) failed: \(error.detail)")
                batch.results[i] = error.code
            }
        }
        batch.launched = true
        if batch.pending == 0 { finish(batch) }
    }

    /// Every exec of a spawn is known: the copies learn their siblings and
    /// are let in (unless the spawn spreads over hosts, whose list comes
    /// later), and the spawner hears the result.
    private func finish(_ batch: SpawnBatch) {
        let siblings = batch.results.filter { $0 > 0 }
        for t in siblings {
            guard let rec = tasks[t] else { continue }
            rec.siblings = siblings
            if !batch.request.siblingsPending { releaseEnrollment(rec) }
        }
        if !siblings.isEmpty {
            log.info("spawned \(siblings.count) of \(batch.results.count) \(batch.request.file) for \(TaskID(batch.parent)): \(siblings.map { TaskID($0).description }.joined(separator: " "))")
        }
        batch.done(batch.results)
    }

    /// Takes the news of a pending exec, if there is any: the copy runs (its
    /// output is watched from now on), or it failed (its id is given up and
    /// the spawner gets the error). Returns false while the exec is unknown.
    @discardableResult
    func settle(_ launch: PendingLaunch) -> Bool {
        let status = pvm_launch_poll(launch.handle, launch.statusFD)
        if status < 0 { return false }
        epoll.remove(launch.statusFD)
        _ = Glibc.close(launch.statusFD)
        pvm_launch_free(launch.handle)
        launches.removeValue(forKey: launch.id)
        let batch = launch.batch
        let rec = tasks[launch.tid].flatMap { $0.launch === launch ? $0 : nil }
        rec?.launch = nil
        if status == 0, let rec {
            if let pipe = pipes[launch.pipeID] {
                try? epoll.add(pipe.fd, events: .readable, token: Self.token(.pipe, pipe.id))
                if rec.outputTid != 0 { sendOutput(pipe, length: OutputEvent.spawn, []) }
            }
        } else if status == 0 {
            // Its record went meanwhile: nobody reads its output.
            if let pipe = pipes.removeValue(forKey: launch.pipeID) { _ = Glibc.close(pipe.fd) }
        } else {
            // The child has exited (status 127); `processExited` reaps it.
            let code: PVMError.Code = (status == ENOENT || status == EACCES || status == ENOEXEC) ? .noFile : .outOfRes
            log.info("spawn of \(batch.request.file) failed: exec: \(String(cString: strerror(status)))")
            batch.results[launch.index] = code.rawValue
            if rec != nil { tasks.removeValue(forKey: launch.tid) }
            if let pipe = pipes.removeValue(forKey: launch.pipeID) { _ = Glibc.close(pipe.fd) }
        }
        batch.pending -= 1
        if batch.pending == 0 && batch.launched { finish(batch) }
        return true
    }

    /// The executable for `file`: an absolute path as given; otherwise the
    /// first executable `dir/file` along the search path (`$PVM_PATH`, else
    /// `$HOME/pvm3/bin/$PVM_ARCH:$PVM_ROOT/bin/$PVM_ARCH`). The working
    /// directory is not searched, as in PVM.
    func resolve(_ file: String) -> String? {
        guard !file.isEmpty else { return nil }
        if file.hasPrefix("/") { return isExecutable(file) ? file : nil }
        for dir in searchPath() where !dir.isEmpty {
            let candidate = dir + "/" + file
            if isExecutable(candidate) { return candidate }
        }
        return nil
    }

    func searchPath() -> [String] {
        let env = options.environment
        if let ep = options.executablePath, !ep.isEmpty { return ep.split(separator: ":").map(String.init) }
        if let p = env["PVM_PATH"], !p.isEmpty { return p.split(separator: ":").map(String.init) }
        let arch = options.architecture
        var dirs: [String] = []
        if let home = env["HOME"], !home.isEmpty { dirs.append("\(home)/pvm3/bin/\(arch)") }
        dirs.append("\(env["PVM_ROOT"].flatMap { $0.isEmpty ? nil : $0 } ?? "/usr/lib/pvm3")/bin/\(arch)")
        return dirs
    }

    private func isExecutable(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && st.st_mode & S_IFMT == S_IFREG && access(path, X_OK) == 0
    }

    private func launch(path: String, argv: [String], env: [String], cwd: String, tid t: Int32, req: SpawnRequest,
                        parent: Int32, placement: Placement?, batch: SpawnBatch, index: Int) -> Result<TaskRecord, PVMError> {
        var fds: [Int32] = [-1, -1]
        guard pvm_pipe(&fds) == 0 else { return .failure(PVMError(.outOfRes, "pipe: \(String(cString: strerror(errno)))")) }
        // A placed child: this thread is placed around the clone, whose
        // child inherits CPU affinity and memory policy (kept across exec).
        var handle: OpaquePointer? = nil
        var pid: pid_t = -1, pidfd: Int32 = -1, statusFD: Int32 = -1
        let start = {
            withCStrings(argv) { a in withCStrings(env) { e in
                pvm_launch_start(path, a, e, cwd, fds[1], &handle, &pid, &pidfd, &statusFD)
            } }
        }
        let rc: Int32
        do { rc = try (placement ?? .none).withApplied(start) } catch {
            _ = Glibc.close(fds[0]); _ = Glibc.close(fds[1])
            return .failure(PVMError(.badParam, "placement of \(path): \(error)"))
        }
        _ = Glibc.close(fds[1])
        guard rc == 0, let handle else {
            _ = Glibc.close(fds[0])
            return .failure(PVMError(.outOfRes, "\(path) in \(cwd): \(String(cString: strerror(-rc)))"))
        }
        let rec = TaskRecord(tid: t, pid: pid)
        rec.spawned = true
        rec.flags = TaskFlags.spawned
        rec.parent = req.flags & SpawnFlag.noSpawnParent != 0 ? PVMError.Code.parentNotSet.rawValue : parent
        rec.name = req.file
        rec.outputTid = req.outputTid
        rec.outputCode = req.outputCode
        rec.outputContext = req.outputContext
        rec.context = req.context
        tasks[t] = rec

        // The output pipe joins the epoll set once the exec is known (`settle`).
        _ = pvm_set_nonblocking(fds[0], 1)
        let pipe = OutputPipe(id: newID(), fd: fds[0], tid: t, destination: req.outputTid,
                              code: req.outputCode, context: req.outputContext)
        pipes[pipe.id] = pipe

        let pending = PendingLaunch(id: newID(), handle: handle, statusFD: statusFD, tid: t, pipeID: pipe.id,
                                    batch: batch, index: index)
        launches[pending.id] = pending
        rec.launch = pending
        try? epoll.add(statusFD, events: .readable, token: Self.token(.launch, pending.id))

        if pidfd < 0 { pidfd = pvm_pidfd_open(pid) }
        if pidfd >= 0 {
            let proc = SpawnedProcess(id: newID(), pid: pid, pidfd: pidfd, tid: t)
            processes[proc.id] = proc
            try? epoll.add(pidfd, events: .readable, token: Self.token(.process, proc.id))
        } else {
            log.warning("pidfd_open(\(pid)) failed: \(String(cString: strerror(errno))); the exit of \(TaskID(t)) is seen only when it disconnects")
        }
        return .success(rec)
    }
}

/// The copies of one spawn on this host, while their execs are pending.
final class SpawnBatch {
    let request: SpawnRequest
    let parent: Int32
    var results: [Int32]
    /// Copies started whose exec is not known yet.
    var pending = 0
    /// Every copy has been started (or has failed to start).
    var launched = false
    let done: ([Int32]) -> Void
    init(request: SpawnRequest, parent: Int32, count: Int, done: @escaping ([Int32]) -> Void) {
        self.request = request
        self.parent = parent
        self.results = Array(repeating: 0, count: count)
        self.done = done
    }
}

/// One copy between its clone and its exec (CSupport's pvm_launch_start).
final class PendingLaunch {
    let id: UInt64
    let handle: OpaquePointer
    let statusFD: Int32
    let tid: Int32
    let pipeID: UInt64
    let batch: SpawnBatch
    let index: Int
    init(id: UInt64, handle: OpaquePointer, statusFD: Int32, tid: Int32, pipeID: UInt64, batch: SpawnBatch, index: Int) {
        self.id = id
        self.handle = handle
        self.statusFD = statusFD
        self.tid = tid
        self.pipeID = pipeID
        self.batch = batch
        self.index = index
    }
}

extension Daemon {
    /// The whole sibling list of a spawn spread over hosts: this host's
    /// copies get it, and those waiting at enrollment are let in.
    func releaseSiblings(_ all: [Int32]) {
        for t in all where TaskID(t).hostNumber == host {
            guard let rec = tasks[t] else { continue }
            rec.siblings = all
            releaseEnrollment(rec)
        }
    }

    /// Lets in a task that waited at enrollment for its siblings.
    func releaseEnrollment(_ rec: TaskRecord) {
        rec.siblingsPendingSince = 0
        guard let id = rec.deferredClient else { return }
        rec.deferredClient = nil
        guard let client = clients[id] else { return }
        welcome(client, rec)
    }

    /// Copies whose sibling list never came (the spawning host failed):
    /// let in with what this host knows, after 30 s.
    func releaseStaleEnrollments(now: UInt64) {
        for rec in tasks.values where rec.siblingsPendingSince != 0 && now &- rec.siblingsPendingSince > 30_000_000_000 {
            releaseEnrollment(rec)
        }
    }
}

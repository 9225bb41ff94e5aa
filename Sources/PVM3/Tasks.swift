#if canImport(Glibc)
import Glibc
#endif
import CPVM3
import PVM

// Process control, the machine, options and errors: PVM 3.4's C entry
// points over the task library. Each is the C calling convention around
// one VirtualMachine method; no PVM logic lives here.

@_cdecl("pvm_mytid")
public func c_mytid() -> Int32 {
    call("pvm_mytid") { vm in
        pvm3_set_context(vm.context)
        return vm.myTid.rawValue
    }
}

@_cdecl("pvm_parent")
public func c_parent() -> Int32 {
    // No parent is an answer, not a failure: the original sets pvm_errno
    // and prints nothing.
    call("pvm_parent") { vm in
        do throws(PVMError) { return try vm.parent().rawValue } catch {
            pvm3_set_errno(error.code)
            return error.code
        }
    }
}

@_cdecl("pvm_exit")
public func c_exit() -> Int32 {
    // Leaving a machine one never joined is not an error (nothing to do).
    guard let vm = VirtualMachine.existing, vm.isEnrolled else { return 0 }
    return local("pvm_exit") { () throws(PVMError) in try vm.exit(); return 0 }
}

@_cdecl("pvm_spawn")
public func c_spawn(_ file: UnsafeMutablePointer<CChar>?, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                    _ flags: Int32, _ location: UnsafeMutablePointer<CChar>?, _ count: Int32,
                    _ tids: UnsafeMutablePointer<Int32>?) -> Int32 {
    call("pvm_spawn") { vm throws(PVMError) in
        guard let file, file.pointee != 0 else { throw PVMError(.badParam, "no program name") }
        guard count > 0 else { throw PVMError(.badParam, "count \(count)") }
        var arguments: [String] = []
        if let argv {
            var i = 0
            while let a = argv[i] { arguments.append(String(cString: a)); i += 1 }
        }
        let results = try vm.spawnResults(String(cString: file), arguments: arguments, flags: flags,
                                          where: string(location) ?? "", count: Int(count))
        // As PVM: the count started, and for each copy that did not start
        // its error code in `tids` (not reported: the caller reads them there).
        if let tids { for (i, r) in results.enumerated() { tids[i] = r } }
        return Int32(results.filter { $0 > 0 }.count)
    }
}

@_cdecl("pvm_kill")
public func c_kill(_ tid: Int32) -> Int32 {
    // pvm_kill is pvm_sendsig(tid, SIGTERM): a failure is reported by both, as in PVM.
    let rc = call("pvm_sendsig") { vm throws(PVMError) in try vm.kill(tid); return 0 }
    return rc < 0 ? report("pvm_kill", code: rc) : rc
}

@_cdecl("pvm_sendsig")
public func c_sendsig(_ tid: Int32, _ signum: Int32) -> Int32 {
    call("pvm_sendsig") { vm throws(PVMError) in try vm.signal(tid, signum); return 0 }
}

@_cdecl("pvm_halt")
public func c_halt() -> Int32 {
    call("pvm_halt") { vm throws(PVMError) in try vm.halt(); return 0 }
}

@_cdecl("pvm_tasks")
public func c_tasks(_ location: Int32, _ ntask: UnsafeMutablePointer<Int32>?,
                    _ taskp: UnsafeMutablePointer<UnsafeMutablePointer<pvmtaskinfo>?>?) -> Int32 {
    call("pvm_tasks") { vm throws(PVMError) in
        let list = try vm.tasks(where: location)
        let table = taskTable.replace(count: list.count) { i, keep in
            let t = list[i]
            return pvmtaskinfo(ti_tid: t.tid.rawValue, ti_ptid: t.parent, ti_host: t.host, ti_flag: t.flags,
                               ti_a_out: keep(t.name), ti_pid: t.pid)
        }
        ntask?.pointee = Int32(list.count)
        taskp?.pointee = table
        return 0
    }
}

@_cdecl("pvm_config")
public func c_config(_ nhost: UnsafeMutablePointer<Int32>?, _ narch: UnsafeMutablePointer<Int32>?,
                     _ hostp: UnsafeMutablePointer<UnsafeMutablePointer<pvmhostinfo>?>?) -> Int32 {
    call("pvm_config") { vm throws(PVMError) in
        let hosts = try vm.config()
        let table = hostTable.replace(count: hosts.count) { i, keep in
            let h = hosts[i]
            return pvmhostinfo(hi_tid: h.tid, hi_name: keep(h.name), hi_arch: keep(h.architecture),
                               hi_speed: h.speed, hi_dsig: Int32(bitPattern: h.signature.rawValue))
        }
        nhost?.pointee = Int32(hosts.count)
        narch?.pointee = Int32(Set(hosts.map(\.architecture)).count)
        hostp?.pointee = table
        return 0
    }
}

@_cdecl("pvm_pstat")
public func c_pstat(_ tid: Int32) -> Int32 {
    call("pvm_pstat") { vm throws(PVMError) in
        let status = try vm.taskStatus(tid)
        // PvmNoTask is an answer, not a failure: returned without a report.
        return status
    }
}

@_cdecl("pvm_mstat")
public func c_mstat(_ host: UnsafeMutablePointer<CChar>?) -> Int32 {
    call("pvm_mstat") { vm throws(PVMError) in
        guard let host, host.pointee != 0 else { throw PVMError(.badParam, "no host name") }
        return try vm.hostStatus(String(cString: host))
    }
}

@_cdecl("pvm_tidtohost")
public func c_tidtohost(_ tid: Int32) -> Int32 {
    VirtualMachine.host(of: tid)
}

@_cdecl("pvm_siblings")
public func c_siblings(_ tids: UnsafeMutablePointer<UnsafeMutablePointer<Int32>?>?) -> Int32 {
    call("pvm_siblings") { vm in
        let list = vm.siblings
        tids?.pointee = siblingTable.replace(count: list.count) { i, _ in list[i].rawValue }
        return Int32(list.count)
    }
}

@_cdecl("pvm_catchout")
public func c_catchout(_ file: UnsafeMutablePointer<FILE>?) -> Int32 {
    call("pvm_catchout") { vm in
        vm.catchOutput(to: file)
        return 0
    }
}

@_cdecl("pvm_notify")
public func c_notify(_ what: Int32, _ tag: Int32, _ count: Int32, _ tids: UnsafeMutablePointer<Int32>?) -> Int32 {
    call("pvm_notify") { vm throws(PVMError) in
        guard tag >= 0 else { throw PVMError(.badParam, "tag \(tag)") }
        let base = what & ~NotifyKind.cancel
        var list: [Int32] = []
        if base != NotifyKind.hostAdd.rawValue, count > 0 {
            guard let tids else { throw PVMError(.badParam, "no task ids") }
            list = Array(UnsafeBufferPointer(start: tids, count: Int(count)))
        }
        try vm.notify(what, tag: tag, count: count, tids: list)
        return 0
    }
}

@_cdecl("pvm_archcode")
public func c_archcode(_ arch: UnsafeMutablePointer<CChar>?) -> Int32 {
    call("pvm_archcode") { vm throws(PVMError) in
        guard let arch else { throw PVMError(.badParam, "no architecture") }
        let name = String(cString: arch)
        guard let host = try vm.config().first(where: { $0.architecture == name }) else {
            throw PVMError(.notFound, name)
        }
        return Int32(bitPattern: host.signature.rawValue)
    }
}

@_cdecl("pvm_getfds")
public func c_getfds(_ fds: UnsafeMutablePointer<UnsafeMutablePointer<Int32>?>?) -> Int32 {
    call("pvm_getfds") { vm in
        let list = vm.pollDescriptors
        fds?.pointee = descriptorTable.replace(count: list.count) { i, _ in list[i] }
        return Int32(list.count)
    }
}

@_cdecl("pvm_version")
public func c_version() -> UnsafeMutablePointer<CChar>? {
    pvm3_version_string()
}

@_cdecl("pvm_export")
public func c_export(_ name: UnsafeMutablePointer<CChar>?) -> Int32 {
    if let name { VirtualMachine.export(String(cString: name)) }
    return 0
}

@_cdecl("pvm_unexport")
public func c_unexport(_ name: UnsafeMutablePointer<CChar>?) -> Int32 {
    if let name { VirtualMachine.unexport(String(cString: name)) }
    return 0
}

@_cdecl("pvm_start_pvmd")
public func c_start_pvmd(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?, _ block: Int32) -> Int32 {
    local("pvm_start_pvmd") { () throws(PVMError) in
        let env = Environment.current
        if let running = try DaemonLauncher.connect(socketPath: DaemonLauncher.socketPath(environment: env)) {
            running.close()
            throw PVMError(.dupHost, "a pvmd runs already")
        }
        var arguments: [String] = []
        if let argv { for i in 0..<Int(max(0, argc)) { if let a = argv[i] { arguments.append(String(cString: a)) } } }
        try DaemonLauncher.startDaemon(environment: env, arguments: arguments)
        // The daemon listens when startDaemon returns: the wait `block` asks for is over.
        return 0
    }
}

@_cdecl("pvm_hostsync")
public func c_hostsync(_ host: Int32, _ clock: UnsafeMutablePointer<timeval>?, _ delta: UnsafeMutablePointer<timeval>?) -> Int32 {
    call("pvm_hostsync") { vm throws(PVMError) in
        let (c, d) = try vm.hostClock(host)
        clock?.pointee = c
        delta?.pointee = d
        return 0
    }
}

@_cdecl("pvm_addhosts")
public func c_addhosts(_ hosts: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?, _ count: Int32,
                       _ infos: UnsafeMutablePointer<Int32>?) -> Int32 {
    call("pvm_addhosts") { vm throws(PVMError) in
        guard count >= 1, let hosts else { throw PVMError(.badParam, "host count \(count)") }
        let specs = (0..<Int(count)).map { string(hosts[$0]) ?? "" }
        let results = try vm.addHosts(specs)
        var added: Int32 = 0
        for i in 0..<Int(count) {
            let status = i < results.count ? results[i].status : PVMError.Code.cantStart.rawValue
            infos?[i] = status
            if status > 0 { added += 1 }
        }
        return added
    }
}

@_cdecl("pvm_delhosts")
public func c_delhosts(_ hosts: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?, _ count: Int32,
                       _ infos: UnsafeMutablePointer<Int32>?) -> Int32 {
    call("pvm_delhosts") { vm throws(PVMError) in
        guard count >= 1, let hosts else { throw PVMError(.badParam, "host count \(count)") }
        let names = (0..<Int(count)).map { string(hosts[$0]) ?? "" }
        let results = try vm.deleteHosts(names)
        var deleted: Int32 = 0
        for i in 0..<Int(count) {
            let status = i < results.count ? results[i] : PVMError.Code.noHost.rawValue
            infos?[i] = status
            if status == 0 { deleted += 1 }
        }
        return deleted
    }
}

@_cdecl("pvm_tickle")
public func c_tickle(_ narg: Int32, _ argv: UnsafeMutablePointer<Int32>?, _ nresp: UnsafeMutablePointer<Int32>?,
                     _ resp: UnsafeMutablePointer<Int32>?) -> Int32 {
    call("pvm_tickle") { _ throws(PVMError) in
        guard narg >= 1, argv != nil else { throw PVMError(.badParam, "no request") }
        throw PVMError(.notImpl, "pvmd debugging requests")
    }
}

// MARK: Options and errors

@_cdecl("pvm_setopt")
public func c_setopt(_ what: Int32, _ value: Int32) -> Int32 {
    call("pvm_setopt") { vm throws(PVMError) in try vm.setOption(what, value) }
}

@_cdecl("pvm_getopt")
public func c_getopt(_ what: Int32) -> Int32 {
    call("pvm_getopt") { vm throws(PVMError) in try vm.option(what) }
}

@_cdecl("pvm_perror")
public func c_perror(_ message: UnsafeMutablePointer<CChar>?) -> Int32 {
    let code = pvm3_errno()
    // Before the task has an id the original names it pid-1 here.
    let enrolled = (VirtualMachine.existing?.myTid.rawValue ?? 0) > 0
    let prefix = enrolled ? diagnosticPrefix() : "libpvm [pid-1]"
    writeDiagnostic("\(prefix): \(string(message) ?? ""): \(PVMError(code: code).text)")
    return 0
}

@_cdecl("pvm_strerror")
public func c_strerror() -> UnsafeMutablePointer<CChar>? {
    pvm3_error_text(pvm3_errno())
}

/// PVM's own helper that programs call directly: report `code` as `function` failing.
@_cdecl("lpvmerr")
public func c_lpvmerr(_ function: UnsafeMutablePointer<CChar>?, _ code: Int32) -> Int32 {
    report(string(function) ?? "", code: code)
}

// MARK: Tracing and system services: not part of this runtime yet

@_cdecl("pvm_settmask")
public func c_settmask(_ who: Int32, _ mask: UnsafeMutablePointer<CChar>?) -> Int32 {
    local("pvm_settmask") { () throws(PVMError) in
        guard who == 0 || who == 1, let mask else { throw PVMError(.badParam, "who \(who)") }
        // An empty mask (no event traced) is what this runtime does already.
        var i = 0
        while mask[i] != 0 {
            if mask[i] != 0x40 { throw PVMError(.notImpl, "tracing") }
            i += 1
        }
        return 0
    }
}

@_cdecl("pvm_gettmask")
public func c_gettmask(_ who: Int32, _ mask: UnsafeMutablePointer<CChar>?) -> Int32 {
    local("pvm_gettmask") { () throws(PVMError) in
        guard who == 0 || who == 1, let mask else { throw PVMError(.badParam, "who \(who)") }
        // No event is traced: 35 characters '@' (no bit set) and a NUL.
        for i in 0..<35 { mask[i] = 0x40 }
        mask[35] = 0
        return 0
    }
}

@_cdecl("pvm_reg_tracer")
public func c_reg_tracer(_ tctx: Int32, _ ttag: Int32, _ octx: Int32, _ otag: Int32,
                         _ mask: UnsafeMutablePointer<CChar>?, _ tbuf: Int32, _ topt: Int32) -> Int32 {
    local("pvm_reg_tracer") { () throws(PVMError) in throw PVMError(.notImpl, "tracers") }
}

@_cdecl("pvm_reg_rm")
public func c_reg_rm(_ hip: UnsafeMutablePointer<UnsafeMutablePointer<pvmhostinfo>?>?) -> Int32 {
    local("pvm_reg_rm") { () throws(PVMError) in throw PVMError(.notImpl, "resource managers") }
}

@_cdecl("pvm_reg_hoster")
public func c_reg_hoster() -> Int32 {
    local("pvm_reg_hoster") { () throws(PVMError) in throw PVMError(.notImpl, "hosters") }
}

@_cdecl("pvm_reg_tasker")
public func c_reg_tasker() -> Int32 {
    local("pvm_reg_tasker") { () throws(PVMError) in throw PVMError(.notImpl, "taskers") }
}

// MARK: Contexts

@_cdecl("pvm_newcontext")
public func c_newcontext() -> Int32 {
    call("pvm_newcontext") { vm throws(PVMError) in try vm.newContext() }
}

@_cdecl("pvm_setcontext")
public func c_setcontext(_ ctx: Int32) -> Int32 {
    call("pvm_setcontext") { vm in
        let old = vm.setContext(ctx)
        pvm3_set_context(vm.context)
        return old
    }
}

@_cdecl("pvm_getcontext")
public func c_getcontext() -> Int32 {
    call("pvm_getcontext") { vm in
        pvm3_set_context(vm.context)
        return vm.context
    }
}

@_cdecl("pvm_freecontext")
public func c_freecontext(_ ctx: Int32) -> Int32 {
    call("pvm_freecontext") { vm throws(PVMError) in try vm.freeContext(ctx); return 0 }
}

// MARK: PVM's helpers that packaged programs import

@_cdecl("pvmsleep")
public func c_pvmsleep(_ seconds: Int32) -> Int32 {
    sleep(UInt32(max(0, seconds)))
    return 0
}

@_cdecl("pvmgetclock")
public func c_pvmgetclock(_ tv: UnsafeMutablePointer<timeval>?) -> Int32 {
    guard let tv else { return -1 }
    return gettimeofday(tv, nil)
}

@_cdecl("pvmlogerror")
public func c_pvmlogerror(_ text: UnsafeMutablePointer<CChar>?) -> Int32 {
    var line = "\(diagnosticPrefix()) \(string(text) ?? "")"
    if line.hasSuffix("\n") { line.removeLast() }
    writeDiagnostic(line)
    return 0
}

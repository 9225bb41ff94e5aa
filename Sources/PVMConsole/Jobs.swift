/// A `spawn ->` job: the tasks of one spawn whose output comes to the
/// console. Its number is what the user sees (`[1]`); its tag is the
/// PvmOutputCode the children were spawned with, the tag of their output
/// messages.
final class Job {
    let tag: Int32
    let number: Int32
    /// Where the job's lines go: the console, or the file of `->file`.
    let sink: OutputChannel?
    /// The job's tasks by tid, each with its output not yet printed.
    var tasks: [Int32: TaskOutput] = [:]

    init(tag: Int32, number: Int32, sink: OutputChannel?) {
        self.tag = tag
        self.number = number
        self.sink = sink
    }

    struct TaskOutput {
        var partial: [UInt8] = []
        var started = false
        var ended = false
    }
}

/// The body of an output message from the daemon: native byte order,
/// 32-bit task id, 32-bit length, then that many bytes of output. A length
/// of 0 means end of output, -1 that the task was spawned (PVM's TO_EOF,
/// TO_SPAWN; -2, TO_NEW, a task that joined the job).
struct OutputMessage {
    var tid: Int32
    var length: Int32
    var data: [UInt8]

    init?(_ body: [UInt8]) {
        guard body.count >= 8 else { return nil }
        func int(_ at: Int) -> Int32 {
            var v: UInt32 = 0
            for k in 0..<4 { v |= UInt32(body[at + k]) << (8 * UInt32(k)) }
            return Int32(bitPattern: v)  // the daemon writes little-endian (ControlWriter)
        }
        tid = int(0)
        length = int(4)
        data = length > 0 ? Array(body[8..<min(body.count, 8 + Int(length))]) : []
    }
}

extension Console {
    /// Prints (or writes to the job's file) what one output message says,
    /// PVM's way: `[job:tid] line` per complete line, a last partial line
    /// and `[job:tid] EOF` when the task's output ends, `[job] finished`
    /// once every task of the job has ended. With PvmShowTids 0 the lines
    /// come without prefixes and the EOF line is left out.
    func jobOutput(_ job: Job, _ m: OutputMessage) {
        let show = ((try? vm.option(PVMOption.showTids.rawValue)) ?? 1) != 0
        let sink = job.sink ?? out
        let prefix = "[\(job.number):\(TaskID(m.tid))] "
        func emit(_ bytes: ArraySlice<UInt8>) {
            if show { sink.write(prefix) }
            sink.write(bytes: bytes)
            sink.write("\n")
        }
        switch m.length {
        case 1...:
            guard var t = job.tasks[m.tid] else {
                out.line("Bogus message, job \(job.number) has no task \(TaskID(m.tid))")
                return
            }
            t.partial.append(contentsOf: m.data)
            while let nl = t.partial.firstIndex(of: 10) {
                emit(t.partial[..<nl])
                t.partial.removeSubrange(...nl)
            }
            job.tasks[m.tid] = t
        case 0:
            guard var t = job.tasks[m.tid] else {
                out.line("Bogus message, job \(job.number) has no task \(TaskID(m.tid))")
                return
            }
            if !t.partial.isEmpty {
                emit(t.partial[...])
                t.partial.removeAll()
            }
            t.ended = true
            job.tasks[m.tid] = t
            if t.started { taskEnded(job, m.tid, show: show) }
        case -1:
            var t = job.tasks[m.tid] ?? Job.TaskOutput()
            t.started = true
            job.tasks[m.tid] = t
            if t.ended { taskEnded(job, m.tid, show: show) }
        case -2:
            if job.tasks[m.tid] == nil { job.tasks[m.tid] = Job.TaskOutput() }
        default:
            out.line("Bogus message from job \(job.number) task \(TaskID(m.tid))")
        }
        sink.flush()
    }

    private func taskEnded(_ job: Job, _ tid: Int32, show: Bool) {
        let sink = job.sink ?? out
        if show { sink.line("[\(job.number):\(TaskID(tid))] EOF") }
        job.tasks.removeValue(forKey: tid)
        if job.tasks.isEmpty {
            sink.flush()
            out.line("[\(job.number)] finished")
            endJob(job)
        }
    }

    func endJob(_ job: Job) {
        jobs.removeAll { $0 === job }
        job.sink?.close()
    }

    /// Takes in the output messages that have arrived for every job and
    /// prints them. Throws when the daemon is gone.
    func collectOutput() throws(PVMError) {
        for job in jobs {
            while jobs.contains(where: { $0 === job }) {
                let id = try vm.receive(from: -1, tag: job.tag, timeoutNanoseconds: 0)
                if id == 0 { break }
                let buffer = try vm.buffer(id)
                let body = (try? buffer.unpack(UInt8.self, count: buffer.byteCount)) ?? []
                try? vm.freeBuffer(id)
                if let m = OutputMessage(body) { jobOutput(job, m) }
            }
        }
    }
}

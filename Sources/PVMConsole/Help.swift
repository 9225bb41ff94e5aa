/// The console's commands: how many words each takes (the command name
/// included; a maximum of 0 means no limit) and what `help` says of it.
struct CommandSpec {
    let name: String
    let minWords: Int
    let maxWords: Int
    let summary: String
    let details: [String]

    /// `help`'s first line for the command: its name in a 12-character
    /// column, then the summary.
    var headline: String { Columns.left(name, 12) + summary }
}

extension CommandSpec {
    /// Every command, in `help`'s order.
    static let all: [CommandSpec] = [
        CommandSpec(name: "add", minWords: 2, maxWords: 0, summary: "Add hosts to virtual machine", details: [
            "Syntax:  add hostname ...",
            "  or     add 'hostname <option>=<value>...' ...",
            "(One-host virtual machines only, for now: every host is refused.)",
        ]),
        CommandSpec(name: "alias", minWords: 1, maxWords: 0, summary: "Define/list command aliases", details: [
            "Syntax:  alias [name command args ...]",
        ]),
        CommandSpec(name: "conf", minWords: 1, maxWords: 1, summary: "List virtual machine configuration", details: [
            "Syntax:  conf",
            "Output fields:",
            "  HOST    host name",
            "  DTID    tid base of pvmd",
            "  ARCH    host architecture",
            "  SPEED   host relative speed",
            "  DSIG    data signature (native data formats)",
            "  FABRIC  task data between hosts: tcp, or the host's active RDMA port (not PVM's)",
        ]),
        CommandSpec(name: "delete", minWords: 2, maxWords: 0, summary: "Delete hosts from virtual machine", details: [
            "Syntax:  delete hostname ...",
        ]),
        CommandSpec(name: "echo", minWords: 1, maxWords: 0, summary: "Echo arguments", details: [
            "Syntax:  echo [ arg ... ]",
        ]),
        CommandSpec(name: "export", minWords: 1, maxWords: 0, summary: "Add environment variables to spawn export list", details: [
            "Syntax:  export [ varname ... ]",
        ]),
        CommandSpec(name: "getopt", minWords: 1, maxWords: 2, summary: "Display PVM options for the console task", details: [
            "Syntax:  getopt [ what ]",
        ]),
        CommandSpec(name: "halt", minWords: 1, maxWords: 1, summary: "Stop pvmds", details: [
            "Syntax:  halt",
        ]),
        CommandSpec(name: "help", minWords: 1, maxWords: 2, summary: "Print helpful information about a command", details: [
            "Syntax:  help [ command ]",
        ]),
        CommandSpec(name: "id", minWords: 1, maxWords: 1, summary: "Print console task id", details: [
            "Syntax:  id",
        ]),
        CommandSpec(name: "jobs", minWords: 1, maxWords: 2, summary: "Display list of running jobs", details: [
            "Syntax:  jobs [ options ]",
            "Options:  -l   give long listing",
        ]),
        CommandSpec(name: "kill", minWords: 2, maxWords: 0, summary: "Terminate tasks", details: [
            "Syntax:  kill [ options ] tid ...",
            "Options:  -c   kill children of tid",
        ]),
        CommandSpec(name: "mstat", minWords: 2, maxWords: 0, summary: "Show status of hosts", details: [
            "Syntax:  mstat name ...",
        ]),
        CommandSpec(name: "names", minWords: 1, maxWords: 2, summary: "List message mailbox names", details: [
            "Syntax:  names [ pattern ]",
        ]),
        CommandSpec(name: "ps", minWords: 1, maxWords: 0, summary: "List tasks", details: [
            "Syntax:  ps [ -axhl ]",
            "Options:  -a       all hosts (default is local)",
            "          -hhost   specific host tid",
            "          -nhost   specific host name",
            "          -l       long (show parent task id and process id)",
            "          -x       show all tasks (e.g. console and nulls)",
            "Output fields:",
            "  HOST    host name",
            "  TID     task id",
            "  PTID    parent task id",
            "  PID     task process id",
            "  FLAG    status",
            "  COMMAND executable name",
            "FLAG values:",
            "  f   task process is child of pvmd",
            "  c   task connected to pvmd",
            "  a   task waiting authorization",
            "  o   task connection being closed",
            "  s   task needs too many shared pages, is deadlocked",
            "  H   hoster task",
            "  R   resource manager task",
            "  T   tasker task",
        ]),
        CommandSpec(name: "pstat", minWords: 2, maxWords: 0, summary: "Show status of tasks", details: [
            "Syntax:  pstat tid ...",
        ]),
        CommandSpec(name: "put", minWords: 4, maxWords: 4, summary: "Add entry to message mailbox", details: [
            "Syntax:  put name flags data",
        ]),
        CommandSpec(name: "quit", minWords: 1, maxWords: 1, summary: "Exit console", details: [
            "Syntax:  quit",
        ]),
        CommandSpec(name: "reset", minWords: 1, maxWords: 4, summary: "Kill all tasks, delete leftover mboxes", details: [
            "Syntax:  reset",
            "         reset info [ class [ index ] ]   (delete orphaned persistent mbox entries)",
        ]),
        CommandSpec(name: "setenv", minWords: 1, maxWords: 0, summary: "Display or set environment variables", details: [
            "Syntax:  setenv [ name [ value ] ]",
        ]),
        CommandSpec(name: "setopt", minWords: 3, maxWords: 3, summary: "Set PVM options - for the console task *only*!", details: [
            "Syntax:  setopt what value",
        ]),
        CommandSpec(name: "sig", minWords: 3, maxWords: 0, summary: "Send signal to task", details: [
            "Syntax:  sig signum task ...",
        ]),
        CommandSpec(name: "spawn", minWords: 2, maxWords: 0, summary: "Spawn task", details: [
            "Syntax:  spawn [ options ] file [ arg ... ]",
            "Options:  -(count)         number of tasks, default is 1",
            "          -(host)          spawn on host, default is any",
            "          -(host):(wd)     spawn on host, in directory 'wd'",
            "          --host=(IP)      spawn on host with given IP addr",
            "          --host=(IP):(wd) spawn on IP, in directory 'wd'",
            "          -(ARCH)          spawn on hosts of ARCH",
            "          -(ARCH):(wd)     spawn on hosts of ARCH, in 'wd'",
            "          -:(wd)           spawn in working directory 'wd'",
            "          -?               enable debugging",
            "          ->               redirect job output to console",
            "          ->(file)         redirect output of job to file",
            "          ->>(file)        append output of job to file",
            "          -@               trace job, output to terminal (not implemented yet)",
            "          -@(file)         trace job, output to file (not implemented yet)",
        ]),
        CommandSpec(name: "trace", minWords: 1, maxWords: 0, summary: "Set/display trace event mask", details: [
            "Syntax:  trace",
            "         trace [+] name ...",
            "         trace - name ...",
            "         trace [+] *",
            "         trace - *",
            "         trace xpvm (default mask for XPVM display)",
            "         trace buf nbytes",
            "         trace buf",
            "         trace opt < full | time | count >",
            "         trace opt",
            "(Tracing is not implemented yet.)",
        ]),
        CommandSpec(name: "unalias", minWords: 2, maxWords: 0, summary: "Undefine command alias", details: [
            "Syntax:  unalias name ...",
        ]),
        CommandSpec(name: "unexport", minWords: 1, maxWords: 0, summary: "Remove environment variables from spawn export list", details: [
            "Syntax:  unexport [ varname ... ]",
        ]),
        CommandSpec(name: "version", minWords: 1, maxWords: 1, summary: "Show libpvm version", details: [
            "Syntax:  version",
        ]),
    ]

    static func named(_ name: String) -> CommandSpec? { all.first { $0.name == name } }
}

/// PVM's options by name, as `getopt` and `setopt` take them (position
/// + 1 is the option's number; 19 and 20, the poll options of
/// multiprocessor builds, have no name on this architecture).
enum OptionNames {
    static let all: [String] = [
        "PvmRoute", "PvmDebugMask", "PvmAutoErr", "PvmOutputTid", "PvmOutputCode", "PvmTraceTid",
        "PvmTraceCode", "PvmTraceBuffer", "PvmTraceOptions", "PvmFragSize", "PvmResvTids",
        "PvmSelfOutputTid", "PvmSelfOutputCode", "PvmSelfTraceTid", "PvmSelfTraceCode",
        "PvmSelfTraceBuffer", "PvmSelfTraceOptions", "PvmShowTids", "", "",
        "PvmOutputContext", "PvmTraceContext", "PvmSelfOutputContext", "PvmSelfTraceContext", "PvmNoReset",
    ]

    static func number(_ name: String) -> Int32? {
        guard !name.isEmpty, let i = all.firstIndex(of: name) else { return nil }
        return Int32(i + 1)
    }
}

import Foundation
@testable import PVMConsole
import PVMTestSupport
import XCTest

/// The built `pvm` console against a private virtual machine: a real
/// process, scripted through its standard input, checked on what it prints.
final class ConsoleTests: XCTestCase {
    var fixture: VirtualMachineFixture!
    var sessions: [ConsoleSession] = []

    override func setUp() {
        fixture = VirtualMachineFixture()
    }

    override func tearDown() {
        for s in sessions where s.process.isRunning {
            s.closeInput()
            s.finish(timeout: 5)
        }
        sessions = []
        XCTAssertTrue(fixture.halt(), "the daemon did not halt cleanly")
    }

    /// The environment of the test's virtual machine (HOME too, so no real
    /// ~/.pvmrc is read and spawned tasks start in the test's folder).
    var environment: [String: String] {
        ["PVM_TMP": fixture.base, "PVM_PATH": TestProducts.directory.path,
         "PVM_DPATH": TestProducts.executable("pvmd").path, "HOME": fixture.base]
    }

    /// A console at its first prompt, on host `testhost` (the daemon it starts is named so).
    func startConsole(_ arguments: [String] = ["-n", "testhost"]) throws -> ConsoleSession {
        let s = try ConsoleSession(arguments: arguments, environment: environment)
        sessions.append(s)
        XCTAssertNotNil(s.wait(for: ConsoleSession.prompt), "no prompt; stderr: \(s.stderr)")
        return s
    }

    func lines(_ text: String?) -> [String] {
        (text ?? "").components(separatedBy: "\n")
    }

    // MARK: Start, quit, end of input

    func testConsoleStartsDaemonSilentlyAndQuitLeavesItRunning() throws {
        let first = try startConsole()
        XCTAssertEqual(first.stdout, ConsoleSession.prompt, "a console that starts the daemon says nothing before its prompt")
        XCTAssertEqual(first.command("id"), "t40001\n" + ConsoleSession.prompt)
        XCTAssertEqual(first.command("version"), "3.4.6\n" + ConsoleSession.prompt)
        first.send("quit")
        let end = first.finish()
        XCTAssertEqual(end.status, 0)
        XCTAssertTrue(end.stdout.hasSuffix("pvm> quit\n\nConsole: exit handler called\npvmd still running.\n"), end.stdout)
        let daemon = try XCTUnwrap(fixture.daemonPID)
        XCTAssertTrue(VirtualMachineFixture.alive(daemon), "quit stopped the daemon")

        let second = try startConsole()
        XCTAssertEqual(second.stdout, "pvmd already running.\n" + ConsoleSession.prompt)
        XCTAssertEqual(second.command("id"), "t40002\n" + ConsoleSession.prompt, "task ids go on increasing")
        second.closeInput()
        let eof = second.finish()
        XCTAssertEqual(eof.status, 0)
        XCTAssertTrue(eof.stdout.hasSuffix("pvm> quit\n\nConsole: exit handler called\npvmd still running.\n"), eof.stdout)
        XCTAssertTrue(VirtualMachineFixture.alive(daemon), "the end of input stopped the daemon")
    }

    /// A console typed as `pvm` (found on PATH, no PVM_DPATH) starts the
    /// pvmd beside it, even from a folder whose ../bin holds another pvmd
    /// (as /tmp's ../bin holds the original PVM's on Debian): the daemon
    /// was once looked for relative to the name the program was started by.
    func testConsoleStartedFromPATHStartsThePvmdBesideIt() throws {
        let work = URL(fileURLWithPath: fixture.base).appendingPathComponent("work")
        let bin = URL(fileURLWithPath: fixture.base).appendingPathComponent("bin")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
        let decoy = bin.appendingPathComponent("pvmd")
        let marker = fixture.base + "/decoy-ran"
        try "#!/bin/sh\ntouch \(marker)\nexit 3\n".write(to: decoy, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: decoy.path)
        var env = environment
        env["PVM_DPATH"] = ""
        env["PATH"] = TestProducts.directory.path + ":/usr/bin:/bin"
        let s = try ConsoleSession(arguments: ["-n", "testhost"], environment: env, viaPath: true, directory: work)
        sessions.append(s)
        let prompted = s.wait(for: ConsoleSession.prompt) != nil
        XCTAssertFalse(FileManager.default.fileExists(atPath: marker), "the console ran ../bin/pvmd of its working folder")
        guard prompted else { return XCTFail("no prompt; stderr: \(s.stderr)") }
        XCTAssertEqual(s.command("version"), "3.4.6\n" + ConsoleSession.prompt)
        let daemon = try XCTUnwrap(fixture.daemonPID)
        let exe = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(daemon)/exe")
        XCTAssertEqual(URL(fileURLWithPath: exe).resolvingSymlinksInPath().path,
                       TestProducts.executable("pvmd").resolvingSymlinksInPath().path)
    }

    // MARK: The machine

    func testConsoleConfAndMstatUsePVMsColumns() throws {
        let s = try startConsole()
        XCTAssertEqual(lines(s.command("conf")), [
            "1 host, 1 data format",
            "                    HOST     DTID     ARCH   SPEED       DSIG  FABRIC",
            "                testhost    40000  LINUX64    1000 0x00408c41  tcp",
            ConsoleSession.prompt,
        ])
        XCTAssertEqual(lines(s.command("mstat testhost nosuchhost")), [
            "                testhost  ok",
            "              nosuchhost  No such host",
            ConsoleSession.prompt,
        ])
    }

    func testConsoleHaltStopsDaemonAndTasksAndRemovesRuntimeDirectory() throws {
        let s = try startConsole()
        let spawned = try XCTUnwrap(s.command("spawn pvm-test-task sleep 30"))
        let tid = try XCTUnwrap(ConsoleSession.tids(in: spawned).first)
        let pid = try XCTUnwrap(taskPID(s, tid))
        let daemon = try XCTUnwrap(fixture.daemonPID)
        s.send("halt")
        let end = s.finish()
        XCTAssertEqual(end.status, 0, "halt ends the console with status 0 once the daemon is gone; stderr: \(end.stderr)")
        XCTAssertTrue(end.stdout.hasSuffix("pvm> halt\n"), "halt prints nothing: \(end.stdout)")
        XCTAssertFalse(FileManager.default.fileExists(atPath: fixture.runtimeDirectory), "the runtime directory is still there")
        XCTAssertTrue(VirtualMachineFixture.eventually(timeout: 5) { !VirtualMachineFixture.alive(daemon) }, "the daemon still runs")
        XCTAssertTrue(VirtualMachineFixture.eventually(timeout: 5) { !VirtualMachineFixture.alive(pid) }, "the spawned task still runs")
    }

    // MARK: Spawn and jobs

    func testConsoleSpawnRedirectsOutputToTheConsoleAsAJob() throws {
        let s = try startConsole()
        let mark = s.stdout.endIndex
        let reply = try XCTUnwrap(s.command("spawn -> pvm-test-task print"))
        let tid = try XCTUnwrap(ConsoleSession.tids(in: reply).first)
        XCTAssertTrue(reply.hasPrefix("[1]\n1 successful\n\(tid)\n"), reply)
        let all = try XCTUnwrap(s.wait(for: "[1] finished\n", from: mark), "no '[1] finished': \(s.stdout)")
        let job = lines(all).map { $0.hasPrefix(ConsoleSession.prompt) ? String($0.dropFirst(ConsoleSession.prompt.count)) : $0 }
            .filter { $0.hasPrefix("[1") }
        XCTAssertEqual(job, [
            "[1]",
            "[1:\(tid)] line one from \(tid)",
            "[1:\(tid)] line two",
            "[1:\(tid)] partial",
            "[1:\(tid)] EOF",
            "[1] finished",
        ])
        XCTAssertEqual(s.command("jobs"), ConsoleSession.prompt, "a finished job is no longer listed")
    }

    func testConsoleJobsListsRunningJobAndKillEndsIt() throws {
        let s = try startConsole()
        let reply = try XCTUnwrap(s.command("spawn -2 -> pvm-test-task sleep 30"))
        let tids = ConsoleSession.tids(in: reply)
        XCTAssertEqual(tids.count, 2, reply)
        XCTAssertTrue(reply.hasPrefix("[1]\n2 successful\n"), reply)
        XCTAssertEqual(s.command("jobs"), " 1: \(tids[0]) \(tids[1])\n" + ConsoleSession.prompt)
        let mark = s.stdout.endIndex
        // kill prints nothing itself; the job's EOF lines may follow its prompt at once.
        XCTAssertEqual(s.command("kill \(tids[0]) \(tids[1])")?.hasPrefix(ConsoleSession.prompt), true, "kill is silent")
        let after = try XCTUnwrap(s.wait(for: "[1] finished\n", from: mark), s.stdout)
        XCTAssertTrue(after.contains("[1:\(tids[0])] EOF\n"), after)
        XCTAssertTrue(after.contains("[1:\(tids[1])] EOF\n"), after)
    }

    func testConsoleSpawnFailuresAndCommandErrors() throws {
        let s = try startConsole()
        XCTAssertEqual(s.command("spawn no-such-program"), "0 successful\nNo such file\n" + ConsoleSession.prompt)
        XCTAssertEqual(s.command("spawn -2 -> no-such-program"), "[1]\n0 successful\nNo such file\nNo such file\n" + ConsoleSession.prompt)
        XCTAssertEqual(s.command("jobs"), ConsoleSession.prompt, "a job that started nothing is dropped")
        XCTAssertEqual(s.command("spawn"), "spawn: wrong #args\n" + ConsoleSession.prompt)
        XCTAssertEqual(s.command("spawn -3"), "incorrect arg count\n" + ConsoleSession.prompt)
        XCTAssertEqual(s.command("bogus"), "bogus: not found\n" + ConsoleSession.prompt)
        XCTAssertEqual(s.command("pstat"), "pstat: wrong #args\n" + ConsoleSession.prompt)
        XCTAssertEqual(s.command("echo 'unterminated"), "unmatched '\n" + ConsoleSession.prompt)
        XCTAssertEqual(s.command("   # only a comment"), ConsoleSession.prompt)
    }

    // MARK: Tasks

    func testConsolePsPstatAndKillOfASleepingTask() throws {
        let s = try startConsole()
        let reply = try XCTUnwrap(s.command("spawn -2 pvm-test-task sleep 30"))
        XCTAssertTrue(reply.hasPrefix("2 successful\n"), reply)
        let tids = ConsoleSession.tids(in: reply)
        XCTAssertEqual(tids.count, 2)
        let hex = tids.map { String($0.dropFirst()) }
        let rows = tids.indices.map { "                testhost " + String(repeating: " ", count: 8 - hex[$0].count) + hex[$0] + "     6/c,f pvm-test-task" }
        XCTAssertTrue(VirtualMachineFixture.eventually {
            self.lines(s.command("ps -a")) == ["                    HOST      TID   FLAG 0x COMMAND"] + rows + [ConsoleSession.prompt]
        }, "ps -a: \(s.stdout)")
        let all = lines(s.command("ps -x"))
        XCTAssertEqual(all.first, "                    HOST      TID   FLAG 0x COMMAND")
        XCTAssertTrue(all.contains { $0.hasPrefix("                testhost   (cons)       4/c ") }, "ps -x shows the console: \(all)")
        let long = lines(s.command("ps -l"))
        XCTAssertEqual(long.first, "                    HOST      TID     PTID    PID   FLAG 0x COMMAND")
        XCTAssertTrue(long.dropFirst().first?.contains(" ffffffdd ") == true, "the console spawns with PvmNoSpawnParent (-35): \(long)")
        let pid = try XCTUnwrap(taskPID(s, tids[0]))

        XCTAssertEqual(lines(s.command("pstat \(tids[0]) t40fff")), [
            "t" + String(repeating: " ", count: 8 - hex[0].count) + hex[0] + "  run",
            "t   40fff  No such task",
            ConsoleSession.prompt,
        ])
        XCTAssertEqual(s.command("kill \(tids[0])"), ConsoleSession.prompt)
        XCTAssertTrue(VirtualMachineFixture.eventually {
            self.lines(s.command("ps")) == ["                    HOST      TID   FLAG 0x COMMAND", rows[1], ConsoleSession.prompt]
        }, "ps after kill: \(s.stdout)")
        XCTAssertTrue(VirtualMachineFixture.eventually(timeout: 5) { !VirtualMachineFixture.alive(pid) })
        XCTAssertTrue(s.command("pstat \(tids[0])")?.hasSuffix("  No such task\n" + ConsoleSession.prompt) == true)
        XCTAssertEqual(s.command("kill t40001"), "t40001: that's me.\n" + ConsoleSession.prompt)
    }

    func testConsoleSigAndResetEndTasksButNotTheConsole() throws {
        let s = try startConsole()
        let reply = try XCTUnwrap(s.command("spawn -3 pvm-test-task sleep 30"))
        let tids = ConsoleSession.tids(in: reply)
        XCTAssertEqual(tids.count, 3, reply)
        let pids = try tids.map { try XCTUnwrap(taskPID(s, $0)) }
        XCTAssertEqual(s.command("sig 9 \(tids[0])"), ConsoleSession.prompt, "sig is silent")
        XCTAssertTrue(VirtualMachineFixture.eventually(timeout: 5) { !VirtualMachineFixture.alive(pids[0]) }, "SIGKILL did not reach the task")
        XCTAssertTrue(VirtualMachineFixture.alive(pids[1]))
        XCTAssertEqual(s.command("reset"), ConsoleSession.prompt)
        XCTAssertTrue(VirtualMachineFixture.eventually(timeout: 5) { !pids.contains(where: VirtualMachineFixture.alive) }, "reset left tasks running")
        XCTAssertTrue(VirtualMachineFixture.eventually {
            self.lines(s.command("ps -a")) == ["                    HOST      TID   FLAG 0x COMMAND", ConsoleSession.prompt]
        }, "ps -a after reset: \(s.stdout)")
        XCTAssertEqual(s.command("id"), "t40001\n" + ConsoleSession.prompt, "reset kept the console")
        XCTAssertEqual(s.command("reset bogus"), "\"bogus\" arg to reset not valid\n" + ConsoleSession.prompt)
    }

    // MARK: Settings

    func testConsoleReadsPvmrcAndExpandsAliases() throws {
        try "alias say echo said\nsay hello\n".write(toFile: fixture.base + "/.pvmrc", atomically: true, encoding: .utf8)
        let s = try startConsole()
        XCTAssertEqual(s.stdout, "alias say echo said\nsay hello\nsaid hello\n" + ConsoleSession.prompt)
        XCTAssertEqual(s.command("alias"), "say\techo said\n" + ConsoleSession.prompt)
        XCTAssertEqual(s.command("say it twice"), "said it twice\n" + ConsoleSession.prompt)
        XCTAssertEqual(s.command("unalias say"), ConsoleSession.prompt)
        XCTAssertEqual(s.command("say"), "say: not found\n" + ConsoleSession.prompt)
        let help = try XCTUnwrap(s.command("help"))
        XCTAssertTrue(help.hasPrefix("help        Print helpful information about a command\nSyntax:  help [ command ]\nCommands are:\n"), help)
        XCTAssertTrue(help.contains("\n  spawn       Spawn task\n"), help)
        XCTAssertTrue(s.command("help kill")?.hasPrefix("kill        Terminate tasks\nSyntax:  kill [ options ] tid ...\n") == true)
    }

    func testConsoleExportSetenvAndOptionsReachSpawnedTasks() throws {
        let s = try startConsole()
        XCTAssertEqual(s.command("export"), "PVM_EXPORT=\n" + ConsoleSession.prompt)
        XCTAssertEqual(s.command("export PVMTEST_A PVMTEST_B PVMTEST_A"), ConsoleSession.prompt)
        XCTAssertEqual(s.command("unexport PVMTEST_B"), ConsoleSession.prompt)
        XCTAssertEqual(s.command("export"), "PVM_EXPORT=PVMTEST_A\n" + ConsoleSession.prompt)
        XCTAssertEqual(s.command("setenv PVMTEST_A one two"), ConsoleSession.prompt)
        XCTAssertEqual(s.command("setenv PVMTEST_A"), "one two\n" + ConsoleSession.prompt)
        XCTAssertEqual(s.command("getopt PvmRoute"), "PvmRoute Currently Set to 1\n" + ConsoleSession.prompt)
        XCTAssertEqual(s.command("getopt PvmNoReset"), "PvmNoReset Currently Set to 1\n" + ConsoleSession.prompt)
        XCTAssertEqual(s.command("getopt PvmBogus"), "PVM Option \"PvmBogus\" Unknown.\n" + ConsoleSession.prompt)

        // An exported variable reaches the child (env is not a PVM task: its output is captured all the same).
        var mark = s.stdout.endIndex
        XCTAssertNotNil(s.command("spawn -> /usr/bin/env"))
        let env = try XCTUnwrap(s.wait(for: "[1] finished\n", from: mark), s.stdout)
        XCTAssertTrue(env.contains(":t") && env.contains("] PVMTEST_A=one two\n"), env)
        XCTAssertFalse(env.contains("PVMTEST_B="), env)

        // PvmShowTids 0: the job's lines come bare, without EOF lines.
        XCTAssertEqual(s.command("setopt PvmShowTids 0"), "PvmShowTids Changed from 1 to 0\n" + ConsoleSession.prompt)
        mark = s.stdout.endIndex
        XCTAssertNotNil(s.command("spawn -> pvm-test-task print"))
        let bare = try XCTUnwrap(s.wait(for: "[2] finished\n", from: mark), s.stdout)
        XCTAssertTrue(bare.contains("line one from t4"), bare)
        XCTAssertFalse(bare.contains("[2:t"), bare)
    }

    func testConsoleSpawnOutputToAFile() throws {
        let s = try startConsole()
        let path = fixture.base + "/job.out"
        let mark = s.stdout.endIndex
        let reply = try XCTUnwrap(s.command("spawn ->\(path) pvm-test-task print"))
        let tid = try XCTUnwrap(ConsoleSession.tids(in: reply).first)
        XCTAssertNotNil(s.wait(for: "[1] finished\n", from: mark), s.stdout)
        XCTAssertFalse(s.stdout.contains("line one"), "the job's lines went to the console")
        let text = try String(contentsOfFile: path, encoding: .utf8)
        XCTAssertEqual(text, "[1:\(tid)] line one from \(tid)\n[1:\(tid)] line two\n[1:\(tid)] partial\n[1:\(tid)] EOF\n")
        XCTAssertEqual(s.command("spawn ->\(path) pvm-test-task print"), "[2]\n" + ConsoleSession.prompt, "->file never overwrites")
        XCTAssertTrue(s.stderr.contains("\(path): File exists"), s.stderr)
    }

    /// The pid `ps -l` shows for `tid`.
    func taskPID(_ s: ConsoleSession, _ tid: String) -> Int32? {
        var pid: Int32? = nil
        _ = VirtualMachineFixture.eventually {
            for row in self.lines(s.command("ps -l")) {
                let columns = row.split(separator: " ")
                if columns.count >= 6, columns[1] == tid.dropFirst(), columns[4].contains("c") { pid = Int32(columns[3]) }
            }
            return pid != nil
        }
        return pid
    }
}

/// The console's pieces that need no virtual machine.
final class ConsoleWordsTests: XCTestCase {
    func testConsoleSplitsWordsLikePVM() {
        XCTAssertEqual(try ConsoleWords.split("  spawn -4  -> spmd ").get(), ["spawn", "-4", "->", "spmd"])
        XCTAssertEqual(try ConsoleWords.split("echo 'a  b' \"c d\" e\\ f x'y'z").get(), ["echo", "a  b", "c d", "e f", "xyz"])
        XCTAssertEqual(try ConsoleWords.split("echo hi # a comment").get(), ["echo", "hi"])
        XCTAssertEqual(try ConsoleWords.split("echo a#b").get(), ["echo", "a#b"])
        XCTAssertEqual(try ConsoleWords.split("").get(), [])
        XCTAssertEqual(ConsoleWords.split("echo \"open"), .failure(.unmatched("\"")))
        XCTAssertEqual(ConsoleWords.split(Array(repeating: "w", count: 128).joined(separator: " ")), .failure(.tooManyWords))
    }

    func testConsoleReadsNumbersLikePVM() {
        XCTAssertEqual(ConsoleWords.taskID("t40002"), 0x40002)
        XCTAssertEqual(ConsoleWords.taskID("40002"), 0x40002)
        XCTAssertEqual(ConsoleWords.taskID("t4000g"), 0x4000)
        XCTAssertEqual(ConsoleWords.taskID("xyz"), 0)
        XCTAssertEqual(ConsoleWords.taskID("tffffffdd"), -35)
        XCTAssertEqual(ConsoleWords.integer(" -15x"), -15)
        XCTAssertEqual(ConsoleWords.integer("abc"), 0)
        XCTAssertEqual(ConsoleWords.cInteger("0x1f"), 31)
        XCTAssertEqual(ConsoleWords.cInteger("017"), 15)
        XCTAssertEqual(ConsoleWords.cInteger("17"), 17)
    }

    func testConsoleFormatsTaskFlagsLikePs() {
        XCTAssertEqual(Columns.taskFlags(0x6), "6/c,f")
        XCTAssertEqual(Columns.taskFlags(0x4), "4/c")
        XCTAssertEqual(Columns.taskFlags(0x104), "104/R,c")
        XCTAssertEqual(Columns.taskFlags(0x40), "40")
        XCTAssertEqual(Columns.taskFlags(0), "0")
        XCTAssertEqual(Columns.right("vm", 5) + "|" + Columns.left("ab", 4) + "|", "   vm|ab  |")
        XCTAssertEqual(Columns.hex8(0x408c41), "00408c41")
    }
}

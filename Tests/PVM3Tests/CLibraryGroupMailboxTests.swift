import Foundation
import XCTest

/// The mailbox's finer points (Tests/PVM3Tests/C/mboxdetails.c): which
/// errors print, indices with PvmMboxMultiInstance and a direct index,
/// deletes of one exact index, pvm_getmboxinfo's order and matching, the
/// buffer pvm_recvinfo makes and the one it frees, orphans, the no-reset
/// class and PVM 3.3's insert/lookup/delete. The expected output is the
/// original PVM 3.4.6's (`PVM_TEST_ORIGINAL=1` runs it there).
final class CLibraryGroupMailboxTests: CLibraryTestCase {
    func testCLibraryMailboxDetails() throws {
        let run = try buildAndRun("mboxdetails")
        assertOutput(run, Self.expected)
        assertStderr(run, Self.expectedStderr)
    }

    /// Debian's mailbox examples, unchanged, on our library as on the
    /// original: `lmbi` puts persistent MultiInstance entries and exits,
    /// `gmbi` lists the orphans (owner t0), `rme` may not delete them
    /// ("Key locked by another task") and finds no index 3. Their output
    /// is compared whole (task ids included: each run is a fresh machine).
    func testCLibraryRunsDebiansMailboxExamples() throws {
        let runs: [(String, [String], Int32, String)] = [
            ("lmbi", ["2", "pm", "e"], 0, """
                lmbi: sending <pm> to set_flags.
                lmbi: create 2 mailbox instances with flags set to <3> : <PvmMboxMultiInstance PvmMboxPersistent >.
                lmbi: t40001 on machine <vm> with context 0.

                lmbi: just inserted entry <t40001lmbi0> at index 0.
                \tmessage inserted: lmbi: service_name t40001lmbi0   flags 3 = PvmMboxMultiInstance PvmMboxPersistent    machine vm   tid t40001   context 0
                lmbi: just inserted entry <t40001lmbi1> at index 0.
                \tmessage inserted: lmbi: service_name t40001lmbi1   flags 3 = PvmMboxMultiInstance PvmMboxPersistent    machine vm   tid t40001   context 0
                """),
            ("gmbi", ["lmbi"], 0, """

                gmbi: 2 mbox entries returned.
                -------------------------------
                gmbi: class name: <t40001lmbi0>
                \t: indices <0>\towner_tid <t0>\tflags <3> = <PvmMboxMultiInstance PvmMboxPersistent >
                gmbi: class name: <t40001lmbi1>
                \t: indices <0>\towner_tid <t0>\tflags <3> = <PvmMboxMultiInstance PvmMboxPersistent >

                """),
            ("rme", ["t40001lmbi0", "0"], 255, """

                Looking for service name <t40001lmbi0> with index number [0].
                rme: t40003 on machine <vm> with context 0.

                rme: Key locked by another task, can't delete.
                """),
            ("rme", ["t40001lmbi1", "3"], 255, """

                Looking for service name <t40001lmbi1> with index number [3].
                rme: t40004 on machine <vm> with context 0.

                rme: no service running for <t40001lmbi1> index <3>
                """),
            ("gmbi", ["*"], 0, """

                gmbi: 2 mbox entries returned.
                -------------------------------
                gmbi: class name: <t40001lmbi0>
                \t: indices <0>\towner_tid <t0>\tflags <3> = <PvmMboxMultiInstance PvmMboxPersistent >
                gmbi: class name: <t40001lmbi1>
                \t: indices <0>\towner_tid <t0>\tflags <3> = <PvmMboxMultiInstance PvmMboxPersistent >

                """),
        ]
        for (name, arguments, status, expected) in runs {
            let path = "/usr/bin/\(name)"
            guard FileManager.default.isExecutableFile(atPath: path) else {
                throw XCTSkip("\(path) is missing (Debian package pvm-examples; Tests/install-deps.sh installs it)")
            }
            let run = try harness.run(URL(fileURLWithPath: path), arguments, timeout: 20,
                                      environment: ["PVM_PATH": "/usr/bin:\(harness.bin.path)"])
            XCTAssertFalse(run.timedOut, "\(name) timed out\n\(run)")
            assertOutput(run, expected, status: status)
        }
    }

    static let expected = """
        == bad arguments
        pvm_recvinfo("", 0, 0) = -2
        pvm_delinfo("", 0, 0) = -2
        pvm_recvinfo("x", -1, 0) = -2
        pvm_delinfo("x", -1, 0) = -2
        pvm_insert("", -1, 1) = -2
        pvm_lookup("", 0, &d) = -2
        pvm_delete("", 0) = -2
        pvm_insert("p", -2, 1) = -2
        pvm_lookup("p", -2, &d) = -2
        pvm_delete("nope", -1) = -2
        pvm_lookup("nope", -1, &d) = -32
        pvm_delete("nope", 0) = -32
        == indices
        pvm_putinfo("d", msg(5), PvmMboxDirectIndex(5)) = 5
        pvm_putinfo("d", msg(6), PvmMboxDirectIndex(5)) = 5
        value(pvm_recvinfo("d", 5, 0)) = 6
        pvm_putinfo("m", msg(0), PvmMboxMultiInstance) = 0
        pvm_putinfo("m", msg(1), PvmMboxMultiInstance) = 1
        pvm_putinfo("m", msg(2), PvmMboxMultiInstance | PvmMboxDirectIndex(2)) = 2
        pvm_putinfo("m", msg(3), PvmMboxMultiInstance | PvmMboxFirstAvail | PvmMboxDirectIndex(1)) = 3
        pvm_putinfo("m", msg(4), PvmMboxMultiInstance | PvmMboxFirstAvail) = 4
        pvm_putinfo("m", msg(9), PvmMboxFirstAvail) = 0
        value(pvm_recvinfo("m", 0, 0)) = 9
        pvm_putinfo("m", msg(8), PvmMboxDefault) = 0
        getmboxinfo("m") = 0: m{0 me 0x0, 1 me 0x2, 2 me 0x802, 3 me 0x40a, 4 me 0xa}
        pvm_delinfo("m", 1, PvmMboxFirstAvail) = 1
        pvm_delinfo("m", 1, PvmMboxFirstAvail) = -32
        value(pvm_recvinfo("m", 1, PvmMboxFirstAvail | PvmMboxWaitForInfo)) = 2
        value(pvm_recvinfo("m", 3, PvmMboxReadAndDelete)) = 3
        getmboxinfo("m") = 0: m{0 me 0x0, 2 me 0x802, 4 me 0xa}
        == the buffer recvinfo makes
        pvm_bufinfo(r1, &len, &tag, &src) = -16
        pvm_bufinfo(r2, &len, &tag, &src) = 0
        len 4 tag 0 src me
        pvm_getrbuf() == r2 = 1
        ctx 0 tag 0 src me enc 0x10000000 len 4
        == order and patterns
        pvm_putinfo("abc", msg(1), 0) = 0
        pvm_putinfo("xbcx", msg(1), 0) = 0
        pvm_putinfo("b.c", msg(1), 0) = 0
        pvm_putinfo("ab", msg(1), 0) = 0
        pvm_delinfo("abc", 0, 0) = 0
        pvm_putinfo("abc", msg(1), 0) = 0
        getmboxinfo("") = 0: m{0 me 0x0, 2 me 0x802, 4 me 0xa} xbcx{0 me 0x0} b.c{0 me 0x0} ab{0 me 0x0} abc{0 me 0x0}
        getmboxinfo("*") = 0: m{0 me 0x0, 2 me 0x802, 4 me 0xa} xbcx{0 me 0x0} b.c{0 me 0x0} ab{0 me 0x0} abc{0 me 0x0}
        getmboxinfo("ab") = 0: ab{0 me 0x0} abc{0 me 0x0}
        getmboxinfo("b") = 0: xbcx{0 me 0x0} b.c{0 me 0x0} ab{0 me 0x0} abc{0 me 0x0}
        getmboxinfo("c") = 0: xbcx{0 me 0x0} b.c{0 me 0x0} abc{0 me 0x0}
        getmboxinfo("*x") = 0: xbcx{0 me 0x0}
        getmboxinfo("a*c") = 0: abc{0 me 0x0}
        getmboxinfo("*b*c*") = 0: xbcx{0 me 0x0} b.c{0 me 0x0} abc{0 me 0x0}
        getmboxinfo("b.") = 0: b.c{0 me 0x0}
        getmboxinfo("?bc") = 0:
        getmboxinfo("[ab]") = 0:
        getmboxinfo("abcd") = 0:
        == orphans
        pvm_putinfo("orph", msg(7), PvmMboxPersistent) = 0
        pvm_putinfo("orph2", msg(7), PvmMboxPersistent | PvmMboxOverWritable) = 0
        pvm_insert("q", 3, 30) = 3
        pvm_insert("q", 3, 31) = -8
        pvm_insert("q", -1, 32) = 0
        pvm_lookup("q", -1, &d) = 0
        d = 32
        pvm_lookup("q", 3, &d) = 3
        d = 30
        pvm_putinfo("q", msg(40), 0) = 0
        getmboxinfo("q") = 0: q{0 me 0x0, 3 me 0x3}
        pvm_exit() = 0
        me != oldme = 1
        getmboxinfo("orph") = 0: orph{0 0 0x1} orph2{0 0 0x5}
        getmboxinfo("q") = 0: q{3 0 0x3}
        pvm_bufinfo(r1, &len, &tag, &src) = 0
        orphan from old me, value 7
        pvm_recvinfo("orph", 0, PvmMboxReadAndDelete) = -8
        pvm_delinfo("orph", 0, 0) = -8
        pvm_putinfo("orph", msg(8), 0) = -8
        pvm_putinfo("orph2", msg(8), 0) = 0
        pvm_delete("q", 3) = -8
        pvm_insert("q", 3, 1) = -8
        pvm_insert("q", -1, 1) = 0
        getmboxinfo("orph") = 0: orph{0 0 0x1} orph2{0 me 0x0}
        == no-reset tasks
        pvm_getnoresets(&nr, &nn) = 0
        nn = 0
        pvm_setopt(PvmNoReset, 1) = 0
        pvm_getnoresets(&nr, &nn) = 0
        nn = 1
        listed: me
        getmboxinfo("###") = 0: ###_PVM_NO_RESET_###{0 me 0x2}
        len 4 src me value me
        pvm_setopt(PvmNoReset, 1) = 1
        getmboxinfo("###") = 0: ###_PVM_NO_RESET_###{0 me 0x2}
        pvm_setopt(PvmNoReset, 0) = 1
        pvm_getnoresets(&nr, &nn) = 0
        nn = 0
        getmboxinfo("###") = 0:
        pvm_exit() = 0
        """

    static let expectedStderr = """
        libpvm [tX]: pvm_recvinfo(): Bad parameter
        libpvm [tX]: pvm_delinfo(): Bad parameter
        libpvm [tX]: pvm_recvinfo(): Bad parameter
        libpvm [tX]: pvm_delinfo(): Bad parameter
        libpvm [tX]: pvm_insert(): Bad parameter
        libpvm [tX]: pvm_lookup(): Bad parameter
        libpvm [tX]: pvm_delete(): Bad parameter
        libpvm [tX]: pvm_insert(): Bad parameter
        libpvm [tX]: pvm_lookup(): Bad parameter
        libpvm [tX]: pvm_delete(): Bad parameter
        libpvm [tX]: pvm_bufinfo(): No such buffer
        libpvm [tX]: pvm_recvinfo(): Permission denied
        libpvm [tX]: pvm_delete(): Permission denied
        """
}

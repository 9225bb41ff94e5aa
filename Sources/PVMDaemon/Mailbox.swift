import Logging
import PVMControl
import PVMEncoding

// The message mailbox (pvm_putinfo and friends), served by the master's
// daemon for the whole machine.

extension Daemon {
    func serveMailbox(_ body: ControlReader, requester: Int32, _ respond: @escaping (ControlWriter) -> Void) throws(PVMError) {
        respond(Self.failure(.notImpl))
    }

    /// A task of the machine is gone: its entries go, unless persistent.
    func mailboxTaskGone(_ t: Int32) {}

    /// A host is gone: its tasks' entries go, unless persistent.
    func mailboxHostGone(_ h: Int32) {}
}

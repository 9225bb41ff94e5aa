import PVMEncoding
/// The flags of PVM 3.4's message mailbox (`pvm_putinfo`, `pvm_recvinfo`,
/// `pvm_delinfo`), by their C values, with the entry index that may ride
/// above the flag bits (`PvmMboxDirectIndex`). The daemon that keeps the
/// mailbox and the task library share this one definition.
///
/// ```swift
/// // A second, third, ... instance under one name, kept after this task exits:
/// let index = try vm.putInfo("workers", message, flags: [.multiInstance, .persistent])
/// // Exactly at index 7:
/// _ = try vm.putInfo("slots", message, flags: [.multiInstance, .directIndex(7)])
/// ```
public struct MailboxFlags: OptionSet, Hashable, Sendable {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// PvmMboxPersistent: the entry outlives the task that put it (its
    /// owner then reads 0, and only reset or an overwrite removes it).
    public static let persistent = MailboxFlags(rawValue: 1)
    /// PvmMboxMultiInstance: one more entry under the name, at the lowest
    /// free index (at or above the direct index, if one is given); it
    /// never replaces one.
    public static let multiInstance = MailboxFlags(rawValue: 2)
    /// PvmMboxOverWritable: any task may replace or delete the entry.
    public static let overWritable = MailboxFlags(rawValue: 4)
    /// PvmMboxFirstAvail: a get finds the first entry at or above the
    /// index given (a delete still names one exact index).
    public static let firstAvailable = MailboxFlags(rawValue: 8)
    /// PvmMboxReadAndDelete: a get that also removes the entry (needs the
    /// right to delete it).
    public static let readAndDelete = MailboxFlags(rawValue: 16)
    /// PvmMboxWaitForInfo: a get that waits until the entry exists.
    public static let waitForInfo = MailboxFlags(rawValue: 32)

    /// PvmMboxDirectIndexShift: where an index starts in the flag word.
    public static let directIndexShift: Int32 = 10
    /// PvmMboxMaxDirectIndex: indices that fit above the flag bits are below this.
    public static let maxDirectIndex: Int32 = 1 << (31 - directIndexShift)

    /// PvmMboxDirectIndex(index): put (or find) at exactly `index`.
    /// `index` must be in 0..<maxDirectIndex.
    public static func directIndex(_ index: Int32) -> MailboxFlags {
        precondition(index >= 0 && index < maxDirectIndex, "mailbox direct index \(index) is not in 0..<\(maxDirectIndex)")
        return MailboxFlags(rawValue: index << directIndexShift)
    }

    /// The index riding in the flags (PvmMboxDirectIndexOf); 0 when none.
    public var directIndex: Int32 { (rawValue >> Self.directIndexShift) & (Self.maxDirectIndex - 1) }
}

/// Names of mailbox classes the system itself uses (pvm3.h's PVM*CLASS).
public enum MailboxClassName {
    /// Tasks that survive a reset (PvmNoReset) each keep an entry here
    /// (pvm_getnoresets lists their owners; the console is one of them).
    public static let noReset = "###_PVM_NO_RESET_###"
    public static let hoster = "###_PVM_HOSTER_###"
    public static let tasker = "###_PVM_TASKER_###"
    public static let tracer = "###_PVM_TRACER_###"
    public static let resourceManager = "###_PVM_RM_###"
}

extension MailboxRequest {
    /// The longest mailbox request or reply that may cross between daemons:
    /// a forwarded body is the rest of one frame on the daemons' link, so
    /// one frame's limit (4 GiB) less room for the forwarding fields. A
    /// longer one is PvmOutOfRes.
    public static let largestForwardedBody = Int(FrameHeader.maxLength) - 4096
}

/// An error of the PVM API, with PVM 3.4's numeric code and text.
///
/// This is the lowest layer, so the table of every PVM error lives here; the
/// C library maps these codes one to one onto its negative return values.
public struct PVMError: Error, Equatable, Hashable, Sendable, CustomStringConvertible {
    /// PVM's error code (negative, as the C API returns it).
    public let code: Int32
    /// What went wrong in this case, beyond PVM's fixed text.
    public let detail: String

    public init(_ code: Code, _ detail: String = "") {
        self.code = code.rawValue
        self.detail = detail
    }

    public init(code: Int32, detail: String = "") {
        self.code = code
        self.detail = detail
    }

    /// PVM's text for the code (what `pvm_perror` prints).
    public var text: String { Self.text(for: code) }

    public var description: String { detail.isEmpty ? text : "\(text): \(detail)" }

    public static func == (a: PVMError, b: PVMError) -> Bool { a.code == b.code }
    public func hash(into h: inout Hasher) { h.combine(code) }

    /// PVM 3.4's error codes.
    public struct Code: RawRepresentable, Hashable, Sendable {
        public let rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }

        public static let ok = Code(rawValue: 0)
        public static let badParam = Code(rawValue: -2)        // PvmBadParam
        public static let mismatch = Code(rawValue: -3)        // PvmMismatch
        public static let overflow = Code(rawValue: -4)        // PvmOverflow
        public static let noData = Code(rawValue: -5)          // PvmNoData
        public static let noHost = Code(rawValue: -6)          // PvmNoHost
        public static let noFile = Code(rawValue: -7)          // PvmNoFile
        public static let denied = Code(rawValue: -8)          // PvmDenied (C alias PvmDupEntry)
        public static let noMem = Code(rawValue: -10)          // PvmNoMem
        public static let badMsg = Code(rawValue: -12)         // PvmBadMsg
        public static let sysErr = Code(rawValue: -14)         // PvmSysErr
        public static let noBuf = Code(rawValue: -15)          // PvmNoBuf
        public static let noSuchBuf = Code(rawValue: -16)      // PvmNoSuchBuf
        public static let nullGroup = Code(rawValue: -17)      // PvmNullGroup
        public static let dupGroup = Code(rawValue: -18)       // PvmDupGroup
        public static let noGroup = Code(rawValue: -19)        // PvmNoGroup
        public static let notInGroup = Code(rawValue: -20)     // PvmNotInGroup
        public static let noInst = Code(rawValue: -21)         // PvmNoInst
        public static let hostFail = Code(rawValue: -22)       // PvmHostFail
        public static let noParent = Code(rawValue: -23)       // PvmNoParent
        public static let notImpl = Code(rawValue: -24)        // PvmNotImpl
        public static let dSysErr = Code(rawValue: -25)        // PvmDSysErr
        public static let badVersion = Code(rawValue: -26)     // PvmBadVersion
        public static let outOfRes = Code(rawValue: -27)       // PvmOutOfRes
        public static let dupHost = Code(rawValue: -28)        // PvmDupHost
        public static let cantStart = Code(rawValue: -29)      // PvmCantStart
        public static let already = Code(rawValue: -30)        // PvmAlready
        public static let noTask = Code(rawValue: -31)         // PvmNoTask
        public static let notFound = Code(rawValue: -32)       // PvmNotFound (alias PvmNoEntry)
        public static let exists = Code(rawValue: -33)         // PvmExists
        public static let hostrNMstr = Code(rawValue: -34)     // PvmHostrNMstr
        public static let parentNotSet = Code(rawValue: -35)   // PvmParentNotSet
        public static let ipLoopback = Code(rawValue: -36)     // PvmIPLoopback
    }

    /// The texts, indexed by -code (pvm_errlist in the C library; 37 entries).
    public static let texts: [String] = [
        "Error 0", "Error 1", "Bad parameter", "Parameter mismatch", "Value too large", "End of buffer",
        "No such host", "No such file", "Permission denied", "Error 9", "Malloc failed", "Error 11",
        "Can't decode message", "Error 13", "Can't contact local daemon", "No current buffer",
        "No such buffer", "Null group name", "Already in group", "No such group", "Not in group",
        "No such instance", "Host failed", "No parent task", "Not implemented", "Pvmd system error",
        "Version mismatch", "Out of resources", "Duplicate host", "Can't start pvmd",
        "Already in progress", "No such task", "Not Found", "Already Exists",
        "Hoster must run on master host", "Spawning parent set PvmNoParent",
        "Master Host IP Address is Loopback! (See pvm3/Readme)",
    ]

    public static func text(for code: Int32) -> String {
        guard code <= 0, Int(-Int64(code)) < texts.count else { return "Unknown Error" }
        return texts[Int(-code)]
    }
}

import CPVM3
import PVM

// Message handlers (pvm_addmhf, pvm_delmhf): the task library's Handlers.swift.

@_cdecl("pvm_addmhf")
public func c_addmhf(_ source: Int32, _ tag: Int32, _ context: Int32,
                     _ function: (@convention(c) (Int32) -> Int32)?) -> Int32 {
    call("pvm_addmhf") { vm throws(PVMError) in
        guard let function else { throw PVMError(.badParam, "no function") }
        return try vm.addMessageHandler(source: source, tag: tag, context: context) { mid in function(mid) }
    }
}

@_cdecl("pvm_delmhf")
public func c_delmhf(_ id: Int32) -> Int32 {
    call("pvm_delmhf") { vm throws(PVMError) in
        guard id >= 0 else { throw PVMError(.badParam, "handler \(id)") }
        try vm.deleteMessageHandler(id)
        return 0
    }
}

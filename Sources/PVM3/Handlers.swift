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
        do throws(PVMError) { try vm.deleteMessageHandler(id) } catch {
            // The original names the check that failed for an id past its table.
            guard error.code == PVMError.Code.notFound.rawValue && id >= vm.messageHandlerIDLimit else { throw error }
            return report("(mhid >= ndhandles) pvm_delmhf", code: error.code)
        }
        return 0
    }
}

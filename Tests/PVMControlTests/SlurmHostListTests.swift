import PVMControl
import Testing

/// The error `SlurmHostList.expand` throws for `list`, or `nil` if it expands.
private func slurmError(_ list: String) -> HostfileError? {
    do {
        _ = try SlurmHostList.expand(list)
        return nil
    } catch {
        return error
    }
}

@Suite("SlurmHostList")
struct SlurmHostListTests {
    // MARK: Forms

    @Test("SlurmHostList: plain names and comma-separated lists keep their order")
    func slurmHostListPlainNames() throws {
        #expect(try SlurmHostList.expand("node1") == ["node1"])
        #expect(try SlurmHostList.expand("login1,node7,gpu-a.example.org") == ["login1", "node7", "gpu-a.example.org"])
    }

    @Test("SlurmHostList: a bracket mixes single numbers and ranges, zero padding preserved")
    func slurmHostListPaddedRanges() throws {
        #expect(try SlurmHostList.expand("node[01-03,7]") == ["node01", "node02", "node03", "node7"])
        #expect(try SlurmHostList.expand("node[001-002,010]") == ["node001", "node002", "node010"])
        #expect(try SlurmHostList.expand("n[3]") == ["n3"])
        #expect(try SlurmHostList.expand("n[0-2]") == ["n0", "n1", "n2"])
    }

    @Test("SlurmHostList: padding follows each range's own first number")
    func slurmHostListPaddingPerRange() throws {
        #expect(try SlurmHostList.expand("n[8-10]") == ["n8", "n9", "n10"])
        #expect(try SlurmHostList.expand("n[08-10]") == ["n08", "n09", "n10"])
        #expect(try SlurmHostList.expand("n[098-101]") == ["n098", "n099", "n100", "n101"])
        #expect(try SlurmHostList.expand("n[9-10,01-02]") == ["n9", "n10", "n01", "n02"])
        // Slurm takes the width from the low end only.
        #expect(try SlurmHostList.expand("n[1-010]").prefix(2) == ["n1", "n2"])
        #expect(try SlurmHostList.expand("n[1-010]").last == "n10")
    }

    @Test("SlurmHostList: commas inside brackets do not split items")
    func slurmHostListCommasInsideBrackets() throws {
        #expect(try SlurmHostList.expand("a[1,3],b[2-3],c") == ["a1", "a3", "b2", "b3", "c"])
    }

    @Test("SlurmHostList: several bracket groups give the product, first group slowest")
    func slurmHostListCartesianProduct() throws {
        #expect(try SlurmHostList.expand("rack[1-2]-node[1-2]")
            == ["rack1-node1", "rack1-node2", "rack2-node1", "rack2-node2"])
        #expect(try SlurmHostList.expand("r[1-2]c[01,3]n[5]")
            == ["r1c01n5", "r1c3n5", "r2c01n5", "r2c3n5"])
        #expect(try SlurmHostList.expand("[1-2][7-8]") == ["17", "18", "27", "28"])
    }

    @Test("SlurmHostList: text after a bracket is a suffix of every name")
    func slurmHostListSuffixes() throws {
        #expect(try SlurmHostList.expand("a[1-2]b") == ["a1b", "a2b"])
        #expect(try SlurmHostList.expand("node[1-2].cluster.org") == ["node1.cluster.org", "node2.cluster.org"])
        #expect(try SlurmHostList.expand("[1-2]x") == ["1x", "2x"])
    }

    @Test("SlurmHostList: digits in the prefix are kept as text")
    func slurmHostListDigitsInPrefix() throws {
        #expect(try SlurmHostList.expand("node1[0-2]") == ["node10", "node11", "node12"])
    }

    @Test("SlurmHostList: a realistic SLURM_JOB_NODELIST expands in order")
    func slurmHostListRealisticList() throws {
        let hosts = try SlurmHostList.expand("cn[001-003,010],gpu[1-2]-[1,3],login01")
        #expect(hosts == [
            "cn001", "cn002", "cn003", "cn010",
            "gpu1-1", "gpu1-3", "gpu2-1", "gpu2-3",
            "login01",
        ])
    }

    @Test("SlurmHostList: whitespace separates items too, as in Slurm, and surrounding blanks are ignored")
    func slurmHostListWhitespace() throws {
        #expect(try SlurmHostList.expand("  a b\tc , d[1-2]\n") == ["a", "b", "c", "d1", "d2"])
        #expect(try SlurmHostList.expand("a\r\nb") == ["a", "b"])
    }

    @Test("SlurmHostList: duplicates are kept, as Slurm's hostlist_create keeps them")
    func slurmHostListDuplicatesKept() throws {
        #expect(try SlurmHostList.expand("n[1-2],n1") == ["n1", "n2", "n1"])
    }

    // MARK: Limits

    @Test("SlurmHostList: exactly 65536 hosts are allowed")
    func slurmHostListCapAllowed() throws {
        let hosts = try SlurmHostList.expand("n[0-65535]")
        #expect(hosts.count == SlurmHostList.maxHosts)
        #expect(hosts.first == "n0")
        #expect(hosts.last == "n65535")
        #expect(try SlurmHostList.expand("a[1-256]b[1-256]").count == 65536)
    }

    @Test("SlurmHostList: absurd expansions are refused before generating names", arguments: [
        ("n[0-65536]", "\"[0-65536]\" in \"n[0-65536]\" expands to more than 65536 hosts"),
        ("n[1-99999999999]", "\"[1-99999999999]\" in \"n[1-99999999999]\" expands to more than 65536 hosts"),
        ("n[1-40000,1-40000]", "\"[1-40000,1-40000]\" in \"n[1-40000,1-40000]\" expands to more than 65536 hosts"),
        ("a[1-300]b[1-300]", "\"a[1-300]b[1-300]\" expands to more than 65536 hosts"),
        ("a[1-65536]b[1-65536]c[1-65536]d[1-65536]", "\"a[1-65536]b[1-65536]c[1-65536]d[1-65536]\" expands to more than 65536 hosts"),
        ("a[1-40000],b[1-40000]", "the list expands to more than 65536 hosts"),
        ("n[1-9999999999999999999]", "number too large in \"1-9999999999999999999\" in \"n[1-9999999999999999999]\""),
    ])
    func slurmHostListCap(list: String, message: String) throws {
        let error = try #require(slurmError(list))
        #expect(error.kind == .badHostList)
        #expect(error.message == message)
    }

    // MARK: Errors

    static let syntaxErrors: [(list: String, message: String)] = [
        ("n[5-3]", "reversed range \"5-3\" in \"n[5-3]\" (the first number must not be larger than the second)"),
        ("n[1-3", "\"[\" without a matching \"]\""),
        ("n1-3]", "\"]\" without a matching \"[\""),
        ("a,n[1-2]],b", "\"]\" without a matching \"[\""),
        ("n[1[2]]", "nested \"[\" inside a bracket (brackets cannot nest)"),
        ("a[1-2,b[3]]", "nested \"[\" inside a bracket (brackets cannot nest)"),
        ("a,,b", "empty item (a comma at the start or end, or two commas in a row)"),
        (",a", "empty item (a comma at the start or end, or two commas in a row)"),
        ("a,", "empty item (a comma at the start or end, or two commas in a row)"),
        ("a, ,b", "empty item (a comma at the start or end, or two commas in a row)"),
        ("", "the list is empty"),
        ("  \t", "the list is empty"),
        ("n[a-c]", "\"a-c\" in \"n[a-c]\" is not a number or a range of numbers like 1-4"),
        ("n[1-x]", "\"1-x\" in \"n[1-x]\" is not a number or a range of numbers like 1-4"),
        ("n[-3]", "\"-3\" in \"n[-3]\" is not a number or a range of numbers like 1-4"),
        ("n[3-]", "\"3-\" in \"n[3-]\" is not a number or a range of numbers like 1-4"),
        ("n[1-2-3]", "\"1-2-3\" in \"n[1-2-3]\" is not a number or a range of numbers like 1-4"),
        ("n[+1]", "\"+1\" in \"n[+1]\" is not a number or a range of numbers like 1-4"),
        ("n[]", "empty brackets \"[]\" in \"n[]\""),
        ("n[1,,2]", "empty range (a comma at the start or end of the bracket, or two in a row) in \"n[1,,2]\""),
        ("n[1,]", "empty range (a comma at the start or end of the bracket, or two in a row) in \"n[1,]\""),
        ("n[1, 2]", "whitespace inside a bracket"),
    ]

    @Test("SlurmHostList: malformed lists are refused with a clear message", arguments: syntaxErrors)
    func slurmHostListErrors(list: String, message: String) throws {
        let error = try #require(slurmError(list))
        #expect(error.kind == .badHostList)
        #expect(error.origin == .slurmHostList(list))
        #expect(error.line == nil)
        #expect(error.message == message)
        #expect(error.description == "Slurm host list \"\(list)\": \(message)")
    }

    @Test("SlurmHostList: an error in a later item is found after good items")
    func slurmHostListErrorInLaterItem() throws {
        let error = try #require(slurmError("good[1-2],bad[9-1]"))
        #expect(error.message == "reversed range \"9-1\" in \"bad[9-1]\" (the first number must not be larger than the second)")
    }

    // MARK: Environment

    @Test("SlurmHostList: fromEnvironment prefers SLURM_JOB_NODELIST over SLURM_NODELIST")
    func slurmHostListEnvironmentOrder() {
        #expect(SlurmHostList.fromEnvironment(["SLURM_JOB_NODELIST": "a[1-2]", "SLURM_NODELIST": "b[1-2]"]) == "a[1-2]")
        #expect(SlurmHostList.fromEnvironment(["SLURM_NODELIST": "b[1-2]"]) == "b[1-2]")
        #expect(SlurmHostList.fromEnvironment(["SLURM_JOB_NODELIST": "a1"]) == "a1")
    }

    @Test("SlurmHostList: fromEnvironment is nil outside Slurm and skips empty values")
    func slurmHostListEnvironmentMissing() {
        #expect(SlurmHostList.fromEnvironment([:]) == nil)
        #expect(SlurmHostList.fromEnvironment(["PATH": "/bin", "SLURM_JOB_ID": "7"]) == nil)
        #expect(SlurmHostList.fromEnvironment(["SLURM_JOB_NODELIST": "", "SLURM_NODELIST": "b1"]) == "b1")
        #expect(SlurmHostList.fromEnvironment(["SLURM_JOB_NODELIST": " "]) == nil)
    }

    @Test("SlurmHostList: expanded names parse as pvm_addhosts specs")
    func slurmHostListFeedsHostSpecs() throws {
        let list = try #require(SlurmHostList.fromEnvironment(["SLURM_JOB_NODELIST": "cn[09-10]"]))
        let entries = try SlurmHostList.expand(list).map { name throws(HostfileError) in
            try Hostfile.parseHostSpec(name, defaults: HostOptions(login: "pvm"))
        }
        #expect(entries.map(\.name) == ["cn09", "cn10"])
        #expect(entries.allSatisfy { $0.options.login == "pvm" })
    }
}

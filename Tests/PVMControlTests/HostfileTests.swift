import PVMControl
import PVMEncoding
import Testing

/// The error `Hostfile.parse` throws for `text`, or `nil` if it parses.
private func hostfileError(_ text: String, expand: (String) -> String? = { _ in nil }) -> HostfileError? {
    do {
        _ = try Hostfile.parse(text, expand: expand)
        return nil
    } catch {
        return error
    }
}

/// The error `Hostfile.parseHostSpec` throws for `spec`, or `nil` if it parses.
private func hostSpecError(_ spec: String) -> HostfileError? {
    do {
        _ = try Hostfile.parseHostSpec(spec, defaults: HostOptions())
        return nil
    } catch {
        return error
    }
}

@Suite("Hostfile")
struct HostfileTests {
    // MARK: Lines, comments, blanks

    @Test("Hostfile: one host per line, in file order, started by default")
    func hostfilePlainHosts() throws {
        let file = try Hostfile.parse("node1\nnode2.example.org\n10.0.0.3\n")
        #expect(file.entries.map(\.name) == ["node1", "node2.example.org", "10.0.0.3"])
        #expect(file.entries.allSatisfy { $0.startNow && $0.options == HostOptions() })
        #expect(file.defaults == HostOptions())
    }

    @Test("Hostfile: comments (whole line or after whitespace) and blank lines are ignored")
    func hostfileCommentsAndBlankLines() throws {
        let text = """
            # a PVM hostfile
               # indented comment

            node1 # trailing comment with lo=ignored
            \t
            node2\twd=/a#not-a-comment   #comment
            """
        let file = try Hostfile.parse(text)
        #expect(file.entries.map(\.name) == ["node1", "node2"])
        #expect(file.entries[0].options == HostOptions())
        #expect(file.entries[1].options.workingDirectory == "/a#not-a-comment")
    }

    @Test("Hostfile: an empty or comment-only file has no entries")
    func hostfileEmpty() throws {
        #expect(try Hostfile.parse("").entries.isEmpty)
        #expect(try Hostfile.parse("\n\n# nothing\n").entries.isEmpty)
    }

    @Test("Hostfile: CRLF line endings are accepted")
    func hostfileCRLF() throws {
        let file = try Hostfile.parse("node1 wd=/tmp\r\nnode2\r\n")
        #expect(file.entries.map(\.name) == ["node1", "node2"])
        #expect(file.entries[0].options.workingDirectory == "/tmp")
        let error = try #require(hostfileError("a\r\nb\r\nc xx=1\r\n"))
        #expect(error.line == 3)
        #expect(try Hostfile.parseHostSpec("n wd=/tmp\r\n", defaults: HostOptions()) == HostEntry(
            name: "n", options: HostOptions(workingDirectory: "/tmp")), "a trailing line break in a spec is whitespace")
    }

    // MARK: Options

    @Test("Hostfile: every option is parsed into its field")
    func hostfileEveryOption() throws {
        let line = "node1 lo=alice so=pw dx=/opt/pvm/lib/pvmd ep=/x/bin:/y/bin wd=/scratch sp=2500 bx=/opt/dbg ip=node1-ib id=vm7"
        let entry = try #require(try Hostfile.parse(line).entries.first)
        #expect(entry.name == "node1")
        #expect(entry.startNow)
        #expect(entry.options == HostOptions(
            login: "alice", startMode: .password, daemonPath: "/opt/pvm/lib/pvmd",
            executablePath: "/x/bin:/y/bin", workingDirectory: "/scratch", speed: 2500,
            debugger: "/opt/dbg", alternateAddress: "node1-ib", vmid: "vm7"))
    }

    @Test("Hostfile: so=ms is a manual start, no so= is automatic")
    func hostfileStartModes() throws {
        let file = try Hostfile.parse("a so=ms\nb so=pw\nc\n")
        #expect(file.entries.map(\.options.startMode) == [.manual, .password, .automatic])
    }

    @Test("Hostfile: sp= accepts exactly 1...1000000", arguments: [
        ("1", Int32(1)), ("1000", 1000), ("1000000", 1_000_000), ("0042", 42),
    ])
    func hostfileSpeedBounds(written: String, speed: Int32) throws {
        let entry = try #require(try Hostfile.parse("n sp=\(written)").entries.first)
        #expect(entry.options.speed == speed)
    }

    @Test("Hostfile: options may come in any order and an alternate address may be IPv4 or IPv6")
    func hostfileOptionOrderAndAlternateAddresses() throws {
        let file = try Hostfile.parse("a id=x ip=192.168.1.5 lo=u\nb ip=[fd00::5]\nc ip=fd00::6")
        #expect(file.entries[0].options == HostOptions(login: "u", alternateAddress: "192.168.1.5", vmid: "x"))
        #expect(file.entries[1].options.alternateAddress == "fd00::5")
        #expect(file.entries[2].options.alternateAddress == "fd00::6")
    }

    // MARK: Defaults and &

    @Test("Hostfile: * defaults apply to later lines only and are kept")
    func hostfileDefaultsApplyToLaterLinesOnly() throws {
        let text = """
            early
            * lo=pvm wd=/work sp=500
            late1
            late2 wd=/own so=ms
            """
        let file = try Hostfile.parse(text)
        #expect(file.entries.map(\.name) == ["early", "late1", "late2"])
        #expect(file.entries[0].options == HostOptions())
        #expect(file.entries[1].options == HostOptions(login: "pvm", workingDirectory: "/work", speed: 500))
        #expect(file.entries[2].options == HostOptions(
            login: "pvm", startMode: .manual, workingDirectory: "/own", speed: 500))
        #expect(file.defaults == HostOptions(login: "pvm", workingDirectory: "/work", speed: 500))
    }

    @Test("Hostfile: a second * line replaces the first defaults, as in PVM")
    func hostfileDefaultsReplaced() throws {
        let file = try Hostfile.parse("* lo=a wd=/w\nx\n* ep=/bin\ny\n")
        #expect(file.entries[0].options == HostOptions(login: "a", workingDirectory: "/w"))
        #expect(file.entries[1].options == HostOptions(executablePath: "/bin"))
        #expect(file.defaults == HostOptions(executablePath: "/bin"))
    }

    @Test("Hostfile: *opts without a space and a bare * are defaults lines")
    func hostfileDefaultsSpellings() throws {
        #expect(try Hostfile.parse("*lo=bob\nn").entries[0].options.login == "bob")
        let reset = try Hostfile.parse("* lo=bob\n*\nn")
        #expect(reset.entries[0].options == HostOptions())
        #expect(reset.defaults == HostOptions())
    }

    @Test("Hostfile: & lines are recorded but not started, with their options and defaults")
    func hostfileNoStartLines() throws {
        let file = try Hostfile.parse("* lo=pvm\n&spare1 sp=10\n& spare2\nnode1\n")
        #expect(file.entries.map(\.name) == ["spare1", "spare2", "node1"])
        #expect(file.entries.map(\.startNow) == [false, false, true])
        #expect(file.entries[0].options == HostOptions(login: "pvm", speed: 10))
        #expect(file.entries[1].options == HostOptions(login: "pvm"))
    }

    @Test("Hostfile: merged(over:) keeps own values and fills the rest from the defaults")
    func hostfileMergedOver() {
        let defaults = HostOptions(
            login: "d", startMode: .password, daemonPath: "/d/pvmd", executablePath: "/d/bin",
            workingDirectory: "/d", speed: 1, debugger: "/d/dbg", alternateAddress: "d-ib", vmid: "dv")
        let own = HostOptions(login: "o", startMode: .manual, speed: 9, vmid: "ov")
        #expect(own.merged(over: defaults) == HostOptions(
            login: "o", startMode: .manual, daemonPath: "/d/pvmd", executablePath: "/d/bin",
            workingDirectory: "/d", speed: 9, debugger: "/d/dbg", alternateAddress: "d-ib", vmid: "ov"))
        #expect(HostOptions().merged(over: defaults) == defaults)
        #expect(defaults.merged(over: HostOptions()) == defaults)
    }

    // MARK: Variables

    @Test("Hostfile: $VAR and ${VAR} in option values are expanded by the caller's function")
    func hostfileVariableExpansion() throws {
        let env = ["HOME": "/home/u", "ARCH": "LINUX64", "SP": "1234", "USER": "u"]
        let text = "n ep=$HOME/pvm3/bin/$ARCH:${HOME}/x wd=${HOME} sp=$SP lo=$USER dx=$UNSET/pvmd bx=a$-b$"
        let entry = try #require(try Hostfile.parse(text, expand: { env[$0] }).entries.first)
        #expect(entry.options.executablePath == "/home/u/pvm3/bin/LINUX64:/home/u/x")
        #expect(entry.options.workingDirectory == "/home/u")
        #expect(entry.options.speed == 1234)
        #expect(entry.options.login == "u")
        #expect(entry.options.daemonPath == "$UNSET/pvmd", "unknown variables are kept for the remote side")
        #expect(entry.options.debugger == "a$-b$", "a $ not followed by a name stays")
    }

    @Test("Hostfile: without an expand function, variable references are kept as written")
    func hostfileVariablesKeptByDefault() throws {
        let entry = try #require(try Hostfile.parse("n ep=$HOME/bin:${PVM_ROOT}/bin").entries.first)
        #expect(entry.options.executablePath == "$HOME/bin:${PVM_ROOT}/bin")
    }

    @Test("Hostfile: variables in * lines are expanded too")
    func hostfileVariablesInDefaults() throws {
        let file = try Hostfile.parse("* wd=$SCRATCH\nn", expand: { $0 == "SCRATCH" ? "/s" : nil })
        #expect(file.defaults.workingDirectory == "/s")
        #expect(file.entries[0].options.workingDirectory == "/s")
    }

    @Test("Hostfile: host names are not variable-expanded")
    func hostfileHostNamesNotExpanded() {
        let error = hostfileError("$HOST", expand: { _ in "node1" })
        #expect(error?.kind == .unsupported)
    }

    // MARK: Host names

    @Test("Hostfile: accepts DNS names, IPv4 and plain or bracketed IPv6", arguments: [
        ("node1", "node1"), ("Node-7.cluster.example.org", "Node-7.cluster.example.org"),
        ("fqdn.example.", "fqdn.example."), ("under_score", "under_score"), ("10.1.2.3", "10.1.2.3"),
        ("::1", "::1"), ("[::1]", "::1"), ("fe80::1%eth0", "fe80::1%eth0"), ("[2001:db8::7]", "2001:db8::7"),
        ("2001:db8:0:0:0:0:0:1", "2001:db8:0:0:0:0:0:1"), ("::ffff:10.0.0.1", "::ffff:10.0.0.1"),
        ("1::", "1::"),
    ])
    func hostfileAcceptedHostNames(written: String, name: String) throws {
        let entry = try #require(try Hostfile.parse(written).entries.first)
        #expect(entry.name == name)
    }

    @Test("Hostfile: refuses host names with shell metacharacters, naming the character", arguments: [
        ";", "&", "|", "<", ">", "(", ")", "`", "\\", "\"", "'", "*", "?", "[", "]", "{", "}", "!", "~", "#", "=", "%", "^", ",",
    ])
    func hostfileShellMetacharactersInHostName(meta: String) throws {
        let name = "no\(meta)de"
        let error = try #require(hostfileError("ok1\n\(name)"))
        #expect(error.kind == .badHostName)
        #expect(error.line == 2)
        #expect(error.description
            == "hostfile line 2: host name \"\(name)\" contains \"\(meta)\", which a remote shell would interpret (allowed: letters, digits, \"-\", \"_\", \".\"; IPv6 addresses plain or in [brackets])")
    }

    @Test("Hostfile: a $ inside a host name is a shell metacharacter")
    func hostfileDollarInHostName() throws {
        let error = try #require(hostfileError("host$(reboot)"))
        #expect(error.kind == .badHostName)
        #expect(error.message.hasPrefix("host name \"host$(reboot)\" contains \"$\", which a remote shell would interpret"))
    }

    @Test("Hostfile: refuses malformed host names with the reason", arguments: [
        ("-oProxyCommand=x", "host name \"-oProxyCommand=x\" starts with \"-\", which ssh would read as an option"),
        ("a..b", "host name \"a..b\" has an empty label (\"..\", or a \".\" at the start)"),
        (".a", "host name \".a\" has an empty label (\"..\", or a \".\" at the start)"),
        ("a.-b", "host name \"a.-b\" has a label that starts or ends with \"-\" (\"-b\")"),
        ("1.2.3.999", "host name \"1.2.3.999\" looks like an IPv4 address but is not one (four numbers 0-255, like 10.0.0.1)"),
        ("1.2.3", "host name \"1.2.3\" looks like an IPv4 address but is not one (four numbers 0-255, like 10.0.0.1)"),
        ("node1:4", "host name \"node1:4\" is neither a host name nor an IPv6 address (\":N\" slot counts are not PVM hostfile syntax)"),
        ("1::2::3", "host name \"1::2::3\" contains \":\" but is not a valid IPv6 address"),
        ("[1::2::3]", "host name \"[1::2::3]\" is bracketed, but \"1::2::3\" is not a valid IPv6 address"),
        ("[::1", "host name \"[::1\" opens \"[\" but does not end with \"]\" (write an IPv6 address as [addr])"),
        ("[node1]", "host name \"[node1]\" is bracketed, but \"node1\" is not a valid IPv6 address"),
        ("1:2:3:4:5:6:7:8:9", "host name \"1:2:3:4:5:6:7:8:9\" contains \":\" but is not a valid IPv6 address"),
        ("a/b", "host name \"a/b\" contains \"/\", which is not allowed in a host name (allowed: letters, digits, \"-\", \"_\", \".\"; IPv6 addresses plain or in [brackets])"),
        ("nödé", "host name \"nödé\" contains \"ö\"; write internationalized names in their ASCII form (\"xn--...\") (allowed: letters, digits, \"-\", \"_\", \".\"; IPv6 addresses plain or in [brackets])"),
        ("a\u{7}b", "host name \"a\u{7}b\" contains a control character (U+0007), which a remote shell would interpret (allowed: letters, digits, \"-\", \"_\", \".\"; IPv6 addresses plain or in [brackets])"),
    ])
    func hostfileMalformedHostNames(name: String, message: String) throws {
        let error = try #require(hostfileError("# first\n\n\(name) wd=/tmp"))
        #expect(error.kind == .badHostName)
        #expect(error.line == 3)
        #expect(error.message == message)
        #expect(error.description == "hostfile line 3: \(message)")
    }

    @Test("Hostfile: labels over 63 and names over 253 characters are refused")
    func hostfileOverlongNames() throws {
        let longLabel = String(repeating: "a", count: 64)
        #expect(try #require(hostfileError("\(longLabel).org")).message.contains("label longer than 63 characters"))
        let longName = Array(repeating: String(repeating: "b", count: 50), count: 6).joined(separator: ".")
        #expect(try #require(hostfileError(longName)).message.contains("longer than 253 characters"))
        let fine = Array(repeating: String(repeating: "c", count: 63), count: 3).joined(separator: ".")
        #expect(try Hostfile.parse(fine).entries[0].name == fine)
    }

    // MARK: Errors, with line numbers and messages

    static let syntaxErrors: [(line: String, kind: HostfileError.Kind, message: String)] = [
        ("node1 xx=1", .unknownOption,
         "unknown option \"xx=1\" (known: lo so dx ep wd sp bx ip id bind)"),
        ("node1 slots=4", .unknownOption, "unknown option \"slots=4\" (known: lo so dx ep wd sp bx ip id bind)"),
        ("node1 lo", .missingEquals, "option \"lo\" has no value (write lo=VALUE)"),
        ("node1 node2", .missingEquals,
         "unexpected word \"node2\" after host \"node1\" (options are key=value; one host per line)"),
        ("node1 wd=", .emptyValue, "option \"wd=\" has an empty value"),
        ("node1 =x", .unknownOption, "unknown option \"=x\" (known: lo so dx ep wd sp bx ip id bind)"),
        ("node1 wd=/a wd=/b", .duplicateOption, "option wd= is given twice (\"wd=/a\" and \"wd=/b\")"),
        ("node1 sp=0", .badValue, "speed \"sp=0\" must be a whole number from 1 to 1000000"),
        ("node1 sp=1000001", .badValue, "speed \"sp=1000001\" must be a whole number from 1 to 1000000"),
        ("node1 sp=-5", .badValue, "speed \"sp=-5\" must be a whole number from 1 to 1000000"),
        ("node1 sp=fast", .badValue, "speed \"sp=fast\" must be a whole number from 1 to 1000000"),
        ("node1 sp=12.5", .badValue, "speed \"sp=12.5\" must be a whole number from 1 to 1000000"),
        ("node1 sp=99999999999999999999", .badValue,
         "speed \"sp=99999999999999999999\" must be a whole number from 1 to 1000000"),
        ("node1 so=rsh", .badValue,
         "unknown start mode \"so=rsh\" (known: so=pw to ask for a password, so=ms for a manual start)"),
        ("node1 lo=-oops", .badValue, "login name \"lo=-oops\" starts with \"-\", which ssh would read as an option"),
        ("node1 lo=a;b", .badValue,
         "login name \"lo=a;b\" contains \";\", which is not allowed in a login name (allowed: letters, digits, \".\", \"_\", \"-\", \"@\")"),
        ("node1 ip=a|b", .badValue,
         "alternate address \"ip=a|b\" contains \"|\", which a remote shell would interpret (allowed: letters, digits, \"-\", \"_\", \".\"; IPv6 addresses plain or in [brackets])"),
        ("lo=x", .missingHostName,
         "\"lo=x\" is an option, but a line must start with a host name (use \"* lo=x\" to set defaults for the lines after it)"),
        ("* node3 lo=x", .hostInDefaultsLine,
         "a \"*\" line sets defaults and takes only key=value options, but \"node3\" looks like a host name (put each host on its own line)"),
        ("*node3", .hostInDefaultsLine,
         "a \"*\" line sets defaults and takes only key=value options, but \"node3\" looks like a host name (put each host on its own line)"),
        ("* sp", .missingEquals, "option \"sp\" has no value (write sp=VALUE)"),
        ("* zz=1", .unknownOption, "unknown option \"zz=1\" (known: lo so dx ep wd sp bx ip id bind)"),
        ("$node1", .unsupported,
         "\"$node1\": overloading a host (\"$\" prefix, PVM's OVERLOADHOST build option) is not supported"),
        ("&* lo=x", .unsupported, "\"&\" cannot mark a \"*\" defaults line (put \"&\" in front of each host instead)"),
        ("&", .missingHostName, "\"&\" must be followed by a host name"),
        ("node1 wd=${X", .badVariable, "\"wd=${X\" has \"${\" without a closing \"}\""),
        ("node1 wd=${}", .badVariable,
         "\"wd=${}\" has \"${}\", which is not a variable name (letters, digits and \"_\", not starting with a digit)"),
        ("node1 wd=${1x}", .badVariable,
         "\"wd=${1x}\" has \"${1x}\", which is not a variable name (letters, digits and \"_\", not starting with a digit)"),
    ]

    @Test("Hostfile: every syntax error names its line and the problem", arguments: syntaxErrors)
    func hostfileErrors(line: String, kind: HostfileError.Kind, message: String) throws {
        // Three good lines first, so the line number is not trivially 1.
        let error = try #require(hostfileError("ok1\n# comment\n\nok2 wd=/tmp\n\(line)\nok3"))
        #expect(error.kind == kind)
        #expect(error.line == 5)
        #expect(error.origin == .hostfile(line: 5))
        #expect(error.message == message)
        #expect(error.description == "hostfile line 5: \(message)")
    }

    @Test("Hostfile: the example message from the conventions, at line 3")
    func hostfileUnknownOptionExample() throws {
        let error = try #require(hostfileError("a\nb\nc xx=1\n"))
        #expect(error.description == "hostfile line 3: unknown option \"xx=1\" (known: lo so dx ep wd sp bx ip id bind)")
        #expect(error.pvmError == PVMError(.badParam))
    }

    @Test("Hostfile: an option that expands to nothing is an empty value")
    func hostfileEmptyAfterExpansion() throws {
        let error = try #require(hostfileError("n\nm wd=$EMPTY", expand: { _ in "" }))
        #expect(error.kind == .emptyValue)
        #expect(error.description == "hostfile line 2: option \"wd=$EMPTY\" is empty after expanding variables")
    }

    @Test("Hostfile: an expanded value is still validated (sp=$SP)")
    func hostfileExpandedValueValidated() throws {
        let error = try #require(hostfileError("n sp=$SP", expand: { _ in "many" }))
        #expect(error.description == "hostfile line 1: speed \"sp=$SP\" must be a whole number from 1 to 1000000")
    }

    @Test("Hostfile: duplicate host names, case-insensitively and across &, name both lines")
    func hostfileDuplicateHosts() throws {
        let error = try #require(hostfileError("node1\n# x\nNODE1 wd=/a"))
        #expect(error.kind == .duplicateHost)
        #expect(error.description == "hostfile line 3: host \"NODE1\" is listed twice (first on line 1)")
        #expect(error.pvmError == PVMError(.dupHost))

        let recorded = try #require(hostfileError("&spare\nspare"))
        #expect(recorded.description == "hostfile line 2: host \"spare\" is listed twice (first on line 1)")

        let ipv6 = try #require(hostfileError("[::1]\n::1"))
        #expect(ipv6.kind == .duplicateHost)
        let rootDot = try #require(hostfileError("a.example\na.example."))
        #expect(rootDot.kind == .duplicateHost)
    }

    @Test("Hostfile: the first error stops parsing (later errors are not reported)")
    func hostfileFirstErrorWins() throws {
        let error = try #require(hostfileError("a\nb xx=1\nc yy=2"))
        #expect(error.line == 2)
    }

    // MARK: pvm_addhosts specs

    @Test("Hostfile: parseHostSpec reads one pvm_addhosts string")
    func hostfileParseHostSpec() throws {
        let entry = try Hostfile.parseHostSpec("node2 ep=/x:/y wd=/tmp so=ms", defaults: HostOptions())
        #expect(entry == HostEntry(
            name: "node2", options: HostOptions(startMode: .manual, executablePath: "/x:/y", workingDirectory: "/tmp"),
            startNow: true))
    }

    @Test("Hostfile: parseHostSpec applies a hostfile's kept * defaults under its own options")
    func hostfileParseHostSpecWithDefaults() throws {
        let file = try Hostfile.parse("* lo=pvm wd=/work so=pw\nnode1\n")
        let entry = try Hostfile.parseHostSpec("  node9   wd=/own  ", defaults: file.defaults)
        #expect(entry.name == "node9")
        #expect(entry.options == HostOptions(login: "pvm", startMode: .password, workingDirectory: "/own"))
    }

    @Test("Hostfile: parseHostSpec expands variables when given a function")
    func hostfileParseHostSpecExpands() throws {
        let entry = try Hostfile.parseHostSpec("n wd=$TMPDIR", defaults: HostOptions(), expand: { _ in "/t" })
        #expect(entry.options.workingDirectory == "/t")
    }

    @Test("Hostfile: parseHostSpec accepts IPv6 and strips brackets")
    func hostfileParseHostSpecIPv6() throws {
        #expect(try Hostfile.parseHostSpec("[fd00::1] sp=7", defaults: HostOptions()).name == "fd00::1")
    }

    static let specErrors: [(spec: String, kind: HostfileError.Kind, description: String)] = [
        ("node2 xx=1", .unknownOption,
         "host spec \"node2 xx=1\": unknown option \"xx=1\" (known: lo so dx ep wd sp bx ip id bind)"),
        ("", .missingHostName, "host spec \"\": the spec is empty (expected a host name and options)"),
        ("   # only a comment", .missingHostName,
         "host spec \"   # only a comment\": the spec is empty (expected a host name and options)"),
        ("* lo=x", .unsupported, "host spec \"* lo=x\": \"*\" defaults can only be set in a hostfile, not by pvm_addhosts"),
        ("&node3", .unsupported, "host spec \"&node3\": \"&\" (record without starting) only means something in a hostfile"),
        ("a\nb", .badHostName, "host spec \"a\nb\": a host spec is one line, but this one contains a line break"),
        ("a\r\nb\n", .badHostName, "host spec \"a\r\nb\n\": a host spec is one line, but this one contains a line break"),
        ("x`id`", .badHostName,
         "host spec \"x`id`\": host name \"x`id`\" contains \"`\", which a remote shell would interpret (allowed: letters, digits, \"-\", \"_\", \".\"; IPv6 addresses plain or in [brackets])"),
        ("n sp=0", .badValue, "host spec \"n sp=0\": speed \"sp=0\" must be a whole number from 1 to 1000000"),
    ]

    @Test("Hostfile: parseHostSpec errors name the spec", arguments: specErrors)
    func hostfileParseHostSpecErrors(spec: String, kind: HostfileError.Kind, description: String) throws {
        let error = try #require(hostSpecError(spec))
        #expect(error.kind == kind)
        #expect(error.line == nil)
        #expect(error.origin == .hostSpec(spec))
        #expect(error.description == description)
    }

    @Test("Hostfile: a long spec is abbreviated in the error description")
    func hostfileLongSpecAbbreviated() throws {
        let spec = "node1 " + String(repeating: "x", count: 100) + "=1"
        let error = try #require(hostSpecError(spec))
        #expect(error.description.hasPrefix("host spec \"" + String(spec.prefix(60)) + "...\": unknown option"))
    }
}

import Testing
@testable import OndemandTraceCore
import TestSupport

@Suite struct FormatFileParserTests {
    @Test func parsesEveryRealCachefilesFormatFile() throws {
        let dir = Fixtures.shared + "/real-traces/starter/formats/cachefiles"
        for name in try Fixtures.list(dir) where name.hasSuffix(".format") {
            let layout = try FormatFileParser.parse(try Fixtures.text(dir + "/" + name), system: "cachefiles")
            #expect(layout.name + ".format" == name)
            #expect(layout.field(named: "common_type")?.offset == 0)
            #expect(layout.field(named: "common_pid")?.size == 4)
        }
    }

    @Test func readLayoutMatchesTheKernelFile() throws {
        let text = try Fixtures.text(Fixtures.shared + "/real-traces/starter/formats/cachefiles/cachefiles_ondemand_read.format")
        let layout = try FormatFileParser.parse(text, system: "cachefiles")
        #expect(layout.id == 493)
        #expect(layout.field(named: "start") == FieldLayout(name: "start", type: "loff_t", offset: 24, size: 8, isSigned: true))
        #expect(layout.field(named: "len") == FieldLayout(name: "len", type: "size_t", offset: 32, size: 8, isSigned: false))
        #expect(layout.printFormat?.hasPrefix("\"o=%08x mid=%x") == true)
    }

    @Test func arraysAndDynamicFields() throws {
        let layout = try FormatFileParser.parse("""
            name: demo
            ID: 7
            format:
            \tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
            \tfield:char comm[16];\toffset:8;\tsize:16;\tsigned:0;
            \tfield:__data_loc char[] path;\toffset:24;\tsize:4;\tsigned:0;
            \tfield:char buf[];\toffset:28;\tsize:0;\tsigned:0;

            print fmt: "%s", REC->comm
            """, system: "demo")
        let comm = try #require(layout.field(named: "comm"))
        #expect(comm.isArray && comm.isString && comm.size == 16)
        let path = try #require(layout.field(named: "path"))
        #expect(path.isDynamic && path.isString)
        #expect(layout.field(named: "buf")?.size == 0)
    }

    @Test(arguments: [
        ("name: x\nID: 1\nformat:\n\tfield:int a;\toffset:zz;\tsize:4;\tsigned:1;\n", "no valid offset/size"),
        ("name: x\nformat:\n\tfield:int a;\toffset:0;\tsize:4;\tsigned:1;\n", "no 'ID:' line"),
        ("ID: 3\nformat:\n\tfield:int a;\toffset:0;\tsize:4;\tsigned:1;\n", "no 'name:' line"),
        ("name: x\nID: 3\nformat:\n", "no fields"),
        ("name: x\nID: 3\nwhat is this\n", "unexpected line"),
    ])
    func rejectsBrokenFormats(text: String, message: String) {
        #expect {
            try FormatFileParser.parse(text, system: "x")
        } throws: { error in
            (error as? FormatError)?.message.contains(message) == true
        }
    }

    @Test func unknownTypesStillParseByName() throws {
        // A future kernel's type we have never seen decodes by size and signedness alone.
        let layout = try FormatFileParser.parse("""
            name: cachefiles_ondemand_cread
            ID: 9
            format:
            \tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
            \tfield:struct weird_handle obj;\toffset:8;\tsize:4;\tsigned:0;
            """, system: "cachefiles")
        #expect(layout.field(named: "obj")?.type == "struct weird_handle")
    }
}

@Suite struct PrintFormatTests {
    @Test func mapsLabelsToFieldsWithRadix() {
        let format = PrintFormat(parsing: #""o=%08x mid=%x oid=%x fd=%d f=%x", REC->obj, REC->msg_id, REC->object_id, REC->fd, REC->flags"#)
        #expect(format.labels["o"] == .init(field: "obj", radix: 16))
        #expect(format.labels["fd"] == .init(field: "fd", radix: 10))
        #expect(format.labels["f"] == .init(field: "flags", radix: 16))
        #expect(format.labels.count == 5)
    }

    @Test func symbolicArgumentsConsumeTheirSlot() {
        let format = PrintFormat(parsing: #""o=%08x B=%x %s e=%d", REC->obj, REC->backer, __print_symbolic(REC->where, { 0, "a" }, { 1, "b" }), REC->error"#)
        #expect(format.labels["e"] == .init(field: "error", radix: 10))
        #expect(format.labels["B"] == .init(field: "backer", radix: 16))
        #expect(format.unlabeled == ["where"])
    }
}

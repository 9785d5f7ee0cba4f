import Foundation
import Testing
@testable import Delivery

/// What IDNA.toASCII gives: the ASCII form, or a refusal with its code.
enum IDNAOutcome: Sendable, Equatable, CustomStringConvertible {
    case ascii(String)
    case refused(String)

    var description: String {
        switch self {
        case .ascii(let name): return name
        case .refused(let code): return "refused (\(code))"
        }
    }

    static func of(_ name: String) -> IDNAOutcome {
        do {
            return .ascii(try IDNA.toASCII(name))
        } catch {
            return .refused(error.code)
        }
    }
}

/// One name, Veil's answer, and Python's `idna.encode(name, uts46=True,
/// transitional=False)` where the two legitimately differ.
struct IDNACase: Sendable, CustomTestStringConvertible {
    var name: String
    /// Veil's answer; two where it depends on the Unicode version of libidn2's tables.
    var veil: [IDNAOutcome]
    /// Python's answer where it differs from Veil's: its ASCII form, or nil (refused);
    /// two where it depends on the Unicode version of the idna package.
    var python: [String?]?
    var why: String

    var testDescription: String { "\(name.unicodeScalars.map { $0.isASCII && $0.value >= 0x20 && $0.value < 0x7F ? String($0) : String(format: "\\u{%X}", $0.value) }.joined())" }

    /// Python's idna agrees: the same ASCII form, or also refuses.
    static func same(_ name: String, _ veil: IDNAOutcome, _ why: String = "") -> IDNACase {
        IDNACase(name: name, veil: [veil], python: nil, why: why)
    }

    static func differs(_ name: String, veil: [IDNAOutcome], python: [String?], _ why: String) -> IDNACase {
        IDNACase(name: name, veil: veil, python: python, why: why)
    }

    static let all: [IDNACase] = [
        // Composed, decomposed, upper case: one name.
        .same("bücher.example", .ascii("xn--bcher-kva.example")),
        .same("bu\u{308}cher.example", .ascii("xn--bcher-kva.example"), "NFC"),
        .same("BÜCHER.EXAMPLE", .ascii("xn--bcher-kva.example")),
        .same("BU\u{308}CHER.EXAMPLE", .ascii("xn--bcher-kva.example")),
        .same("MÜNCHEN.de", .ascii("xn--mnchen-3ya.de")),
        .same("ｅｘａｍｐｌｅ.com", .ascii("example.com"), "full-width letters are mapped"),
        .same("日本語。jp", .ascii("xn--wgv71a119e.jp"), "ideographic full stop separates labels"),
        // Scripts, mixed within a label (a matter for registries, not for lookup).
        .same("paypalа.com", .ascii("xn--paypal-8nf.com"), "Latin with a Cyrillic a"),
        .same("abcαβγ.example", .ascii("xn--abc-qxcfg.example")),
        .same("русский.example", .ascii("xn--h1acbxfam.example")),
        .same("עברית.example", .ascii("xn--5dbqzzl.example"), "right-to-left label"),
        .same("ı.example", .ascii("xn--cfa.example"), "dotless i"),
        .same("İ.example", .ascii("xn--i-9bb.example"), "capital I with dot: i + U+0307"),
        // Non-transitional: ß and ς stay themselves (IDNA2003 made them ss and σ).
        .same("straße.de", .ascii("xn--strae-oqa.de")),
        .same("STRASSE.de", .ascii("strasse.de")),
        .same("βόλος.gr", .ascii("xn--nxasmm1c.gr"), "final sigma kept"),
        .same("ΒΌΛΟΣ.gr", .ascii("xn--nxasmq6b.gr"), "capital sigma lower-cases to σ: another name"),
        // Joiners: only where the CONTEXTJ rules of RFC 5892 allow them.
        .same("क्\u{200D}ष.example", .ascii("xn--11b2ezcw70k.example"), "ZWJ after a virama"),
        .same("a\u{200D}b.example", .refused("IDN2_CONTEXTJ")),
        .same("ب\u{200C}ب.example", .ascii("xn--ngba799q.example"), "ZWNJ between joining Arabic letters"),
        .same("a\u{200C}b.example", .refused("IDN2_CONTEXTJ")),
        .same("a\u{200B}.example", .ascii("a.example"), "zero width space is ignored (UTS #46)"),
        // Emoji and symbols: not in IDNA2008.
        .same("\u{1F4A9}.example", .refused("IDN2_DISALLOWED")),
        .same("☃.example", .refused("IDN2_DISALLOWED")),
        .same("i❤.ws", .refused("IDN2_DISALLOWED")),
        .same("\u{1F468}\u{200D}\u{1F469}.example", .refused("IDN2_DISALLOWED"), "emoji ZWJ sequence"),
        // ASCII and A-labels.
        .same("example.org", .ascii("example.org")),
        .same("EXAMPLE.ORG", .ascii("example.org")),
        .same("xn--bcher-kva.example", .ascii("xn--bcher-kva.example")),
        .same("XN--BCHER-KVA.EXAMPLE", .ascii("xn--bcher-kva.example")),
        .same("xn--Bcher-kva.example", .ascii("xn--bcher-kva.example")),
        .same("xn--.example", .refused("IDN2_PUNYCODE_BAD_INPUT")),
        .same("xn--ab--cd.example", .refused("IDN2_PUNYCODE_BAD_INPUT")),
        .same("xn--bcher-xxx.example", .refused("IDN2_DISALLOWED"), "decodes to bcher U+1361"),
        // Lengths: labels of 63, domains of 253 (A-label form).
        .same(String(repeating: "a", count: 63) + ".example", .ascii(String(repeating: "a", count: 63) + ".example")),
        .same(String(repeating: "a", count: 64) + ".example", .refused("NOT_A_HOST_NAME")),
        .same("一二三四五六七八九十百千万億兆京垓秭穣溝澗正載極.example", .refused("IDN2_PUNYCODE_BIG_OUTPUT"),
              "24 characters, 63 bytes of UTF-8, but an A-label of more than 63"),
        .same(Array(repeating: String(repeating: "ü", count: 20), count: 8).joined(separator: ".") + ".example",
              .ascii(Array(repeating: "xn--tdaaaaaaaaaaaaaaaaaaaa", count: 8).joined(separator: ".") + ".example")),
        .same(Array(repeating: String(repeating: "ü", count: 20), count: 10).joined(separator: ".") + ".example",
              .refused("IDN2_TOO_BIG_DOMAIN")),
        .same(Array(repeating: String(repeating: "a", count: 63), count: 4).joined(separator: ".") + ".example",
              .refused("NOT_A_HOST_NAME")),
        // Empty labels (libidn2 passes them through; they are no host name).
        .same("a..example", .refused("NOT_A_HOST_NAME")),
        .same(".example", .refused("NOT_A_HOST_NAME")),
        .same("", .refused("NOT_A_HOST_NAME")),
        .same("ü..example", .refused("NOT_A_HOST_NAME")),
        .same("ü\u{0}.evil.example", .refused("NOT_A_HOST_NAME"), "a NUL would end the C string libidn2 reads"),
        // Mapped to ASCII that is no host name (STD3 applied to the result).
        .same("a／b.example", .refused("NOT_A_HOST_NAME"), "full-width solidus maps to /"),
        .same("⑴.example", .refused("NOT_A_HOST_NAME"), "maps to (1)"),
        .same("a＿b.example", .refused("NOT_A_HOST_NAME"), "full-width low line maps to _"),
        // Hyphens, combining marks, bidi, unassigned.
        .same("-ü.example", .refused("IDN2_HYPHEN_STARTEND")),
        .same("ü-.example", .refused("IDN2_HYPHEN_STARTEND")),
        .same("üb--c.example", .refused("IDN2_2HYPHEN"), "-- in the 3rd and 4th place of a U-label"),
        .same("\u{307}a.example", .refused("IDN2_LEADING_COMBINING")),
        .same("١٢.example", .refused("IDN2_BIDI"), "a label may not start with an Arabic-Indic digit"),
        .same("a١.example", .refused("IDN2_BIDI")),
        .same("אa.example", .refused("IDN2_BIDI")),
        .same("\u{378}.example", .refused("IDN2_DISALLOWED"), "unassigned"),

        // Where Veil and Python's idna differ, and why.
        .differs("example.", veil: [.refused("NOT_A_HOST_NAME")], python: ["example."],
                 "a mail domain has no root dot (RFC 5321 Domain); Python takes it as a DNS name"),
        .differs("ab--cd.example", veil: [.ascii("ab--cd.example")], python: [nil],
                 "a plain ASCII name is kept as it is; UTS #46 CheckHyphens (which libidn2 cannot turn off) refuses it"),
        .differs("·a.example", veil: [.ascii("xn--a-fda.example")], python: [nil],
                 "libidn2's lookup does not apply the CONTEXTO rules of RFC 5892 (middle dot only between two l); no registry has the name"),
        .differs("≠.example", veil: [.ascii("xn--1ch.example")], python: [nil],
                 "U+2260 is disallowed_STD3_valid in UTS #46: valid without UseSTD3ASCIIRules, not PVALID in IDNA2008"),
        .differs("ẞ.de", veil: [.ascii("ss.de"), .ascii("xn--zca.de")], python: ["xn--zca.de", "ss.de"],
                 "capital sharp s maps to ss before Unicode 15.1's UTS #46, to ß after: libidn2 2.3.3 has the old table, idna 3.13 the new"),
        .differs("\u{1E290}\u{1E291}.example", veil: [.refused("IDN2_UNASSIGNED"), .ascii("xn--7z4hc.example")], python: ["xn--7z4hc.example", nil],
                 "Toto letters (Unicode 14) are unassigned in libidn2 2.3.3's tables"),
    ]
}

@Suite struct IDNATests {
    @Test(arguments: IDNACase.all)
    func veilsAnswer(_ test: IDNACase) {
        let outcome = IDNAOutcome.of(test.name)
        #expect(test.veil.contains(outcome), "\(test.why)")
    }

    @Test func failuresAreReadable() throws {
        let failure = try #require(throws: IDNA.Failure.self) { try IDNA.toASCII("b\u{1F4A9}.example") }
        #expect(failure.code == "IDN2_DISALLOWED")
        #expect(failure.reason == "string contains a disallowed character")
        let empty = try #require(throws: IDNA.Failure.self) { try IDNA.toASCII("a..example") }
        #expect(empty.reason.contains("a..example is not a host name"))
        // What follows a NUL would never reach libidn2.
        let nul = try #require(throws: IDNA.Failure.self) { try IDNA.toASCII("ü\u{0}.evil.example") }
        #expect(nul.code == "NOT_A_HOST_NAME")
    }

    @Test func manyConversionsReleaseTheirMemory() throws {
        // libidn2 allocates every answer; idn2_free gives it back. `heaptrack
        // .build/debug/veilPackageTests.xctest --testing-library swift-testing
        // --filter IDNATests/manyConversions` lists no leak from libidn2.
        for _ in 0..<10_000 {
            #expect(try IDNA.toASCII("bücher.example") == "xn--bcher-kva.example")
        }
    }

    /// The same names through Python's `idna` package (make deps installs it):
    /// where the table says they agree, Veil's answer and Python's must be the same
    /// (the same ASCII form, or both refuse); where they differ, Python must give
    /// the answer the table documents.
    @Test func differentialAgainstPythonIDNA() throws {
        let answers = try PythonIDNA.encode(IDNACase.all.map(\.name))
        for (test, python) in zip(IDNACase.all, answers) {
            let veil = IDNAOutcome.of(test.name)
            switch test.python {
            case .none:
                switch veil {
                case .ascii(let ascii): #expect(python == ascii, "\(test.testDescription): Veil \(veil), Python \(python ?? "refused")")
                case .refused: #expect(python == nil, "\(test.testDescription): Veil \(veil), Python \(python ?? "refused")")
                }
            case .some(let documented):
                #expect(documented.contains(python), "\(test.testDescription): Python \(python ?? "refused"); \(test.why)")
                #expect(test.veil.contains(veil), "\(test.testDescription): \(test.why)")
            }
        }
    }
}

/// `idna.encode(name, uts46=True, transitional=False)` in a python3 process; the
/// names go over as hex of their UTF-8 so that nothing normalises them on the way.
enum PythonIDNA {
    struct Unavailable: Error, CustomStringConvertible {
        var description: String
    }

    static let script = """
        import sys
        try:
            import idna
        except ImportError:
            print("NO-IDNA")
            sys.exit(0)
        for line in sys.stdin:
            name = bytes.fromhex(line.strip()).decode("utf-8")
            try:
                print("OK", idna.encode(name, uts46=True, transitional=False).decode("ascii"))
            except (idna.IDNAError, UnicodeError) as error:
                print("ERR", type(error).__name__)
        """

    /// Python's ASCII form of each name, nil where it refuses.
    static func encode(_ names: [String]) throws -> [String?] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script]
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        let hex = names.map { $0.utf8.map { String(format: "%02x", $0) }.joined() + "\n" }.joined()
        input.fileHandleForWriting.write(Data(hex.utf8))
        try input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        guard lines.first != "NO-IDNA" else {
            throw Unavailable(description: "Python's idna package is missing: make deps (pip install idna)")
        }
        guard process.terminationStatus == 0, lines.count == names.count else {
            throw Unavailable(description: "python3 -c ... exited \(process.terminationStatus) with \(lines.count) lines for \(names.count) names")
        }
        return lines.map { $0.hasPrefix("OK ") ? String($0.dropFirst(3)) : nil }
    }
}

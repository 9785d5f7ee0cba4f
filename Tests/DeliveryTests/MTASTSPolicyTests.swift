import Foundation
import Testing
@testable import PolicyRecords

/// The MTA-STS policy (RFC 8461 §3.2) and whether it lists an MX host (§4.1).
@Suite struct MTASTSPolicyTests {
    /// §3.2's example.
    static let example = "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\nmx: backupmx.example.com\r\nmax_age: 604800\r\n"

    static func reason(_ text: String) -> String? {
        do throws(MTASTSPolicy.Invalid) {
            _ = try MTASTSPolicy(text: text)
            return nil
        } catch {
            return error.reason
        }
    }

    @Test func theRFCExample() throws {
        let policy = try MTASTSPolicy(text: Self.example)
        #expect(policy.mode == .enforce)
        #expect(policy.mx == ["mail.example.com", "*.example.net", "backupmx.example.com"])
        #expect(policy.maxAgeSeconds == 604_800)
        #expect(policy.maxAge == .seconds(604_800))
        #expect(policy.text == Self.example)
        #expect(policy.lines == ["version: STSv1", "mode: enforce", "mx: mail.example.com", "mx: *.example.net",
                                 "mx: backupmx.example.com", "max_age: 604800"])
    }

    @Test func lineEndsAndBlanks() throws {
        let crlf = try MTASTSPolicy(text: Self.example)
        let lf = try MTASTSPolicy(text: Self.example.replacingOccurrences(of: "\r\n", with: "\n"))
        #expect((lf.mode, lf.mx, lf.maxAgeSeconds) == (crlf.mode, crlf.mx, crlf.maxAgeSeconds))
        // No final line end, a mix, blank lines, blanks around names and values.
        let loose = try MTASTSPolicy(text: "\n  version:STSv1 \r\nmode :\tenforce\n\n\r\nmx:   mx1.example.com\t\r\nmax_age: 86400")
        #expect((loose.mode, loose.mx, loose.maxAgeSeconds) == (.enforce, ["mx1.example.com"], 86400))
        #expect(loose.lines == ["  version:STSv1 ", "mode :\tenforce", "mx:   mx1.example.com\t", "max_age: 86400"])
        // A lone CR is not a line end.
        #expect(Self.reason("version: STSv1\rmode: enforce\rmx: a.example\rmax_age: 1") == "line 1: version is not STSv1")
    }

    @Test func fieldsInAnyOrderFirstWinsUnknownIgnored() throws {
        let policy = try MTASTSPolicy(text: "max_age: 5\nmx: a.example\nfoo: bar baz\nmode: testing\nmode: enforce\nversion: STSv1\nmax_age: 7\nmx: b.example\nx-y.z_1: ü\n")
        #expect((policy.mode, policy.mx, policy.maxAgeSeconds) == (.testing, ["a.example", "b.example"], 5))
    }

    @Test func modes() throws {
        #expect(try MTASTSPolicy(text: "version: STSv1\nmode: testing\nmx: a.example\nmax_age: 1").mode == .testing)
        // mode none needs no mx (§3.2, to withdraw a policy: §8.3).
        let none = try MTASTSPolicy(text: "version: STSv1\nmode: none\nmax_age: 86400\n")
        #expect(none.mode == MTASTSPolicy.Mode.none && none.mx.isEmpty)
        #expect(Self.reason("version: STSv1\nmode: Enforce\nmx: a.example\nmax_age: 1") == "line 2: mode is not enforce, testing or none")
        #expect(Self.reason("version: STSv1\nmode: report\nmx: a.example\nmax_age: 1") != nil)
    }

    @Test func missingFields() {
        #expect(Self.reason("mode: enforce\nmx: a.example\nmax_age: 1") == "no version")
        #expect(Self.reason("version: STSv1\nmx: a.example\nmax_age: 1") == "no mode")
        #expect(Self.reason("version: STSv1\nmode: enforce\nmx: a.example") == "no max_age")
        #expect(Self.reason("version: STSv1\nmode: enforce\nmax_age: 1") == "mode enforce and no mx")
        #expect(Self.reason("version: STSv1\nmode: testing\nmax_age: 1") == "mode testing and no mx")
        #expect(Self.reason("") == "no version")
        // Names are case-sensitive: these are unknown fields.
        #expect(Self.reason("Version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 1") == "no version")
    }

    @Test func maxAgeLimits() throws {
        func maxAge(_ value: String) -> Int? {
            try? MTASTSPolicy(text: "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: \(value)\n").maxAgeSeconds
        }
        #expect(maxAge("0") == 0)
        #expect(maxAge("0086400") == 86400)
        #expect(maxAge("31557600") == 31_557_600)
        // Above a year: kept for a year.
        #expect(maxAge("31557601") == MTASTSPolicy.maximumMaxAge)
        #expect(maxAge("9999999999") == MTASTSPolicy.maximumMaxAge)
        // 1*10DIGIT, and nothing else.
        for bad in ["", "12345678901", "-1", "+1", "1e5", "1 2", "0x10", "١٢", "86400s"] {
            #expect(maxAge(bad) == nil, "\(bad)")
        }
    }

    @Test func mxPatterns() throws {
        for good in ["mail.example.com", "*.example.net", "MX1.Example.COM", "mx.example.com.", "localhost", "xn--bcher-kva.example", "1.2.3.4"] {
            #expect(Self.reason("version: STSv1\nmode: enforce\nmx: \(good)\nmax_age: 1") == nil, "\(good)")
        }
        for bad in ["", "*", "*.", ".", "*.*.example.com", "mail.*.example.com", "-mx.example.com", "mx-.example.com",
                    "mx..example.com", "mx_1.example.com", "bücher.example", "mx example.com", ".example.com", "mx.example.com..",
                    String(repeating: "x", count: 64) + ".example"] {
            #expect(Self.reason("version: STSv1\nmode: enforce\nmx: \(bad)\nmax_age: 1") == "line 3: mx is not a host name in A-labels, or *. and one", "\(bad)")
        }
    }

    @Test func garbage() {
        #expect(Self.reason("<html><body>Not found</body></html>") == "line 1 is not name: value")
        #expect(Self.reason("version: STSv1\nmode: enforce\nthis line has no colon\nmx: a.example\nmax_age: 1") == "line 3 is not name: value")
        #expect(Self.reason("version: STSv1\nmode: enforce\n: empty name\nmx: a.example\nmax_age: 1") == "line 3: the name is not 1 to 32 letters, digits, _ - .")
        #expect(Self.reason("version: STSv1\nmode: enforce\nmy key: v\nmx: a.example\nmax_age: 1") != nil)
        #expect(Self.reason("version: STSv2\nmode: enforce\nmx: a.example\nmax_age: 1") == "line 1: version is not STSv1")
        #expect(Self.reason("\u{FEFF}version: STSv1\nmode: none\nmax_age: 1") != nil)
    }

    @Test func permitsListedHostsAndOneLabelUnderAWildcard() throws {
        let policy = try MTASTSPolicy(text: Self.example)
        #expect(policy.permits(mxHost: "mail.example.com"))
        #expect(policy.permits(mxHost: "MAIL.Example.Com"))
        #expect(policy.permits(mxHost: "mail.example.com."))
        #expect(policy.permits(mxHost: "backupmx.example.com"))
        #expect(policy.permits(mxHost: "mx1.example.net"))
        #expect(policy.permits(mxHost: "MX1.EXAMPLE.NET."))
        #expect(!policy.permits(mxHost: "example.net"))
        #expect(!policy.permits(mxHost: ".example.net"))
        #expect(!policy.permits(mxHost: "a.b.example.net"))
        #expect(!policy.permits(mxHost: "mx1example.net"))
        #expect(!policy.permits(mxHost: "example.com"))
        #expect(!policy.permits(mxHost: "other.example.com"))
        #expect(!policy.permits(mxHost: "mail.example.com.evil.example"))
        #expect(!policy.permits(mxHost: "xmail.example.com"))
        #expect(!policy.permits(mxHost: ""))
        #expect(!policy.permits(mxHost: "."))
        #expect(!policy.permits(mxHost: "mail.example.com.."))
    }

    @Test func patternsWithAFinalDotOrCapitals() throws {
        let policy = try MTASTSPolicy(text: "version: STSv1\nmode: enforce\nmx: MX.Example.COM.\nmx: *.Mail.Example.\nmax_age: 1")
        #expect(policy.permits(mxHost: "mx.example.com"))
        #expect(policy.permits(mxHost: "a.mail.example"))
        #expect(!policy.permits(mxHost: "mail.example"))
    }

    @Test func noneListsNothing() throws {
        let policy = try MTASTSPolicy(text: "version: STSv1\nmode: none\nmax_age: 1")
        #expect(!policy.permits(mxHost: "mx.example.com"))
    }
}

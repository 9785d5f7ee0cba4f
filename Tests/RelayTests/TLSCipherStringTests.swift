import NIOSSL
import Testing
@testable import Relay

@Suite struct TLSCipherStringTests {
    func names(_ string: String) throws -> [String] {
        try TLSCipherString.enabledSuites(string).map(\.name)
    }

    func problem(_ string: String) -> String? {
        do {
            _ = try TLSCipherString.enabledSuites(string)
            return nil
        } catch {
            return error.message
        }
    }

    @Test func defaultIsForwardSecretAEADOnly() throws {
        let suites = try TLSCipherString.enabledSuites(Configuration.TLS.defaultCiphers)
        #expect(Set(suites.map(\.name)) == [
            "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
            "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
        ])
        #expect(suites.allSatisfy { $0.keyExchange == TLSCipherString.kECDHE && $0.mac == TLSCipherString.aead })
    }

    /// Every string the checker accepts gives BoringSSL's own set of suites (NIOSSL
    /// builds a context from it; a string it refused would stop the test process).
    @Test(arguments: [
        Configuration.TLS.defaultCiphers, defaultCipherSuites, "ALL", "DEFAULT", "DEFAULT:!kRSA", "HIGH:!aNULL:!MD5",
        "ECDHE+AESGCM:ECDHE+CHACHA20", "ECDHE-RSA-AES128-SHA", "RSA+3DES", "3DES", "-ALL:ECDHE", "ECDHE+TLSv1.2",
        "ALL:-ECDHE:+AES:ECDHE-RSA-AES128-SHA", "ALL:@STRENGTH", "SHA1:!PSK", "AES128-GCM-SHA256 AES256-GCM-SHA384",
        "ECDHE;RSA,PSK", "ALL:!ECDHE-RSA-AES128-SHA", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE-RSA-AES128-SHA256",
        "[ECDHE-RSA-AES128-GCM-SHA256|ECDHE-RSA-CHACHA20-POLY1305]:ECDHE-RSA-AES256-GCM-SHA384", "ECDSA:RSA:!3DES",
        "kRSA:DH+AESGCM", "AES:-AES256:AES256-SHA", "TLSv1:!PSK", "ECDHE-PSK-CHACHA20-POLY1305:ECDHE-RSA-AES128-GCM-SHA256",
        "RSA:!AES256+SHA1", "ALL:+kRSA:-3DES", "[AES128-SHA|AES256-SHA]", "DEFAULT:RSA+3DES:!PSK",
    ])
    func agreesWithBoringSSL(_ string: String) throws {
        let ours = try TLSCipherString.enabledSuites(string).map(\.id)
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.cipherSuites = string
        let boringSSL = configuration.cipherSuiteValues.map(\.rawValue)
        #expect(Set(ours) == Set(boringSSL), "\(string)")
        #expect(ours.count == boringSSL.count, "\(string)")
    }

    @Test func aliasesSelectLikeBoringSSL() throws {
        #expect(try names("ECDHE+AESGCM") == ["ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
                                              "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384"])
        // Deprecated suites only by name or with an alias that includes them.
        #expect(try !names("ALL").contains("DES-CBC3-SHA"))
        #expect(try names("RSA+3DES") == ["DES-CBC3-SHA"])
        #expect(try names("ECDHE-RSA-AES128-SHA256") == ["ECDHE-RSA-AES128-SHA256"])
        // "!" removes for good, "-" until a later rule adds again.
        #expect(try names("ECDHE:!ECDHE:ECDHE-RSA-AES128-GCM-SHA256:AES128-SHA") == ["AES128-SHA"])
        #expect(try names("ALL:-ECDHE:ECDHE-RSA-AES128-GCM-SHA256:!kRSA:!PSK") == ["ECDHE-RSA-AES128-GCM-SHA256"])
        // OpenSSL-only aliases select nothing, as in BoringSSL.
        #expect(try names("DH+AESGCM:ECDHE-RSA-AES128-GCM-SHA256:!aNULL") == ["ECDHE-RSA-AES128-GCM-SHA256"])
    }

    @Test func badStringsAreProblemsNotCrashes() {
        #expect(problem("")?.contains("empty") == true)
        #expect(problem("BOGUS")?.contains("\"BOGUS\"") == true)
        #expect(problem("ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA265")?.contains("SHA265") == true)
        // A typo after "!" is refused too: BoringSSL would skip it and leave the suite on.
        #expect(problem("ALL:!ECDHE-RSA-AES128-SHA1") != nil)
        #expect(problem("!ALL")?.contains("no TLS 1.2 cipher suite") == true)
        #expect(problem("TLSv1.2+ECDHE")?.contains("no TLS 1.2 cipher suite") == true)
        #expect(problem("PSK")?.contains("PSK") == true)
        #expect(problem("TLS_AES_128_GCM_SHA256")?.contains("TLS 1.3") == true)
        #expect(problem("HIGH:@SECLEVEL=2")?.contains("@SECLEVEL") == true)
        #expect(problem("[ECDHE") != nil)
        #expect(problem("[ECDHE:RSA]") != nil)
        #expect(problem("[ECDHE]:!RSA") != nil)
        #expect(problem("ECDHE+") != nil)
        #expect(problem("ECDHE:|RSA") != nil)
        #expect(problem("ECDHE-RSA-AES128-GCM-SHA256+ECDHE")?.contains("joined") == true)
        #expect(problem("ECDHE\u{e9}") != nil)
        #expect(problem("ECDHE\tRSA") != nil)
        #expect(problem("MEDIUM") != nil)
        #expect(problem("DHE-RSA-AES128-GCM-SHA256:ECDHE") != nil)
    }
}

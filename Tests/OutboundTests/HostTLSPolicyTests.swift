import Delivery
import PolicyRecords
import Testing
@testable import Outbound

/// RFC 7672 §2.2: what the TLSA lookup of an MX host makes of `dane` and `dane-only`.
@Suite struct HostTLSPolicyTests {
    static let signed = MXResolver.Host(name: "mx.example", addresses: ["192.0.2.1"], secure: true)
    static let unsigned = MXResolver.Host(name: "mx.example", addresses: ["192.0.2.1"], secure: false)
    static let daneEE = [UInt8]([3, 1, 1]) + [UInt8](repeating: 0xAB, count: 32)

    static func lookup(_ answer: DNSResolver.Answer, secure: Bool = true) -> DNSResolver.Lookup {
        DNSResolver.Lookup(answer: answer, secure: secure)
    }

    @Test func usableRecordsMeanDANE() throws {
        let record = try #require(TLSARecord(rdata: Self.daneEE))
        let decision = HostTLSPolicy.mxHost(.dane, host: Self.signed, tlsa: Self.lookup(.records([Self.daneEE])))
        #expect(decision == .connect(HostTLSPolicy(requirement: .dane(records: [record], names: ["mx.example"]), name: "dane")))
        #expect(HostTLSPolicy.mxHost(.daneOnly, host: Self.signed, tlsa: Self.lookup(.records([Self.daneEE]))) == decision)
        #expect(HostTLSPolicy.tlsaBases(of: Self.signed) == ["mx.example"])
        // RFC 7672 §2.2.2: the CNAME target first; a DANE-TA chain may name either.
        var alias = Self.signed
        alias.canonicalName = "mail.provider.example"
        #expect(HostTLSPolicy.tlsaBases(of: alias) == ["mail.provider.example", "mx.example"])
        #expect(HostTLSPolicy.mxHost(.dane, host: alias, tlsa: Self.lookup(.records([Self.daneEE])), tlsaBase: "mail.provider.example")
                == .connect(HostTLSPolicy(requirement: .dane(records: [record], names: ["mail.provider.example", "mx.example"]),
                                          name: "dane", serverName: "mail.provider.example")))
    }

    @Test func recordsNoneOfWhichIsUsableStillMakeTLSMandatory() {
        let pkixEE = [UInt8]([1, 1, 1]) + [UInt8](repeating: 0xAB, count: 32)
        #expect(HostTLSPolicy.mxHost(.dane, host: Self.signed, tlsa: Self.lookup(.records([pkixEE, [3, 1]])))
                == .connect(HostTLSPolicy(requirement: .encrypted, name: "dane")))
    }

    @Test func withoutSecureTLSARecordsDANEFallsBackAndDANEOnlySkips() {
        let opportunistic = HostTLSPolicy.Decision.connect(HostTLSPolicy(requirement: .opportunistic, name: "opportunistic"))
        for tlsa in [Self.lookup(.noData), Self.lookup(.nameError), Self.lookup(.records([Self.daneEE]), secure: false)] {
            #expect(HostTLSPolicy.mxHost(.dane, host: Self.signed, tlsa: tlsa) == opportunistic)
            guard case .skip(let reason) = HostTLSPolicy.mxHost(.daneOnly, host: Self.signed, tlsa: tlsa) else {
                Issue.record("dane-only connected without TLSA records")
                continue
            }
            #expect(reason.contains("no DNSSEC-validated TLSA records"))
        }
        // An insecure MX host: its TLSA records are not even looked up.
        #expect(!HostTLSPolicy.looksUpTLSA(.dane, host: Self.unsigned))
        #expect(HostTLSPolicy.mxHost(.dane, host: Self.unsigned, tlsa: nil) == opportunistic)
        #expect(HostTLSPolicy.mxHost(.daneOnly, host: Self.unsigned, tlsa: nil)
                == .skip("dane-only: the MX or address records of mx.example are not DNSSEC-signed"))
    }

    @Test func aFailedOrBogusTLSALookupSkipsTheHost() {
        let bogus = Self.lookup(.temporaryFailure("DNSSEC validation failed: signature expired"), secure: false)
        #expect(HostTLSPolicy.mxHost(.dane, host: Self.signed, tlsa: bogus)
                == .skip("TLSA lookup for _25._tcp.mx.example: DNSSEC validation failed: signature expired"))
    }

    @Test func otherPoliciesIgnoreDNSSEC() {
        #expect(!HostTLSPolicy.looksUpTLSA(.verify, host: Self.signed))
        #expect(HostTLSPolicy.mxHost(.verify, host: Self.signed, tlsa: nil) == .connect(HostTLSPolicy(requirement: .pkix, name: "verify")))
        #expect(HostTLSPolicy.mxHost(.none, host: Self.signed, tlsa: nil) == .connect(HostTLSPolicy(requirement: .none, name: "none")))
        // Routes and the smarthost: no MX lookup, no DANE.
        #expect(HostTLSPolicy.fixed(.dane) == HostTLSPolicy(requirement: .opportunistic, name: "opportunistic"))
        #expect(HostTLSPolicy.fixed(.daneOnly) == HostTLSPolicy(requirement: .encrypted, name: "required"))
    }

    @Test func anEnforcedMTASTSPolicyAppliesWhereDANEDoesNot() throws {
        let enforce = try MTASTSPolicy(text: "version: STSv1\nmode: enforce\nmx: *.example\nmax_age: 86400\n")
        let pkix = HostTLSPolicy.Decision.connect(HostTLSPolicy(requirement: .pkix, name: "mta-sts"))
        for policy in [TLSPolicy.dane, .opportunistic, .required] {
            #expect(HostTLSPolicy.mxHost(policy, host: Self.unsigned, tlsa: nil, sts: enforce) == pkix)
        }
        // RFC 8461 §2: DANE first.
        guard case .connect(let dane) = HostTLSPolicy.mxHost(.dane, host: Self.signed, tlsa: Self.lookup(.records([Self.daneEE])),
                                                            sts: enforce) else { Issue.record("no connection"); return }
        #expect(dane.name == "dane")
        // Hosts the policy does not list are not used.
        let other = MXResolver.Host(name: "mx.other.test", addresses: ["192.0.2.1"])
        #expect(HostTLSPolicy.mxHost(.opportunistic, host: other, tlsa: nil, sts: enforce)
                == .skip("mta-sts: mx.other.test is not an MX host of the domain's policy (mode enforce)"))
        // TLSA records none of which is usable are no DANE result: the policy holds.
        let pkixEE = [UInt8]([1, 1, 1]) + [UInt8](repeating: 0xAB, count: 32)
        #expect(HostTLSPolicy.mxHost(.dane, host: Self.signed, tlsa: Self.lookup(.records([pkixEE])), sts: enforce) == pkix)
        // Testing mode, and policies MTA-STS does not raise: as without it.
        let testing = try MTASTSPolicy(text: "version: STSv1\nmode: testing\nmx: *.example\nmax_age: 86400\n")
        #expect(HostTLSPolicy.mxHost(.opportunistic, host: other, tlsa: nil, sts: testing)
                == .connect(HostTLSPolicy(requirement: .observed(mandatory: false), name: "mta-sts-testing")))
        #expect(HostTLSPolicy.mxHost(.required, host: other, tlsa: nil, sts: testing)
                == .connect(HostTLSPolicy(requirement: .observed(mandatory: true), name: "mta-sts-testing")))
        #expect(HostTLSPolicy.mxHost(.none, host: Self.unsigned, tlsa: nil, sts: enforce)
                == .connect(HostTLSPolicy(requirement: .none, name: "none")))
        #expect(HostTLSPolicy.mxHost(.daneOnly, host: Self.unsigned, tlsa: nil, sts: enforce)
                == .skip("dane-only: the MX or address records of mx.example are not DNSSEC-signed"))
    }
}

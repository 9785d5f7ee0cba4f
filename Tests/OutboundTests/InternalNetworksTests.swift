import Connections
import Testing
@testable import Outbound

@Suite struct InternalNetworksTests {
    @Test(arguments: ["127.0.0.1", "127.8.9.10", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254",
                      "100.64.0.1", "100.127.255.255", "0.0.0.0", "224.0.0.251", "239.1.2.3", "255.255.255.255", "::", "::1",
                      "fc00::1", "fd12:3456::1", "fe80::1", "fec0::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1",
                      "::10.0.0.1", "64:ff9b::a00:1", "2002:c0a8:101::1", "not an address"])
    func isInternal(address: String) {
        #expect(InternalNetworks.isInternal(address))
        #expect(!InternalNetworks(allowed: []).mayConnect(to: address))
    }

    @Test(arguments: ["192.0.2.1", "8.8.8.8", "100.63.255.255", "100.128.0.1", "172.15.255.255", "172.32.0.1",
                      "2001:db8::1", "2a00:1450:4001::1", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1"])
    func isExternal(address: String) {
        #expect(!InternalNetworks.isInternal(address))
        #expect(InternalNetworks(allowed: []).mayConnect(to: address))
    }

    @Test func allowNetworksOpenWhatTheyName() throws {
        let networks = InternalNetworks(allowed: [try #require(CIDR("127.0.0.4/32")), try #require(CIDR("fd00::/8"))])
        #expect(networks.mayConnect(to: "127.0.0.4"))
        #expect(networks.mayConnect(to: "::ffff:127.0.0.4"))
        #expect(!networks.mayConnect(to: "127.0.0.5"))
        #expect(networks.mayConnect(to: "fd00::25"))
        #expect(!networks.mayConnect(to: "fe80::1"))
    }
}

import Foundation
import NIOCore
import Testing
@testable import Relay

@Suite struct ClientKeyTests {
    @Test func ipv4IsItsOwnKey() {
        #expect(ClientKey(address: "192.0.2.1").description == "192.0.2.1")
        #expect(ClientKey(address: "192.0.2.1") != ClientKey(address: "192.0.2.2"))
    }

    @Test func ipv4MappedIsIPv4() {
        #expect(ClientKey(address: "::ffff:192.0.2.1") == ClientKey(address: "192.0.2.1"))
        #expect(ClientKey(address: "::ffff:192.0.2.1", ipv6PrefixLength: 32).description == "192.0.2.1")
    }

    @Test func ipv6IsMaskedToThePrefix() {
        let a = ClientKey(address: "2001:db8:1:2:aaaa::1")
        #expect(a.description == "2001:db8:1:2::/64")
        #expect(a.isNetwork && !ClientKey(address: "192.0.2.1").isNetwork && !ClientKey(address: "::2", ipv6PrefixLength: 128).isNetwork)
        #expect(a == ClientKey(address: "2001:db8:1:2:ffff:ffff:ffff:ffff"))
        #expect(a == ClientKey(address: "2001:DB8:1:2::9"))
        #expect(a != ClientKey(address: "2001:db8:1:3::1"))
        #expect(ClientKey(address: "2001:db8:1:2::1", ipv6PrefixLength: 128) != ClientKey(address: "2001:db8:1:2::2", ipv6PrefixLength: 128))
        #expect(ClientKey(address: "2001:db8:1:2::1", ipv6PrefixLength: 48) == ClientKey(address: "2001:db8:1:ffff::2", ipv6PrefixLength: 48))
        #expect(ClientKey(address: "2001:db8:1:2::1", ipv6PrefixLength: 56).description == "2001:db8:1::/56")
        #expect(ClientKey(address: "2001:db8:1:2ff::1", ipv6PrefixLength: 60).description == "2001:db8:1:2f0::/60")
        #expect(ClientKey(address: "::1").description == "::/64")
    }

    @Test func otherTextIsItsOwnKey() {
        #expect(ClientKey(address: "unknown").description == "unknown")
    }

    @Test func connectionLimitCountsAPrefix() {
        let limiter = ConnectionLimiter(maximumTotal: 100, maximumPerAddress: 2)
        #expect(limiter.acquire("2001:db8::1"))
        #expect(limiter.acquire("2001:db8::2"))
        #expect(!limiter.acquire("2001:db8::3"))
        #expect(limiter.acquire("2001:db8:0:1::1"))
        limiter.release("2001:db8::1")
        #expect(limiter.acquire("2001:db8::ffff"))
        #expect(limiter.acquire("::ffff:192.0.2.1"))
        #expect(limiter.acquire("192.0.2.1"))
        #expect(!limiter.acquire("192.0.2.1"))
    }
}

@Suite struct AuthFailureTrackerTests {
    let start = NIODeadline.uptimeNanoseconds(1_000_000_000_000)

    @Test func lockoutAfterFailuresWithinTheWindow() {
        let tracker = AuthFailureTracker(maximumFailures: 3, window: .minutes(10), lockout: .minutes(15))
        #expect(!tracker.fail("192.0.2.1", now: start))
        #expect(!tracker.fail("192.0.2.1", now: start + .minutes(1)))
        #expect(!tracker.isLockedOut("192.0.2.1", now: start + .minutes(2)))
        #expect(tracker.fail("192.0.2.1", now: start + .minutes(2)))
        #expect(tracker.isLockedOut("192.0.2.1", now: start + .minutes(3)))
        #expect(tracker.isLockedOut("192.0.2.1", now: start + .minutes(16)))
        #expect(!tracker.isLockedOut("192.0.2.1", now: start + .minutes(17)))
        #expect(!tracker.isLockedOut("192.0.2.2", now: start + .minutes(3)))
    }

    @Test func failuresOutsideTheWindowStartAgain() {
        let tracker = AuthFailureTracker(maximumFailures: 3, window: .minutes(10), lockout: .minutes(15))
        #expect(!tracker.fail("192.0.2.1", now: start))
        #expect(!tracker.fail("192.0.2.1", now: start + .minutes(5)))
        #expect(!tracker.fail("192.0.2.1", now: start + .minutes(11)))
        #expect(!tracker.fail("192.0.2.1", now: start + .minutes(12)))
        #expect(tracker.fail("192.0.2.1", now: start + .minutes(13)))
    }

    @Test func ipv6ClientsOfOnePrefixShareTheCounter() {
        let tracker = AuthFailureTracker(maximumFailures: 3, window: .minutes(10), lockout: .minutes(15))
        #expect(!tracker.fail("2001:db8:1:2::1", now: start))
        #expect(!tracker.fail("2001:db8:1:2::2", now: start))
        #expect(tracker.fail("2001:db8:1:2:dead:beef::3", now: start))
        #expect(tracker.isLockedOut("2001:db8:1:2::77", now: start))
        #expect(!tracker.isLockedOut("2001:db8:1:3::1", now: start))
        let wide = AuthFailureTracker(maximumFailures: 2, window: .minutes(10), lockout: .minutes(15), ipv6PrefixLength: 128)
        #expect(!wide.fail("2001:db8::1", now: start))
        #expect(!wide.fail("2001:db8::2", now: start))
    }

    @Test func finishedEntriesArePruned() {
        let tracker = AuthFailureTracker(maximumFailures: 3, window: .minutes(10), lockout: .minutes(15))
        for i in 0..<1000 { _ = tracker.fail("10.0.\(i / 256).\(i % 256)", now: start) }
        #expect(tracker.entryCount == 1000)
        // Once their window is over, each new failure drops up to two old entries.
        for i in 0..<1000 { _ = tracker.fail("10.1.\(i / 256).\(i % 256)", now: start + .minutes(11)) }
        #expect(tracker.entryCount == 1000)
        for i in 0..<2000 { _ = tracker.fail("10.2.\(i / 256).\(i % 256)", now: start + .minutes(22)) }
        #expect(tracker.entryCount == 2000)
    }

    @Test func aLockoutOutlivesItsWindowUntilItEnds() {
        let tracker = AuthFailureTracker(maximumFailures: 1, window: .minutes(1), lockout: .minutes(15))
        #expect(tracker.fail("192.0.2.9", now: start))
        for i in 0..<100 { _ = tracker.fail("10.0.0.\(i)", now: start + .minutes(5)) }
        #expect(tracker.isLockedOut("192.0.2.9", now: start + .minutes(10)))
    }

    @Test func theTableIsCappedOldestFirst() {
        let tracker = AuthFailureTracker(maximumFailures: 5, window: .minutes(10), lockout: .minutes(15), maximumEntries: 100)
        for i in 0..<1000 { _ = tracker.fail("10.0.\(i / 256).\(i % 256)", now: start) }
        #expect(tracker.entryCount == 100)
    }

    /// 100 000 failures from distinct addresses (IPv4 and IPv6 /64s), all within one
    /// window: the table stops at its cap. RSS figures are printed, not asserted.
    @Test func aFloodOfDistinctAddressesStaysBounded() {
        let tracker = AuthFailureTracker(maximumFailures: 5, window: .minutes(10), lockout: .minutes(15), maximumEntries: 50_000)
        let before = Self.residentKiB()
        let clock = ContinuousClock()
        let began = clock.now
        for i in 0..<100_000 {
            let address = i % 2 == 0 ? "10.\(i >> 16 & 255).\(i >> 8 & 255).\(i & 255)" : "2001:db8:\(String(i >> 16, radix: 16)):\(String(i & 0xFFFF, radix: 16))::1"
            _ = tracker.fail(address, now: start + .milliseconds(Int64(i)))
        }
        let elapsed = clock.now - began
        let after = Self.residentKiB()
        print("auth failure flood: 100000 failures from distinct addresses, entries \(tracker.entryCount) (cap 50000), "
              + "RSS before \(before) KiB, after \(after) KiB, took \(elapsed)")
        #expect(tracker.entryCount == 50_000)
    }

    @Test func attemptsBeyondTheFailuresLeftWaitAndAreRefusedByTheLockout() {
        let tracker = AuthFailureTracker(maximumFailures: 3, window: .minutes(10), lockout: .minutes(15))
        let told = Told()
        for i in 0..<6 { tracker.begin("192.0.2.1", now: start, admitted: told.recorder(i)) }
        #expect(told.admissions == [0: .allowed, 1: .allowed, 2: .allowed])
        #expect(tracker.tryBegin("192.0.2.2", now: start) == .allowed)
        // A failure leaves two: nobody else may start. A success frees its place.
        #expect(!tracker.finish("192.0.2.1", failed: true, now: start))
        #expect(told.admissions.count == 3)
        #expect(!tracker.finish("192.0.2.1", failed: false, now: start))
        #expect(told.admissions[3] == .allowed && told.admissions.count == 4)
        // The lockout refuses everyone still waiting.
        #expect(!tracker.finish("192.0.2.1", failed: true, now: start))
        #expect(tracker.finish("192.0.2.1", failed: true, now: start))
        #expect(told.admissions[4] == .lockedOut && told.admissions[5] == .lockedOut)
        #expect(tracker.tryBegin("192.0.2.1", now: start) == .lockedOut)
    }

    @Test func successesInParallelAllGetThrough() {
        let tracker = AuthFailureTracker(maximumFailures: 3, window: .minutes(10), lockout: .minutes(15))
        let told = Told()
        for i in 0..<20 { tracker.begin("192.0.2.1", now: start, admitted: told.recorder(i)) }
        var finished = 0
        while finished < told.admissions.count {
            tracker.finish("192.0.2.1", failed: false, now: start)
            finished += 1
        }
        #expect(finished == 20 && Set(told.admissions.values) == [.allowed])
    }

    @Test func waitingIsBounded() {
        let tracker = AuthFailureTracker(maximumFailures: 1, window: .minutes(10), lockout: .minutes(15))
        let told = Told()
        for i in 0...(AuthFailureTracker.maximumWaiting + 1) { tracker.begin("192.0.2.1", now: start, admitted: told.recorder(i)) }
        #expect(told.admissions == [0: .allowed, AuthFailureTracker.maximumWaiting + 1: .tooManyWaiting])
    }

    @Test func anEntryInFlightIsNotPruned() {
        let tracker = AuthFailureTracker(maximumFailures: 2, window: .minutes(1), lockout: .minutes(15))
        #expect(tracker.tryBegin("192.0.2.1", now: start) == .allowed)
        for i in 0..<10 { _ = tracker.fail("10.0.0.\(i)", now: start + .minutes(5)) }
        #expect(tracker.tryBegin("192.0.2.1", now: start + .minutes(5)) == .allowed)
        #expect(tracker.tryBegin("192.0.2.1", now: start + .minutes(5)) == nil)
    }

    @Test func clientsWithoutFailuresAreForgottenAtOnce() {
        let tracker = AuthFailureTracker(maximumFailures: 3, window: .minutes(10), lockout: .minutes(15))
        for i in 0..<1000 {
            #expect(tracker.tryBegin("10.0.\(i / 256).\(i % 256)", now: start) == .allowed)
            tracker.finish("10.0.\(i / 256).\(i % 256)", failed: false, now: start)
        }
        #expect(tracker.entryCount <= 2)
    }

    static func residentKiB() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }) else { return -1 }
        return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? -1
    }
}

/// What waiting attempts were told, by attempt number.
final class Told: @unchecked Sendable {
    private let lock = NSLock()
    private var told: [Int: AuthFailureTracker.Admission] = [:]

    var admissions: [Int: AuthFailureTracker.Admission] { lock.withLock { told } }

    func recorder(_ attempt: Int) -> AuthFailureTracker.Waiter {
        { admission in self.lock.withLock { self.told[attempt] = admission } }
    }
}

extension AuthFailureTracker {
    /// Begins an attempt; what it was told at once, nil when it waits.
    func tryBegin(_ address: String, now: NIODeadline) -> Admission? {
        let told = Told()
        begin(address, now: now, admitted: told.recorder(0))
        return told.admissions[0]
    }

    /// One whole failed attempt; true when it starts a lockout.
    func fail(_ address: String, now: NIODeadline) -> Bool {
        guard tryBegin(address, now: now) == .allowed else { return false }
        return finish(address, failed: true, now: now)
    }
}

@Suite struct AuthRateLimiterTests {
    let start = NIODeadline.uptimeNanoseconds(1_000_000_000_000)

    @Test func oneSecondsWorthThenTheRefillRate() {
        let limiter = AuthRateLimiter(attemptsPerSecond: 4, now: start)
        for _ in 0..<4 { #expect(limiter.take(now: start)) }
        #expect(!limiter.take(now: start))
        #expect(!limiter.take(now: start + .milliseconds(200)))
        #expect(limiter.take(now: start + .milliseconds(260)))
        #expect(!limiter.take(now: start + .milliseconds(260)))
        // An idle limiter holds no more than one second's worth.
        for _ in 0..<4 { #expect(limiter.take(now: start + .seconds(60))) }
        #expect(!limiter.take(now: start + .seconds(60)))
    }
}

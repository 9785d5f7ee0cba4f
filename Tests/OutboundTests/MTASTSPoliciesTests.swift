import Foundation
import MailQueue
import Testing
@testable import Outbound

/// RFC 8461 §5.1, §10.2: a cached policy is fetched again before it lapses.
@Suite struct MTASTSPoliciesTests {
    @Test func aCachedPolicyIsRefreshedAtHalfItsMaxAgeADayAtMost() {
        let fetched = Date(timeIntervalSince1970: 1_800_000_000)
        func refresh(afterMaxAge seconds: TimeInterval) -> TimeInterval {
            MTASTSPolicies.refreshTime(of: CachedMTASTSPolicy(recordID: "1", policy: "", fetchedAt: fetched,
                                                              expiresAt: fetched.addingTimeInterval(seconds)))
                .timeIntervalSince(fetched)
        }
        #expect(refresh(afterMaxAge: 3600) == 1800)
        #expect(refresh(afterMaxAge: 604_800) == 86_400)
    }
}

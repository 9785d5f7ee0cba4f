import Testing
@testable import Outbound

/// The runner's bookkeeping: sessions within the limits, messages never in two
/// sessions at once, administrative changes, shutdown.
@Suite struct DeliveryPlannerTests {
    struct Session: DeliveryPlanner.Candidate, Equatable {
        var hopName: String
        var queueIDs: [String]
    }

    static let limits = DeliveryPlanner.Limits(sessions: 3, sessionsPerHop: 2, messagesPerSession: 10)

    @Test func sessionsStartWithinTheLimitsInOrder() {
        var planner = DeliveryPlanner()
        let candidates = [Session(hopName: "mx:a", queueIDs: ["1"]), Session(hopName: "mx:a", queueIDs: ["2"]),
                          Session(hopName: "mx:a", queueIDs: ["3"]), Session(hopName: "mx:b", queueIDs: ["4"]),
                          Session(hopName: "mx:c", queueIDs: ["5"])]
        #expect(planner.freeSessions(Self.limits) == 3)
        let started = planner.start(candidates, limits: Self.limits, changes: 0)
        // Two for mx:a (its limit), then mx:b; mx:c waits for a free session.
        #expect(started?.map(\.queueIDs) == [["1"], ["2"], ["4"]])
        #expect(planner.sessions == 3 && planner.freeSessions(Self.limits) == 0 && planner.inFlight == ["1", "2", "4"])
        planner.sessionEnded(hopName: "mx:a", queueIDs: ["1"])
        #expect(planner.excluded == ["2", "4"])
        let next = planner.start([candidates[2], candidates[4]], limits: Self.limits, changes: 0)
        #expect(next?.map(\.queueIDs) == [["3"]])
    }

    @Test func aMessageIsNeverInTwoSessions() {
        var planner = DeliveryPlanner()
        let first = planner.start([Session(hopName: "mx:a", queueIDs: ["1", "2"])], limits: Self.limits, changes: 0)
        #expect(first?.count == 1)
        // Another piece of message 2 (other recipients, another hop) waits.
        let second = planner.start([Session(hopName: "mx:b", queueIDs: ["2", "3"])], limits: Self.limits, changes: 0)
        #expect(second == [])
        let more = planner.claimMore([("2", "piece"), ("3", "a"), ("3", "b"), ("4", "a"), ("5", "a")], queueID: \.0, room: 2, changes: 0)
        // Message 2 is in flight; 3 with both its pieces, then 4: room for two messages.
        #expect(more.map(\.0) == ["3", "3", "4"])
        #expect(planner.inFlight == ["1", "2", "3", "4"])
    }

    @Test func anAdministrativeChangeMakesThePassStartAgain() {
        var planner = DeliveryPlanner()
        let changes = planner.administrativeChanges
        let claimed = planner.claim("7")
        let again = planner.claim("7")
        #expect(claimed && !again)
        let started = planner.start([Session(hopName: "mx:a", queueIDs: ["1"])], limits: Self.limits, changes: changes)
        #expect(started == nil)
        let more = planner.claimMore(["1"], queueID: { $0 }, room: 5, changes: changes)
        #expect(more.isEmpty)
        planner.noteHold()
        #expect(planner.administrativeChanges == changes + 3)
        planner.unclaim("7")
        #expect(planner.excluded.isEmpty)
    }

    @Test func unsavedMessagesStayOutUntilARestart() {
        var planner = DeliveryPlanner()
        planner.keepOut("9")
        #expect(planner.excluded == ["9"] && planner.inFlight.isEmpty)
    }

    @Test func stoppingStartsNothingMore() {
        var planner = DeliveryPlanner()
        _ = planner.start([Session(hopName: "mx:a", queueIDs: ["1"])], limits: Self.limits, changes: 0)
        let (first, second) = (planner.stop(), planner.stop())
        #expect(first && !second)
        #expect(planner.freeSessions(Self.limits) == 0)
        let started = planner.start([Session(hopName: "mx:b", queueIDs: ["2"])], limits: Self.limits, changes: 0)
        #expect(started == [])
        let more = planner.claimMore(["3"], queueID: { $0 }, room: 5, changes: 0)
        #expect(more.isEmpty)
        planner.sessionEnded(hopName: "mx:a", queueIDs: ["1"])
        #expect(planner.sessions == 0 && planner.inFlight.isEmpty)
    }
}

import Foundation
import NIOConcurrencyHelpers
import Testing
@testable import MailQueue

/// Group commit without a disk: what the write sees, and what each caller gets.
@Suite struct GroupCommitTests {
    @Test func everyEntryIsWrittenOnceAndConcurrentOnesShareWrites() async {
        let batches = NIOLockedValueBox<[[Int]]>([])
        let group = GroupCommit<Int> { entries throws(SpoolError) in
            Thread.sleep(forTimeInterval: 0.005)      // a slow fsync: others queue meanwhile
            batches.withLockedValue { $0.append(entries) }
        }
        await withTaskGroup(of: Void.self) { tasks in
            for entry in 0..<64 {
                tasks.addTask {
                    await withCheckedContinuation { continuation in
                        Thread.detachNewThread {
                            try? group.commit(entry)
                            continuation.resume()
                        }
                    }
                }
            }
        }
        let written = batches.withLockedValue { $0 }
        #expect(written.flatMap { $0 }.sorted() == Array(0..<64))
        #expect(written.count < 64, "concurrent commits shared no write")
    }

    @Test func aFailedWriteFailsEveryEntryInItAndTheNextWriteStillRuns() throws {
        let attempts = NIOLockedValueBox(0)
        let group = GroupCommit<String> { _ throws(SpoolError) in
            let attempt = attempts.withLockedValue { $0 += 1; return $0 }
            if attempt == 1 { throw .diskFull }
        }
        #expect(throws: SpoolError.diskFull) { try group.commit("first") }
        try group.commit("second")
        #expect(attempts.withLockedValue { $0 } == 2)
    }
}

import LogEvents
import Outbound
import Logging
import MailQueue
import NIOPosix

/// Carries out `veil queue flush|hold|release|delete|bounce` in the daemon, so that
/// a change never races a delivery: a message being sent cannot be deleted or
/// bounced until its session ends. And `veil tls report`, whose mail goes through
/// the queue.
struct QueueAdministration: Sendable {
    let spool: Spool
    let runner: QueueRunner
    let threadPool: NIOThreadPool
    /// Nil without an MX lookup (`mode = "smarthost"`): no policies, nothing to report.
    let tlsReports: TLSReportService?
    let logger: Logger

    func perform(_ request: ControlRequest) async -> ControlResponse {
        do {
            switch request.command {
            case .flush: return try await flush(request.ids)
            case .hold, .release: return try await setHeld(request.ids, request.command == .hold)
            case .delete, .bounce: return await remove(request.ids, bounce: request.command == .bounce)
            case .tlsReport:
                guard let tlsReports else { return ControlResponse(ok: false, lines: ["TLS reports need [delivery] mode = \"mx\""]) }
                let pass = await tlsReports.sendNow()
                return ControlResponse(ok: pass.ok, lines: pass.lines)
            }
        } catch {
            logger.log(.queueError(queueID: nil, error: "\(request.command.rawValue): \(error)"))
            return ControlResponse(ok: false, lines: ["\(request.command.rawValue) failed: \(error)"])
        }
    }

    /// Deferred recipients become due now; the runner is woken.
    private func flush(_ ids: [String]) async throws -> ControlResponse {
        let spool = self.spool
        let (count, missing) = try await threadPool.runIfActive { try spool.flush(ids.isEmpty ? nil : ids) }
        logger.log(.queueFlushed(ids: ids, recipients: count))
        runner.wake()
        return ControlResponse(ok: missing.isEmpty, lines: missing.map { "\($0): not in the queue" }
                               + ["\(count) deferred recipient(s) to be tried now"])
    }

    private func setHeld(_ ids: [String], _ held: Bool) async throws -> ControlResponse {
        let spool = self.spool
        let found = Set(try await threadPool.runIfActive { try spool.setHeld(ids, held) })
        if held { runner.noteHold() }
        let event = held ? "held" : "released"
        for id in ids where found.contains(id) {
            logger.log(held ? .queueHeld(queueID: id) : .queueReleased(queueID: id))
        }
        if !held { runner.wake() }
        return ControlResponse(ok: found.count == ids.count, lines: ids.map { id in
            found.contains(id) ? "\(id): \(event)\(held ? " (a delivery in progress still ends)" : "")" : "\(id): not in the queue"
        })
    }

    private func remove(_ ids: [String], bounce: Bool) async -> ControlResponse {
        var lines: [String] = []
        var ok = true
        for id in ids {
            guard runner.claim(id) else {
                lines.append("\(id): being delivered right now; try again when the attempt ends (or hold it first)")
                ok = false
                continue
            }
            defer { runner.unclaim(id) }
            do {
                let spool = self.spool
                let done = bounce ? try await runner.bounceByAdministrator(id)
                                  : try await threadPool.runIfActive { try spool.delete(id) }
                if done && !bounce { logger.log(.queueDeleted(queueID: id)) }
                lines.append("\(id): " + (done ? (bounce ? "bounced to the sender" : "deleted") : "not in the queue"))
                ok = ok && done
            } catch {
                lines.append("\(id): failed: \(error)")
                ok = false
            }
        }
        return ControlResponse(ok: ok, lines: lines)
    }
}

import Foundation
import ServiceLifecycle

/// Sends the TLS reports (RFC 8460 §4.1: a report per day): a pass at start and
/// every hour after, which finds the days that ended and not yet reported, and a
/// pass whenever the administrator asks (`veil tls report`, over the control
/// socket), which reports today's sessions so far as well. Passes run one after
/// the other, never two at once, so no session is reported twice.
final class TLSReportService: Service {
    /// A pass to make; `reply` (for `veil tls report`) gets what it did.
    struct Request: Sendable {
        var includingToday: Bool
        var reply: CheckedContinuation<TLSReportSender.Pass, Never>?
    }

    private let sender: TLSReportSender
    private let requests: AsyncStream<Request>
    private let continuation: AsyncStream<Request>.Continuation
    /// Between the passes that look for days to report.
    static let interval = Duration.seconds(3600)

    init(sender: TLSReportSender) {
        self.sender = sender
        (requests, continuation) = AsyncStream.makeStream(of: Request.self)
    }

    /// Structured: the hourly timer is a child task.
    func run() async throws {
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                group.addTask { [continuation] in
                    while !Task.isCancelled {
                        continuation.yield(Request(includingToday: false, reply: nil))
                        try? await Task.sleep(for: Self.interval)
                    }
                }
                for await request in requests {
                    let pass = await sender.send(now: Date(), includingToday: request.includingToday)
                    request.reply?.resume(returning: pass)
                }
                group.cancelAll()
            }
        } onGracefulShutdown: {
            // Passes asked for already are still made; no new ones.
            self.continuation.finish()
        }
    }

    /// `veil tls report`: a pass over every day counted, today's sessions so far
    /// included, once it is done.
    func sendNow() async -> TLSReportSender.Pass {
        await withCheckedContinuation { reply in
            if case .terminated = continuation.yield(Request(includingToday: true, reply: reply)) {
                reply.resume(returning: .init(ok: false, lines: ["veil is stopping: no reports sent"]))
            }
        }
    }
}

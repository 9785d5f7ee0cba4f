import NIOConcurrencyHelpers
import NIOCore

/// The open connections of a server or client, so that a shutdown can reach them:
/// tell each one to finish (a user event), wait for them to close, and close what
/// is left after a grace period.
public final class ChannelRegistry: Sendable {
    private let channels = NIOLockedValueBox([ObjectIdentifier: any Channel]())

    public init() {}

    /// Keeps `channel` until it closes.
    public func add(_ channel: any Channel) {
        let key = ObjectIdentifier(channel)
        channels.withLockedValue { $0[key] = channel }
        channel.closeFuture.whenComplete { _ in
            self.channels.withLockedValue { _ = $0.removeValue(forKey: key) }
        }
    }

    public var count: Int {
        channels.withLockedValue { $0.count }
    }

    /// Sends `event` down each open connection's pipeline, waits up to `grace` for
    /// all to close, then closes the rest.
    public func drain(event: (any Sendable)?, grace: Duration) async {
        let open = channels.withLockedValue { Array($0.values) }
        if let event {
            for channel in open { channel.pipeline.fireUserInboundEventTriggered(event) }
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for channel in open { try? await channel.closeFuture.get() }
            }
            group.addTask { try? await Task.sleep(for: grace) }
            await group.next()
            group.cancelAll()
        }
        closeAll()
    }

    public func closeAll() {
        for channel in channels.withLockedValue({ Array($0.values) }) {
            channel.close(promise: nil)
        }
    }
}

import NIOConcurrencyHelpers
import NIOCore

/// The open connections of a server or client, so that a shutdown can reach them:
/// tell each one to finish (a user event), wait for them to close, and close what
/// is left after a grace period.
public final class ChannelRegistry: Sendable {
    private struct State {
        var channels: [ObjectIdentifier: any Channel] = [:]
        /// After ``closeAll()``, connections still being opened are closed as they come.
        var closed = false
    }

    private let state = NIOLockedValueBox(State())

    public init() {}

    /// Keeps `channel` until it closes.
    public func add(_ channel: any Channel) {
        let key = ObjectIdentifier(channel)
        let kept = state.withLockedValue { state in
            guard !state.closed else { return false }
            state.channels[key] = channel
            return true
        }
        guard kept else {
            channel.close(promise: nil)
            return
        }
        channel.closeFuture.whenComplete { _ in
            self.state.withLockedValue { _ = $0.channels.removeValue(forKey: key) }
        }
    }

    public var count: Int {
        state.withLockedValue { $0.channels.count }
    }

    /// Sends `event` down each open connection's pipeline; returns once every one
    /// has handled it.
    public func notifyAll(_ event: any Sendable) async {
        let open = state.withLockedValue { Array($0.channels.values) }
        for channel in open {
            try? await channel.eventLoop.submit { channel.pipeline.fireUserInboundEventTriggered(event) }.get()
        }
    }

    /// Waits up to `grace` for every open connection to close, then closes the rest.
    public func drain(grace: Duration) async {
        let open = state.withLockedValue { Array($0.channels.values) }
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

    /// Closes every connection, now and from now on.
    public func closeAll() {
        let open = state.withLockedValue { state in
            state.closed = true
            return Array(state.channels.values)
        }
        for channel in open { channel.close(promise: nil) }
    }
}

import Connections
import NIOCore
import ServiceLifecycle
import SMTPNIO

/// Serves each connection of `server` in its own task until a graceful shutdown,
/// which closes the listening socket and every open connection (the control
/// socket and the metrics endpoint: short requests, nothing to drain).
func serveConnections<Inbound: Sendable, Outbound: Sendable>(
    of server: NIOAsyncChannel<NIOAsyncChannel<Inbound, Outbound>, Never>, registry: ChannelRegistry,
    _ serve: @escaping @Sendable (NIOAsyncChannel<Inbound, Outbound>) async -> Void
) async {
    await withGracefulShutdownHandler {
        await withDiscardingTaskGroup { group in
            try? await server.executeThenClose { connections in
                for try await connection in connections {
                    group.addTask { await serve(connection) }
                }
            }
        }
    } onGracefulShutdown: {
        server.channel.close(promise: nil)
        registry.closeAll()
    }
}

import Connections
import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import SMTPNIO

/// The control socket: a Unix socket (mode 0600) on which `veil queue` sends one
/// ``ControlRequest`` as a JSON line and reads one ``ControlResponse`` back.
final class ControlService: Service {
    typealias Server = NIOAsyncChannel<NIOAsyncChannel<ByteBuffer, ByteBuffer>, Never>

    private let server: Server
    private let connections: ChannelRegistry
    private let path: String
    private let administration: QueueAdministration
    private let logger: Logger
    /// A request is a few queue ids; anything longer is not `veil queue`.
    static let maximumRequestSize = 1 << 20

    /// Binds the socket before the daemon announces readiness: created under a
    /// temporary name, made owner-only, then renamed into place, so nobody else can
    /// ever connect to it.
    static func bind(path: String, group: any EventLoopGroup, configuration: Configuration,
                     connections: ChannelRegistry) async throws -> Server {
        let temporary = path + ".new"
        do {
            let server = try await ServerBootstrap(group: group)
                .bind(unixDomainSocketPath: temporary, cleanupExistingSocketFile: true) { channel in
                    connections.add(channel)
                    return channel.eventLoop.makeCompletedFuture {
                        try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                    }
                }
            guard chmod(temporary, 0o600) == 0, rename(temporary, path) == 0 else {
                let code = errno
                try? await server.channel.close()
                throw POSIXError(POSIXErrorCode(rawValue: code) ?? .EIO)
            }
            return server
        } catch {
            throw ConfigError(file: configuration.file, line: configuration.controlSocketLine, key: "control_socket",
                              problem: "cannot listen on \(path): \(error)")
        }
    }

    init(server: Server, connections: ChannelRegistry, path: String, administration: QueueAdministration, logger: Logger) {
        self.server = server
        self.connections = connections
        self.path = path
        self.administration = administration
        self.logger = logger
    }

    func run() async throws {
        await serveConnections(of: server, registry: connections) { await self.serve($0) }
        unlink(path)
    }

    /// One request line in, one response line out.
    private func serve(_ connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>) async {
        // `veil queue` sends its request at once: a connection silent for 10 s is closed.
        let channel = connection.channel
        let deadline = channel.eventLoop.scheduleTask(in: .seconds(10)) { channel.close(promise: nil) }
        try? await connection.executeThenClose { inbound, outbound in
            var request = ByteBuffer()
            for try await chunk in inbound {
                request.writeImmutableBuffer(chunk)
                if request.readableBytesView.contains(UInt8(ascii: "\n")) { break }
                guard request.readableBytes <= Self.maximumRequestSize else { return }
            }
            deadline.cancel()
            let response: ControlResponse
            if let decoded = try? JSONDecoder().decode(ControlRequest.self, from: Data(request.readableBytesView)) {
                response = await administration.perform(decoded)
            } else {
                response = ControlResponse(ok: false, lines: ["not a veil queue request"])
            }
            var data = try JSONEncoder().encode(response)
            data.append(UInt8(ascii: "\n"))
            try await outbound.write(ByteBuffer(bytes: data))
        }
    }
}

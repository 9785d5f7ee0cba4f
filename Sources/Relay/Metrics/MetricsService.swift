import Connections
import CoreMetrics
import LogEvents
import Logging
import MailQueue
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus
import ServiceLifecycle
import SMTPNIO

/// `[metrics] address`: serves `GET /metrics` in the Prometheus text format (0.0.4),
/// one request per connection. The queue gauges are read from the index at each
/// scrape.
final class MetricsService: Service {
    private let registry: PrometheusCollectorRegistry
    private let spool: Spool
    private let threadPool: NIOThreadPool
    private let server: NIOAsyncChannel<NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, Never>
    private let logger: Logger
    private let connections: ChannelRegistry

    /// Sets up swift-metrics to record into Prometheus, then binds the endpoint
    /// (before the daemon says it is ready).
    static func start(configuration: Configuration, spool: Spool, group: any EventLoopGroup, threadPool: NIOThreadPool,
                      logger: Logger) async throws -> MetricsService? {
        guard let host = configuration.metrics.host else { return nil }
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        // Delivery latency: seconds to days (greylisting, retries).
        factory.durationHistogramBuckets["veil_delivery_latency_seconds"] = [.milliseconds(100), .milliseconds(500), .seconds(1), .seconds(5), .seconds(30),
                                                .seconds(60), .seconds(300), .seconds(1800), .seconds(3600), .seconds(14400),
                                                .seconds(86400)]
        MetricsSystem.bootstrap(factory)
        let connections = ChannelRegistry()
        do {
            let server = try await ServerBootstrap(group: group)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .bind(host: host, port: configuration.metrics.port) { channel in
                    connections.add(channel)
                    return channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                        return try NIOAsyncChannel(wrappingChannelSynchronously: channel,
                                                   configuration: .init(inboundType: HTTPServerRequestPart.self,
                                                                        outboundType: HTTPServerResponsePart.self))
                    }
                }
            logger.log(.metricsListening(host: host, port: server.channel.localAddress?.port ?? 0))
            return MetricsService(registry: registry, spool: spool, threadPool: threadPool, server: server, logger: logger,
                                  connections: connections)
        } catch {
            throw ConfigError(file: configuration.file, line: configuration.metrics.addressLine, key: "metrics.address",
                              problem: "cannot listen on \(host):\(configuration.metrics.port): \(error)")
        }
    }

    private init(registry: PrometheusCollectorRegistry, spool: Spool, threadPool: NIOThreadPool,
                 server: NIOAsyncChannel<NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, Never>,
                 logger: Logger, connections: ChannelRegistry) {
        self.connections = connections
        self.registry = registry
        self.spool = spool
        self.threadPool = threadPool
        self.server = server
        self.logger = logger
    }

    func run() async throws {
        await serveConnections(of: server, registry: connections) { await self.serve($0) }
    }

    private func serve(_ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>) async {
        // A scrape is one quick request: a connection still open after 10 s is closed.
        let channel = connection.channel
        let deadline = channel.eventLoop.scheduleTask(in: .seconds(10)) { channel.close(promise: nil) }
        defer { deadline.cancel() }
        try? await connection.executeThenClose { inbound, outbound in
            var head: HTTPRequestHead?
            for try await part in inbound {
                switch part {
                case .head(let request): head = request
                case .body: continue
                case .end:
                    guard let request = head else { return }
                    let (status, body) = await response(to: request)
                    var headers = HTTPHeaders()
                    headers.add(name: "Content-Type", value: status == .ok ? "text/plain; version=0.0.4" : "text/plain")
                    headers.add(name: "Content-Length", value: "\(body.count)")
                    headers.add(name: "Connection", value: "close")
                    try await outbound.write(.head(HTTPResponseHead(version: request.version, status: status, headers: headers)))
                    try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: body))))
                    try await outbound.write(.end(nil))
                    return
                }
            }
        }
    }

    private func response(to request: HTTPRequestHead) async -> (HTTPResponseStatus, [UInt8]) {
        guard request.method == .GET, request.uri == "/metrics" else {
            return (.notFound, Array("GET /metrics\n".utf8))
        }
        await refreshQueueGauges()
        return (.ok, registry.emitToBuffer())
    }

    /// Queue size by state and the oldest message's age, as of now.
    private func refreshQueueGauges() async {
        let spool = self.spool
        guard let summary = try? await threadPool.runIfActive({ try spool.summary() }) else { return }
        Gauge(label: "veil_queue_messages").record(summary.messages)
        Gauge(label: "veil_queue_held_messages").record(summary.held)
        for state in [RecipientState.queued, .deferred] {
            Gauge(label: "veil_queue_recipients", dimensions: [("state", state.rawValue)]).record(summary.recipients[state, default: 0])
        }
        let age = summary.oldest.map { max(0, -$0.timeIntervalSinceNow) } ?? 0
        Gauge(label: "veil_queue_oldest_message_age_seconds").record(age)
    }
}

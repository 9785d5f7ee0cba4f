import NIOCore
import SMTPCore

/// What one or more connections of `veil-bench load` did.
struct ConnectionResult: Sendable {
    /// Per accepted message, nanoseconds from writing its text to reading its 250.
    var latencies: [Int64] = []
    /// Messages this connection was given but did not get a 250 for.
    var failed = 0
    /// The first thing that went wrong, for the report.
    var error: String?
    /// How the text went: "BDAT" or "DATA".
    var transfer: String?

    mutating func add(_ other: ConnectionResult) {
        latencies += other.latencies
        failed += other.failed
        error = error ?? other.error
        transfer = transfer ?? other.transfer
    }
}

/// Carries out a ``LoadSession`` on one connection: messages `first ..< first +
/// count`; `done` gets the result when the connection has closed.
final class LoadClientHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var session: LoadSession
    private var parser = SMTPReplyParser()
    private var received = ByteBuffer()
    private let message: ExchangeMessage
    private var nextIndex: Int
    private let count: Int
    private var textWrittenAt = NIODeadline.uptimeNanoseconds(0)
    private var result = ConnectionResult()
    private let done: EventLoopPromise<ConnectionResult>

    init(session: LoadSession, message: ExchangeMessage, first: Int, count: Int, done: EventLoopPromise<ConnectionResult>) {
        self.session = session
        self.message = message
        self.nextIndex = first
        self.count = count
        self.done = done
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        if received.readableBytes == 0 { received = incoming } else { received.writeBuffer(&incoming) }
        while true {
            switch parser.next(from: &received) {
            case .needMoreData:
                received.discardReadBytes()
                return
            case .invalid:
                failConnection("not an SMTP reply", context: context)
                return
            case .reply(let reply):
                for action in session.received(reply) { perform(action, context: context) }
            }
        }
    }

    private func perform(_ action: LoadSession.Action, context: ChannelHandlerContext) {
        switch action {
        case .send(let lines):
            var out = context.channel.allocator.buffer(capacity: 64 * lines.count)
            for line in lines { out.writeString(line + "\r\n") }
            context.writeAndFlush(wrapOutboundOut(out), promise: nil)
        case .sendText(let chunking):
            let text = message.text(index: nextIndex)
            nextIndex += 1
            result.transfer = chunking ? "BDAT" : "DATA"
            textWrittenAt = .now()
            if chunking {
                context.write(wrapOutboundOut(ByteBuffer(string: "BDAT \(text.readableBytes) LAST\r\n")), promise: nil)
                context.writeAndFlush(wrapOutboundOut(text), promise: nil)
            } else {
                context.write(wrapOutboundOut(text), promise: nil)
                context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: ".\r\n")), promise: nil)
            }
        case .accepted:
            result.latencies.append(Int64(NIODeadline.now().uptimeNanoseconds - textWrittenAt.uptimeNanoseconds))
        case .close:
            context.close(promise: nil)
        case .fail(let reply):
            failConnection("\(reply)", context: context)
        }
    }

    private func failConnection(_ error: String, context: ChannelHandlerContext) {
        result.error = result.error ?? error
        context.close(promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        failConnection("\(error)", context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if session.state != .closed, result.error == nil { result.error = "the server closed the connection" }
        result.failed = count - result.latencies.count
        done.succeed(result)
    }
}

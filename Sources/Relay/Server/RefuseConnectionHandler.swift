import NIOCore

/// Answers a connection that is over a limit with one reply (421, RFC 5321 §3.1)
/// and closes it.
final class RefuseConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let reply: String

    init(reply: String) {
        self.reply = reply
    }

    func handlerAdded(context: ChannelHandlerContext) {
        // Added after the PROXY header, the channel is already active.
        if context.channel.isActive { refuse(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        refuse(context: context)
    }

    private func refuse(context: ChannelHandlerContext) {
        let buffer = context.channel.allocator.buffer(string: reply)
        context.writeAndFlush(wrapOutboundOut(buffer)).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
}

import NIOCore

/// Reads the PROXY protocol header at the start of a connection, then lets
/// `onHeader` build the session pipeline for the real client address, passes on
/// the bytes that followed the header, and leaves the pipeline. A connection that
/// does not start with a valid header is closed without a word.
public final class ProxyProtocolHandler: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer

    /// Builds the rest of the pipeline; the address is nil for LOCAL/UNKNOWN headers.
    public typealias SessionSetUp = (any Channel, ProxyHeaderParser.ClientAddress?) throws -> Void

    /// v2 headers may carry TLVs; anything longer than this is not a sane header.
    static let maximumHeaderLength = 4096
    /// A load balancer sends the header at once; a connection still silent after
    /// this long is closed.
    static let headerTimeout = TimeAmount.seconds(10)

    private let onHeader: SessionSetUp
    private var buffer = ByteBuffer()
    private var done = false

    public init(onHeader: @escaping SessionSetUp) {
        self.onHeader = onHeader
    }

    public func channelActive(context: ChannelHandlerContext) {
        context.eventLoop.assumeIsolated().scheduleTask(in: Self.headerTimeout) {
            if !self.done { context.close(promise: nil) }
        }
        context.fireChannelActive()
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        guard !done else {
            context.fireChannelRead(data)
            return
        }
        buffer.writeBuffer(&bytes)
        switch ProxyHeaderParser.parse(buffer.readableBytesView) {
        case .needMoreData where buffer.readableBytes < Self.maximumHeaderLength:
            return
        case .needMoreData, .invalid:
            done = true
            context.close(promise: nil)
        case .header(let source, let length):
            done = true
            buffer.moveReaderIndex(forwardBy: length)
            do {
                try onHeader(context.channel, source)
            } catch {
                context.close(promise: nil)
                return
            }
            if buffer.readableBytes > 0 {
                context.fireChannelRead(wrapInboundOut(buffer))
            }
            buffer = ByteBuffer()
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }
    }
}

import NIOCore

/// Learns the negotiated cipher suite by reading the ServerHello (swift-nio-ssl does
/// not expose the cipher): as it goes out on the server side, as it comes in on the
/// client side. Sits on the network side of the TLS handler and looks only at the
/// first record in each direction.
///
/// RFC 8446 §4.1.3 / RFC 5246 §7.4.1.3: record header (5 bytes), handshake type 2,
/// length (3), legacy_version (2), random (32), session id (1 + n), cipher_suite (2).
public final class TLSCipherRecorder: ChannelDuplexHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    /// The IANA name of the cipher, once known.
    public private(set) var cipherName: String?
    private var sawFirstRecord = false
    private var sawFirstInboundRecord = false

    public init() {}

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if !sawFirstRecord {
            sawFirstRecord = true
            record(unwrapOutboundIn(data))
        }
        context.write(data, promise: promise)
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if !sawFirstInboundRecord {
            sawFirstInboundRecord = true
            record(unwrapInboundIn(data))
        }
        context.fireChannelRead(data)
    }

    private func record(_ bytes: ByteBuffer) {
        if let suite = Self.cipherSuite(inServerHello: bytes) {
            cipherName = Self.names[suite] ?? "0x" + String(suite, radix: 16, uppercase: true)
        }
    }

    static func cipherSuite(inServerHello record: ByteBuffer) -> UInt16? {
        let view = record.readableBytesView
        let start = view.startIndex
        // handshake record, ServerHello message
        guard view.count >= 44, view[start] == 0x16, view[start + 5] == 0x02 else { return nil }
        let sessionIDLength = Int(view[start + 43])
        let suiteIndex = start + 44 + sessionIDLength
        guard suiteIndex + 1 < view.endIndex else { return nil }
        return UInt16(view[suiteIndex]) << 8 | UInt16(view[suiteIndex + 1])
    }

    /// The suites BoringSSL can negotiate as a server.
    static let names: [UInt16: String] = [
        0x1301: "TLS_AES_128_GCM_SHA256",
        0x1302: "TLS_AES_256_GCM_SHA384",
        0x1303: "TLS_CHACHA20_POLY1305_SHA256",
        0xC02B: "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        0xC02C: "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        0xC02F: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        0xC030: "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        0xCCA8: "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        0xCCA9: "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        0xC013: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
        0xC014: "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
        0xC009: "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
        0xC00A: "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
        0x009C: "TLS_RSA_WITH_AES_128_GCM_SHA256",
        0x009D: "TLS_RSA_WITH_AES_256_GCM_SHA384",
        0x002F: "TLS_RSA_WITH_AES_128_CBC_SHA",
        0x0035: "TLS_RSA_WITH_AES_256_CBC_SHA",
    ]
}

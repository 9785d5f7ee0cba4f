/// A Content-Transfer-Encoding (RFC 2045 §6.1) as far as Veil reads it.
enum TransferEncoding: Equatable {
    /// 7bit, 8bit and binary (RFC 2045 §6.2): the bytes are the content. A missing
    /// field means 7bit.
    case identity
    case base64
    case quotedPrintable
    /// Anything else (x-uuencode, a token nobody defined): not decoded.
    case other

    init(field: ArraySlice<UInt8>?) {
        guard let field else {
            self = .identity
            return
        }
        let value = ContentTypeField.fieldValueToken(field)
        switch value {
        case [], Self.sevenBit, Self.eightBit, Self.binary: self = .identity
        case Self.base64Name: self = .base64
        case Self.quotedPrintableName: self = .quotedPrintable
        default: self = .other
        }
    }

    private static let sevenBit = Array("7bit".utf8)
    private static let eightBit = Array("8bit".utf8)
    private static let binary = Array("binary".utf8)
    private static let base64Name = Array("base64".utf8)
    private static let quotedPrintableName = Array("quoted-printable".utf8)
}

/// One stage of the pipeline a part's content goes through, chunk by chunk: a
/// decoder, a rewrite, an encoder.
protocol ContentCoder: Sendable {
    mutating func code(_ input: UnsafeRawBufferPointer, into output: inout [UInt8])
    /// The end of the content: what the stage still holds.
    mutating func finish(into output: inout [UInt8])
}

/// 7bit, 8bit, binary: the bytes are the content.
struct IdentityCoder: ContentCoder {
    func code(_ input: UnsafeRawBufferPointer, into output: inout [UInt8]) {
        output += input
    }

    func finish(into output: inout [UInt8]) {}
}

extension TransferEncoding {
    /// What decodes content in this encoding (`other` encodings are read as they stand).
    func decoder() -> any ContentCoder {
        switch self {
        case .identity, .other: IdentityCoder()
        case .base64: Base64Decoder()
        case .quotedPrintable: QuotedPrintableDecoder()
        }
    }

    /// What encodes content again in this encoding.
    func encoder() -> any ContentCoder {
        switch self {
        case .identity, .other: IdentityCoder()
        case .base64: Base64Encoder()
        case .quotedPrintable: QuotedPrintableEncoder()
        }
    }
}

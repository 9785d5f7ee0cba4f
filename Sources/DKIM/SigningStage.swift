import Crypto
import Foundation
import MessageRewriter
import NIOCore

/// Signs one message as its scrubbed text streams to the spool (RFC 6376 §5), with
/// no second read: the header block is held until it ends (the rewriter bounds its
/// size); then the keys of its From: domain are chosen, room for their
/// DKIM-Signature fields is left at the top of the file, and the body streams on
/// through the body hash. At the end ``PendingSignatures`` makes the fields that
/// fill that room, so that what is signed is exactly what is sent.
public struct SigningStage {
    private enum Phase {
        /// Collecting the header block.
        case header([UInt8])
        /// Signing: the body goes through the hash.
        case body(HeaderBlock, [Keyring.Entry], [SignatureField])
        /// No key for this message: text passes as it is.
        case unsigned
    }

    private let keyring: Keyring
    private let timestamp: Int
    private var phase: Phase = .header([])
    private var body = RelaxedBody()

    /// `now`: the signing time (`t=`).
    public init(keyring: Keyring, now: Date) {
        self.keyring = keyring
        self.timestamp = Int(now.timeIntervalSince1970)
    }

    /// Takes the rewriter's output and leaves in `buffers` what goes to the file,
    /// in order.
    public mutating func process(_ buffers: inout [ByteBuffer]) {
        switch phase {
        case .unsigned:
            return
        case .body:
            for buffer in buffers { buffer.withUnsafeReadableBytes { body.update($0) } }
        case .header(var block):
            let searchFrom = max(0, block.count - 3)
            for buffer in buffers { block += buffer.readableBytesView }
            buffers.removeAll(keepingCapacity: true)
            guard let end = Self.endOfHeader(in: block, from: searchFrom) else {
                phase = .header(block)
                return
            }
            // Without the empty line that ends the block.
            start(block, headerLength: max(0, end - 2), bodyStart: end, into: &buffers)
        }
    }

    /// The end of the message: leaves in `buffers` what is still to be written, and
    /// returns the signatures to make, nil when the message is not signed.
    public mutating func finish(_ buffers: inout [ByteBuffer]) -> PendingSignatures? {
        if case .header(let block) = phase {
            // No body: the whole text is the header block.
            start(block, headerLength: block.count, bodyStart: block.count, into: &buffers)
        }
        guard case .body(let header, let entries, let fields) = phase else { return nil }
        let bodyHash = Data(body.finalize()).base64EncodedString()
        return PendingSignatures(header: header, signatures: zip(entries, fields).map { entry, field in
            .init(key: entry.key, field: field, bodyHash: bodyHash)
        })
    }

    /// `d/s` of each signature ("contoso.example/veil2026"), empty when unsigned.
    public var signers: [String] {
        guard case .body(_, let entries, _) = phase else { return [] }
        return entries.map { "\($0.domain)/\($0.selector)" }
    }

    /// The header block is complete: its fields are `block[..<headerLength]`, the
    /// body starts at `bodyStart`.
    private mutating func start(_ block: [UInt8], headerLength: Int, bodyStart: Int, into buffers: inout [ByteBuffer]) {
        let header = HeaderBlock(block[..<headerLength])
        let domain = header.from.flatMap { AddressField.domains(in: Array($0)).first }
        let entries = domain.map(keyring.entries(forFromDomain:)) ?? []
        guard !entries.isEmpty else {
            phase = .unsigned
            buffers.insert(ByteBuffer(bytes: block), at: 0)
            return
        }
        let fields = entries.map { entry in
            SignatureField(algorithm: entry.key.algorithm, domain: entry.domain, selector: entry.selector,
                           timestamp: timestamp, signedHeaders: header.signedNames(entry.headers),
                           signatureLength: entry.key.signatureLength)
        }
        phase = .body(header, entries, fields)
        var text = ByteBuffer(bytes: fields.flatMap { $0.placeholder() })
        text.writeBytes(block)
        buffers.insert(text, at: 0)
        block[bodyStart...].withUnsafeBytes { body.update($0) }
    }

    /// The index after the empty line ending the header block (`CRLF CRLF`, or a
    /// block that starts with CRLF: no fields at all).
    static func endOfHeader(in block: [UInt8], from start: Int) -> Int? {
        if block.starts(with: [0x0D, 0x0A]) { return 2 }
        var index = start
        while index + 3 < block.count {
            if block[index] == 0x0D, block[index + 1] == 0x0A, block[index + 2] == 0x0D, block[index + 3] == 0x0A {
                return index + 4
            }
            index += 1
        }
        return nil
    }
}

/// The signatures of one message, made at its end off the event loop (the header
/// hash, and an RSA signature takes a millisecond or more).
public struct PendingSignatures: Sendable {
    struct Signature: Sendable {
        var key: SigningKey
        var field: SignatureField
        var bodyHash: String
    }

    let header: HeaderBlock
    let signatures: [Signature]

    /// The DKIM-Signature fields, exactly as long as the room left for them at the
    /// top of the file.
    public func fields() throws -> [UInt8] {
        try signatures.flatMap { signature in
            // The signed fields, then this DKIM-Signature with an empty b= (§3.7).
            let headerData = header.canonicalized(signature.field.signedHeaders) + signature.field.signedForm(bodyHash: signature.bodyHash)
            let digest = SHA256.hash(data: headerData)
            let value = try signature.key.sign(digest)
            // The only part of the field whose length is not fixed in advance.
            guard value.count == signature.field.signatureLength else { throw SizeMismatch() }
            return signature.field.rendered(bodyHash: signature.bodyHash, signature: Data(value).base64EncodedString())
        }
    }

    /// A signature longer or shorter than the key promised: never written.
    struct SizeMismatch: Error, CustomStringConvertible {
        var description: String { "the signature does not fit the room left for it" }
    }
}

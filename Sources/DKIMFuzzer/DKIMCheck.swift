import Crypto
import DKIM
import Foundation
import FuzzSupport
import NIOCore

/// One fuzz case for DKIM signing: the relaxed canonicalizations (RFC 6376 §3.4)
/// and the signing stage over any bytes a client could make the scrubber emit. The
/// body hash and the signed file must not depend on how the text arrives; the
/// header canonicalization is idempotent; the signatures always fit the room left
/// for them; and the text after them is the input, byte for byte.
enum DKIMCheck {
    /// Made for each case: a key kept in a global is reported as leaked by
    /// LeakSanitizer (its pointer hides in the enum's spare bits).
    static func keyring() -> Keyring {
        Keyring(entries: [.init(domain: "contoso.example", selector: "fuzz",
                                key: .ed25519(try! Curve25519.Signing.PrivateKey(rawRepresentation: [UInt8](repeating: 7, count: 32))),
                                subdomains: true)],
                asciiDomain: { $0.lowercased() })
    }

    static func run(_ input: [UInt8]) {
        let whole = bodyHash(input, splits: [])
        precondition(bodyHash(input, splits: Fuzzing.splits(of: input)) == whole, "body hash depends on the split points")
        if input.count <= 256 {
            precondition(bodyHash(input, splits: Array(0..<input.count)) == whole, "body hash differs byte by byte")
        }

        let canonical = RelaxedHeader.canonicalize(input)
        precondition(RelaxedHeader.canonicalize(canonical) == canonical, "header canonicalization is not idempotent")

        // As a message From: the signed domain, and as it came.
        for text in [Array("From: a@contoso.example\r\n".utf8) + input, input] {
            let file = signed(text, splits: [])
            precondition(signed(text, splits: Fuzzing.splits(of: text)) == file, "signed file depends on the split points")
            precondition(file.count >= text.count && Array(file.suffix(text.count)) == text, "the text was changed")
        }
    }

    static func bodyHash(_ input: [UInt8], splits: [Int]) -> [UInt8] {
        var body = RelaxedBody()
        var start = 0
        for end in splits + [input.count] where end >= start {
            body.update(Array(input[start..<end]))
            start = end
        }
        return Array(body.finalize())
    }

    /// The file the spool would hold, signatures filled in.
    static func signed(_ input: [UInt8], splits: [Int]) -> [UInt8] {
        var stage = SigningStage(keyring: keyring(), now: Date(timeIntervalSince1970: 1_796_000_000))
        var file: [UInt8] = []
        var start = 0
        for end in splits + [input.count] where end >= start {
            var buffers = [ByteBuffer(bytes: input[start..<end])]
            stage.process(&buffers)
            for buffer in buffers { file += buffer.readableBytesView }
            start = end
        }
        var buffers: [ByteBuffer] = []
        let pending = stage.finish(&buffers)
        for buffer in buffers { file += buffer.readableBytesView }
        if let pending {
            guard let fields = try? pending.fields() else { preconditionFailure("the signatures do not fit their room") }
            precondition(fields.count <= file.count, "the signatures are longer than the file")
            file.replaceSubrange(0..<fields.count, with: fields)
        }
        return file
    }
}

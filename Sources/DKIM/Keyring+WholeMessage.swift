import Foundation
import NIOCore

/// Signing a message Veil makes itself and holds whole in memory (a TLS report,
/// RFC 8460 §5.3), through the same ``SigningStage`` that signs relayed mail.
extension Keyring {
    /// The same keys, each also signing `fields` (lower-cased, each once): RFC 8460
    /// §5.3 wants `TLS-Report-Domain` and `TLS-Report-Submitter` signed.
    public func alsoSigning(_ fields: [String]) -> Keyring {
        Keyring(entries: entries.map { entry in
            Entry(domain: entry.domain, selector: entry.selector, key: entry.key, subdomains: entry.subdomains,
                  headers: entry.headers + fields)
        }, asciiDomain: asciiDomain)
    }

    /// `message` (CRLF line ends) with the DKIM-Signature fields of its From:
    /// domain's keys on top; unchanged when no key signs for that domain. `now` is
    /// the signing time (`t=`).
    public func sign(_ message: [UInt8], now: Date) throws -> [UInt8] {
        var stage = SigningStage(keyring: self, now: now)
        var buffers = [ByteBuffer(bytes: message)]
        stage.process(&buffers)
        let pending = stage.finish(&buffers)
        var signed = buffers.flatMap { Array($0.readableBytesView) }
        if let pending {
            // The stage left room of exactly this length at the top.
            let fields = try pending.fields()
            signed.replaceSubrange(0..<fields.count, with: fields)
        }
        return signed
    }
}

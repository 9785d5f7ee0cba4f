import Dispatch
import DKIM
import Foundation
import NIOCore

/// DKIM signing on top of the rewriter's output: the signing stage (header block,
/// body hash) and the signature made at the commit, per 10 KB Exchange message.
/// Microseconds per message.
func signingCost(_ key: SigningKey, count: Int) -> Double {
    let keyring = Keyring(entries: [.init(domain: "contoso.com", selector: "bench", key: key, subdomains: true)],
                          asciiDomain: { $0 })
    let messages = (0..<64).map {
        ByteBuffer(string: exchangeHeader($0) + String(repeating: "Lorem ipsum dolor sit amet.\r\n", count: 245))
    }
    let start = DispatchTime.now()
    for index in 0..<count {
        var stage = SigningStage(keyring: keyring, now: Date())
        var buffers = [messages[index % messages.count]]
        stage.process(&buffers)
        guard let pending = stage.finish(&buffers), (try? pending.fields()) != nil else { fatalError("not signed") }
    }
    return seconds(start) * 1e6 / Double(count)
}

/// The body hash (relaxed canonicalization, SHA-256) of a 50 MB message in 64 KB
/// pieces; MB/s.
func bodyHashThroughput(size: Int) -> Double {
    let piece = ByteBuffer(string: String(repeating: "Lorem ipsum dolor sit amet, consectetur adipiscing elit.  \r\n", count: 1100))
    var body = RelaxedBody()
    let start = DispatchTime.now()
    var hashed = 0
    while hashed < size {
        piece.withUnsafeReadableBytes { body.update($0) }
        hashed += piece.readableBytes
    }
    _ = body.finalize()
    return Double(hashed) / 1_048_576 / seconds(start)
}

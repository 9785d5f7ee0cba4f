import Crypto

/// The keyed hash of the Message-ID mapping and the MIME boundaries:
/// HMAC-SHA256 (RFC 2104) from swift-crypto, keyed once and copied for each id.
struct HMACKey: Sendable {
    private let keyed: HMAC<SHA256>

    init(_ key: [UInt8]) {
        keyed = HMAC(key: SymmetricKey(data: key))
    }

    func authenticate(_ message: UnsafeRawBufferPointer) -> [UInt8] {
        var mac = keyed
        mac.update(data: message)
        return Array(mac.finalize())
    }
}

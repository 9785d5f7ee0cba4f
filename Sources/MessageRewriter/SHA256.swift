/// SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104), for the keyed Message-ID
/// mapping. Written out here so that the rewriter depends on NIOCore only; checked
/// against the FIPS and RFC 4231 test vectors. Allocation-free: the ids it hashes
/// are short and there are several in every message.
enum SHA256 {
    /// The eight working words of the hash.
    struct State: Sendable {
        var h: (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32)

        static let initial = State(h: (0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                       0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19))

        var bytes: [UInt8] {
            [UInt8](unsafeUninitializedCapacity: 32) { buffer, count in
                for (index, word) in [h.0, h.1, h.2, h.3, h.4, h.5, h.6, h.7].enumerated() {
                    buffer[4 * index] = UInt8(truncatingIfNeeded: word >> 24)
                    buffer[4 * index + 1] = UInt8(truncatingIfNeeded: word >> 16)
                    buffer[4 * index + 2] = UInt8(truncatingIfNeeded: word >> 8)
                    buffer[4 * index + 3] = UInt8(truncatingIfNeeded: word)
                }
                count = 32
            }
        }
    }

    private static let roundConstants: [UInt32] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
    ]

    /// Hashes `message` starting from `state`, after `prefixLength` bytes already
    /// absorbed in whole blocks (for HMAC's precomputed key blocks).
    static func digest(_ message: UnsafeRawBufferPointer, from state: State = .initial, prefixLength: Int = 0) -> State {
        var state = state
        var offset = 0
        while message.count - offset >= 64 {
            compress(&state, UnsafeRawBufferPointer(rebasing: message[offset..<(offset + 64)]))
            offset += 64
        }
        // The last block(s): the rest, 0x80, zeros, the length in bits.
        let rest = message.count - offset
        let blocks = rest + 9 > 64 ? 2 : 1
        let bitLength = UInt64(prefixLength + message.count) &* 8
        withUnsafeTemporaryAllocation(byteCount: 128, alignment: 8) { tail in
            tail.initializeMemory(as: UInt8.self, repeating: 0)
            tail.copyMemory(from: UnsafeRawBufferPointer(rebasing: message[offset...]))
            tail[rest] = 0x80
            for index in 0..<8 {
                tail[blocks * 64 - 1 - index] = UInt8(truncatingIfNeeded: bitLength >> (8 * UInt64(index)))
            }
            for block in 0..<blocks {
                compress(&state, UnsafeRawBufferPointer(rebasing: tail[(block * 64)..<(block * 64 + 64)]))
            }
        }
        return state
    }

    static func hash(_ bytes: [UInt8]) -> [UInt8] {
        bytes.withUnsafeBytes { digest($0).bytes }
    }

    static func hmac(key: [UInt8], message: [UInt8]) -> [UInt8] {
        message.withUnsafeBytes { HMACKey(key).authenticate($0) }
    }

    /// One round of the compression function over a 64-byte block.
    static func compress(_ state: inout State, _ block: UnsafeRawBufferPointer) {
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 64) { words in
            for index in 0..<16 {
                words[index] = UInt32(block[4 * index]) << 24 | UInt32(block[4 * index + 1]) << 16
                    | UInt32(block[4 * index + 2]) << 8 | UInt32(block[4 * index + 3])
            }
            for index in 16..<64 {
                let s0 = words[index - 15].rotatedRight(7) ^ words[index - 15].rotatedRight(18) ^ (words[index - 15] >> 3)
                let s1 = words[index - 2].rotatedRight(17) ^ words[index - 2].rotatedRight(19) ^ (words[index - 2] >> 10)
                words[index] = words[index - 16] &+ s0 &+ words[index - 7] &+ s1
            }
            var (a, b, c, d, e, f, g, h) = state.h
            roundConstants.withUnsafeBufferPointer { constants in
                for index in 0..<64 {
                    let s1 = e.rotatedRight(6) ^ e.rotatedRight(11) ^ e.rotatedRight(25)
                    let choice = (e & f) ^ (~e & g)
                    let temp1 = h &+ s1 &+ choice &+ constants[index] &+ words[index]
                    let s0 = a.rotatedRight(2) ^ a.rotatedRight(13) ^ a.rotatedRight(22)
                    let majority = (a & b) ^ (a & c) ^ (b & c)
                    (h, g, f, e, d, c, b, a) = (g, f, e, d &+ temp1, c, b, a, temp1 &+ s0 &+ majority)
                }
            }
            state.h = (state.h.0 &+ a, state.h.1 &+ b, state.h.2 &+ c, state.h.3 &+ d,
                       state.h.4 &+ e, state.h.5 &+ f, state.h.6 &+ g, state.h.7 &+ h)
        }
    }
}

/// An HMAC-SHA256 key with its inner and outer blocks already absorbed (RFC 2104
/// §2, block size 64), so each id costs two short hashes.
struct HMACKey: Sendable {
    private let inner: SHA256.State
    private let outer: SHA256.State

    init(_ key: [UInt8]) {
        var block = key.count > 64 ? SHA256.hash(key) : key
        block += [UInt8](repeating: 0, count: 64 - block.count)
        var inner = SHA256.State.initial
        var outer = SHA256.State.initial
        block.map { $0 ^ 0x36 }.withUnsafeBytes { SHA256.compress(&inner, $0) }
        block.map { $0 ^ 0x5c }.withUnsafeBytes { SHA256.compress(&outer, $0) }
        self.inner = inner
        self.outer = outer
    }

    func authenticate(_ message: UnsafeRawBufferPointer) -> [UInt8] {
        let innerDigest = SHA256.digest(message, from: inner, prefixLength: 64).bytes
        return innerDigest.withUnsafeBytes { SHA256.digest($0, from: outer, prefixLength: 64).bytes }
    }
}

extension UInt32 {
    fileprivate func rotatedRight(_ count: UInt32) -> UInt32 {
        (self >> count) | (self << (32 - count))
    }
}

/// Base32 (RFC 4648 §6) in lower case without padding: safe in a Message-ID's left
/// part and in a MIME boundary.
enum Base32 {
    private static let alphabet = Array("abcdefghijklmnopqrstuvwxyz234567".utf8)

    static func encode(_ bytes: [UInt8]) -> String {
        var output: [UInt8] = []
        encode(bytes, into: &output)
        return String(decoding: output, as: UTF8.self)
    }

    static func encode(_ bytes: [UInt8], into output: inout [UInt8]) {
        output.reserveCapacity(output.count + (bytes.count * 8 + 4) / 5)
        var buffer: UInt32 = 0
        var bits = 0
        for byte in bytes {
            buffer = buffer << 8 | UInt32(byte)
            bits += 8
            while bits >= 5 {
                bits -= 5
                output.append(alphabet[Int(buffer >> UInt32(bits) & 31)])
            }
        }
        if bits > 0 { output.append(alphabet[Int(buffer << UInt32(5 - bits) & 31)]) }
    }
}

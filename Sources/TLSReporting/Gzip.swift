import CZlib

/// gzip (RFC 1952) through zlib: reports are sent compressed (RFC 8460 §5.2).
/// Written here because no Swift gzip package is at hand; zlib is the library.
public enum Gzip {
    /// A zlib status other than success (`Z_MEM_ERROR`, `Z_STREAM_ERROR`, ...).
    public struct Failure: Error, Equatable {
        public var code: Int32
    }

    /// `windowBits` 15 (a 32 KiB window) plus 16: a gzip header and trailer instead
    /// of zlib's (zlib.h, `deflateInit2`).
    static let gzipWindowBits: Int32 = 15 + 16
    /// zlib's default memory level.
    static let memoryLevel: Int32 = 8
    /// Output is gathered in pieces of this size.
    static let chunkSize = 16 * 1024

    /// `bytes` as one gzip member: no file name, modification time 0, so the
    /// same input always gives the same output with a given zlib.
    public static func compress(_ bytes: [UInt8]) throws(Failure) -> [UInt8] {
        guard let inputCount = UInt32(exactly: bytes.count) else { throw Failure(code: Z_BUF_ERROR) }
        var stream = z_stream()
        let initStatus = deflateInit2_(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, gzipWindowBits, memoryLevel, Z_DEFAULT_STRATEGY,
                                       ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        guard initStatus == Z_OK else { throw Failure(code: initStatus) }
        defer { deflateEnd(&stream) }

        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: chunkSize)
        let status = bytes.withUnsafeBufferPointer { input -> Int32 in
            stream.next_in = input.baseAddress.map { UnsafeMutablePointer(mutating: $0) }
            stream.avail_in = inputCount
            while true {
                let (status, produced) = chunk.withUnsafeMutableBufferPointer { out -> (Int32, Int) in
                    stream.next_out = out.baseAddress
                    stream.avail_out = UInt32(out.count)
                    let status = deflate(&stream, Z_FINISH)
                    return (status, out.count - Int(stream.avail_out))
                }
                output.append(contentsOf: chunk[..<produced])
                // Z_OK with Z_FINISH: more output to come.
                guard status == Z_OK else { return status }
            }
        }
        guard status == Z_STREAM_END else { throw Failure(code: status) }
        return output
    }
}

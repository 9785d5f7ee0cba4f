import CZlib

/// zlib's inflate with automatic gzip/zlib header detection (`windowBits` 15 + 32),
/// to check what ``Gzip`` wrote without trusting it. Nil when the data is not one
/// whole, intact stream.
func inflate(_ bytes: [UInt8]) -> [UInt8]? {
    var stream = z_stream()
    guard inflateInit2_(&stream, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else { return nil }
    defer { inflateEnd(&stream) }
    var output: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    var input = bytes
    let status = input.withUnsafeMutableBufferPointer { input -> Int32 in
        stream.next_in = input.baseAddress
        stream.avail_in = UInt32(input.count)
        while true {
            let (status, produced) = chunk.withUnsafeMutableBufferPointer { out -> (Int32, Int) in
                stream.next_out = out.baseAddress
                stream.avail_out = UInt32(out.count)
                let status = CZlib.inflate(&stream, Z_NO_FLUSH)
                return (status, out.count - Int(stream.avail_out))
            }
            output.append(contentsOf: chunk[..<produced])
            guard status == Z_OK else { return status }
        }
    }
    guard status == Z_STREAM_END, stream.avail_in == 0 else { return nil }
    return output
}

#if canImport(Glibc)
import Glibc
#endif
import NIOCore

/// A queued message's file, read a chunk at a time: all of it, or only its header
/// block (reading stops at the empty line). Memory does not grow with the message:
/// a RET=FULL report (RFC 3461 §4.3) of a 50 MB message copies it 64 KB at a time.
final class MessageFileReader {
    /// Bytes per read.
    static let chunkSize = 64 * 1024
    private let descriptor: CInt

    /// Opens the file at `path`; nil when there is none.
    init?(path: String) throws(SpoolError) {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            if errno == ENOENT { return nil }
            throw .fromErrno("open \(path)", errno)
        }
        self.descriptor = descriptor
    }

    deinit {
        close(descriptor)
    }

    /// Passes the file's bytes to `body` in order, a read of `chunkSize` at a time;
    /// with `headerBlockOnly`, only those before the empty line that ends the header
    /// block (all of them when there is none).
    func read(headerBlockOnly: Bool, chunkSize: Int = MessageFileReader.chunkSize,
              _ body: (ByteBuffer) throws(SpoolError) -> Void) throws(SpoolError) {
        var buffer = ByteBufferAllocator().buffer(capacity: chunkSize)
        var scanner = HeaderBlockScanner()
        while true {
            // Keeps in front the CR the scanner could not place yet, if any.
            buffer.discardReadBytes()
            let room = max(chunkSize - buffer.readableBytes, 1)
            var failure: CInt = 0
            let count = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: room) { space in
                var count: Int
                repeat { count = Glibc.read(descriptor, space.baseAddress, room) } while count < 0 && errno == EINTR
                if count < 0 { failure = errno }
                return max(count, 0)
            }
            if failure != 0 { throw .fromErrno("read", failure) }
            if count == 0 {
                // The end of the file: a CR kept back is header text.
                if buffer.readableBytes > 0 { try body(buffer) }
                return
            }
            guard headerBlockOnly else {
                try body(buffer.readSlice(length: buffer.readableBytes)!)
                continue
            }
            let (length, ended) = buffer.withUnsafeReadableBytes { scanner.scan($0) }
            if length > 0 { try body(buffer.readSlice(length: length)!) }
            if ended { return }
        }
    }
}

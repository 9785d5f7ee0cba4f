#if canImport(Glibc)
import Glibc
#endif
import NIOCore

/// A message file being received into `incoming/`. It becomes part of the queue only
/// through ``Spool/commit(_:envelope:receivedAt:)``; anything left in `incoming/`
/// after a crash is removed at start-up.
///
/// Owned by one connection at a time; `@unchecked Sendable` because the commit runs
/// on a thread pool while the connection waits for it.
public final class IncomingMessage: @unchecked Sendable {
    public let queueID: String
    let path: String
    private var descriptor: CInt
    public private(set) var size = 0

    init(queueID: String, path: String, descriptor: CInt) {
        self.queueID = queueID
        self.path = path
        self.descriptor = descriptor
    }

    deinit {
        if descriptor >= 0 { abort() }
    }

    /// Appends bytes to the file (page cache; made durable by the commit).
    public func write(_ buffer: ByteBuffer) throws(SpoolError) {
        var failure: SpoolError?
        buffer.withUnsafeReadableBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = Glibc.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    failure = .fromErrno("write", errno)
                    return
                }
                offset += written
            }
        }
        if let failure { throw failure }
        size += buffer.readableBytes
    }

    /// Replaces bytes already written (room left at the top for fields made once
    /// the text has ended, such as DKIM signatures); `bytes` must fit in what was
    /// written.
    public func overwrite(_ bytes: [UInt8], at offset: Int) throws(SpoolError) {
        guard offset >= 0, offset + bytes.count <= size else { throw .fromErrno("overwrite past the end of the message", EINVAL) }
        var done = 0
        while done < bytes.count {
            let written = bytes.withUnsafeBytes { pwrite(descriptor, $0.baseAddress! + done, bytes.count - done, off_t(offset + done)) }
            if written < 0 {
                if errno == EINTR { continue }
                throw .fromErrno("pwrite", errno)
            }
            done += written
        }
    }

    /// fsync and close the file.
    func finish() throws(SpoolError) {
        defer { close() }
        if fsync(descriptor) != 0 { throw .fromErrno("fsync", errno) }
    }

    /// Drops the file: the transaction failed or the connection went away.
    public func abort() {
        close()
        unlink(path)
    }

    private func close() {
        if descriptor >= 0 {
            Glibc.close(descriptor)
            descriptor = -1
        }
    }
}

import NIOCore

/// Builds the output of one chunk: runs of the chunk that pass unchanged become
/// slices of it; held runs are skipped, and new bytes are put where the walker
/// inserts them.
struct ChunkEmitter {
    let chunk: ByteBuffer
    private var output: [ByteBuffer] = []
    /// Where the run that passes unchanged begins.
    private var passFrom = 0

    init(chunk: ByteBuffer) {
        self.chunk = chunk
    }

    /// `range` of the chunk does not pass (it is held, dropped or rewritten).
    mutating func hold(_ range: Range<Int>) {
        pass(upTo: range.lowerBound)
        passFrom = range.upperBound
    }

    /// New bytes where the chunk stands now (after everything passed or held so far).
    mutating func insert(_ bytes: [UInt8]) {
        if !bytes.isEmpty { output.append(ByteBuffer(bytes: bytes)) }
    }

    mutating func insert(_ buffer: ByteBuffer) {
        if buffer.readableBytes > 0 { output.append(buffer) }
    }

    /// Everything before chunk offset `index` passes now, so that bytes inserted next
    /// come after it.
    mutating func passAll(upTo index: Int) {
        precondition(index >= passFrom, "bytes would pass twice")
        pass(upTo: index)
        passFrom = index
    }

    func finish(into buffers: inout [ByteBuffer]) {
        buffers += output
        if passFrom < chunk.readableBytes {
            buffers.append(chunk.getSlice(at: chunk.readerIndex + passFrom, length: chunk.readableBytes - passFrom)!)
        }
    }

    private mutating func pass(upTo index: Int) {
        if index > passFrom {
            output.append(chunk.getSlice(at: chunk.readerIndex + passFrom, length: index - passFrom)!)
        }
    }
}

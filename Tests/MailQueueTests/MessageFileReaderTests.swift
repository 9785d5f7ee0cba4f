import Foundation
import NIOCore
import Testing
@testable import MailQueue

/// A spool file read in chunks gives the same bytes whatever the chunk size: the
/// empty line (CR LF or LF) may fall across two reads.
@Suite struct MessageFileReaderTests {
    func read(_ text: String, headerBlockOnly: Bool, chunkSize: Int) throws -> String {
        let path = temporaryDirectory() + "/message"
        #expect(FileManager.default.createFile(atPath: path, contents: Data(text.utf8)))
        let file = try #require(try MessageFileReader(path: path))
        var bytes: [UInt8] = []
        try file.read(headerBlockOnly: headerBlockOnly, chunkSize: chunkSize) { piece throws(SpoolError) in
            #expect(piece.readableBytes > 0)
            bytes += piece.readableBytesView
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static let chunkSizes = Array(1...7) + [MessageFileReader.chunkSize]

    /// The bytes before the empty line; all of them when there is none.
    @Test(arguments: [
        ("Subject: a\r\nX-A: 1\r\n\r\nbody\r\n\r\nmore\r\n", "Subject: a\r\nX-A: 1\r\n"),
        ("Subject: a\nX-A: 1\n\nbody\n", "Subject: a\nX-A: 1\n"),
        ("\r\nbody\r\n", ""),
        ("\nbody\n", ""),
        // A CR not followed by LF is text, not the empty line.
        ("Subject: a\r\n\rX\r\n\r\nbody\r\n", "Subject: a\r\n\rX\r\n"),
        ("Subject: a\r\n\r", "Subject: a\r\n\r"),
        ("Subject: a\r\n", "Subject: a\r\n"),
        ("Subject: a", "Subject: a"),
        ("", ""),
    ])
    func headerBlock(message: String, expected: String) throws {
        for chunkSize in Self.chunkSizes {
            #expect(try read(message, headerBlockOnly: true, chunkSize: chunkSize) == expected, "chunk size \(chunkSize)")
        }
    }

    @Test func wholeFile() throws {
        let message = "Subject: a\r\n\r\n" + String(repeating: "0123456789abcdef\r\n", count: 10_000)
        for chunkSize in Self.chunkSizes {
            #expect(try read(message, headerBlockOnly: false, chunkSize: chunkSize) == message, "chunk size \(chunkSize)")
        }
    }

    @Test func aMissingFileIsNil() throws {
        #expect(try MessageFileReader(path: temporaryDirectory() + "/none") == nil)
    }
}

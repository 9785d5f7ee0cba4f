#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing

/// Messages are bytes (attachments, NUL bytes, 8-bit text): the few operations the
/// tests need on them, and the shared fixture files.
extension Array where Element == UInt8 {
    /// The UTF-8 bytes of `text`.
    init(_ text: String) { self = Array(text.utf8) }

    /// The UTF-8 bytes of `text` with its LF line ends made CRLF (a hand-written part).
    init(crlf text: String) { self = Array(text.replacingOccurrences(of: "\n", with: "\r\n").utf8) }

    /// What follows the first empty line (CRLF CRLF), or nothing.
    var body: [UInt8] {
        guard let end = firstRange(of: [13, 10, 13, 10]) else { return [] }
        return Array(self[end.upperBound...])
    }

    func has(_ needle: String) -> Bool { firstRange(of: Array(needle.utf8)) != nil }

    func occurrences(of needle: String) -> Int { ranges(of: Array(needle.utf8)).count }

    func replacing(_ old: String, with new: String) -> [UInt8] {
        replacing(Array(old.utf8), with: Array(new.utf8))
    }

    /// The secrets found in the bytes, case-insensitively, as they are and unfolded
    /// (a folded "via Frontend" CRLF " Transport" still counts).
    func leaked(_ secrets: [String]) -> [String] {
        let lowered = map { (65...90).contains($0) ? $0 + 32 : $0 }
        var unfolded: [UInt8] = []
        unfolded.reserveCapacity(lowered.count)
        for (index, byte) in lowered.enumerated() {
            let next = index + 1 < lowered.count ? lowered[index + 1] : 0
            let afterNext = index + 2 < lowered.count ? lowered[index + 2] : 0
            if byte == 10 && (next == 32 || next == 9) { continue }
            if byte == 13 && next == 10 && (afterNext == 32 || afterNext == 9) { continue }
            unfolded.append(byte)
        }
        return secrets.filter { secret in
            let needle = Array(secret.lowercased().utf8)
            return Self.occurs(needle, in: lowered) || Self.occurs(needle, in: unfolded)
        }
    }

    /// A plain search with memchr and memcmp: the messages can be megabytes.
    static func occurs(_ needle: [UInt8], in haystack: [UInt8]) -> Bool {
        guard let first = needle.first else { return true }
        return haystack.withUnsafeBufferPointer { h in
            needle.withUnsafeBufferPointer { n in
                guard let base = h.baseAddress else { return false }
                var start = 0
                while start + n.count <= h.count {
                    guard let found = memchr(base + start, Int32(first), h.count - n.count + 1 - start) else { return false }
                    let at = found.assumingMemoryBound(to: UInt8.self) - UnsafeMutablePointer(mutating: base)
                    if memcmp(base + at, n.baseAddress!, n.count) == 0 { return true }
                    start = at + 1
                }
                return false
            }
        }
    }

    /// Lines with their line ends (LF or CRLF); the last one may have none.
    var lines: [ArraySlice<UInt8>] {
        var result: [ArraySlice<UInt8>] = []
        var start = startIndex
        while start < endIndex {
            let end = self[start...].firstIndex(of: 10).map { $0 + 1 } ?? endIndex
            result.append(self[start..<end])
            start = end
        }
        return result
    }
}

extension Collection where Element == UInt8 {
    /// The bytes as text (for failed expectations, and searches that are simpler in text).
    var text: String { String(decoding: self, as: UTF8.self) }
}

/// The hand-made and real Exchange messages of Tests/e2e/corpus, which the
/// end-to-end suite sends through the daemon: read from the source tree.
enum Corpus {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("e2e").appendingPathComponent("corpus")

    static func bytes(_ path: String) -> [UInt8] {
        let url = directory.appendingPathComponent(path)
        guard let data = FileManager.default.contents(atPath: url.path) else {
            Issue.record("no fixture at \(url.path)")
            return []
        }
        return Array(data)
    }

    /// The names of the .eml files in a folder of the corpus, sorted.
    static func messages(in folder: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.appendingPathComponent(folder).path)) ?? []
        return names.filter { $0.hasSuffix(".eml") }.sorted().map { "\(folder)/\($0)" }
    }

    /// The strings of NN-name.secrets that must not survive scrubbing.
    static func secrets(_ stem: String) -> [String] {
        bytes("\(stem).secrets").text.split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
    }
}


import FuzzSupport
import NIOCore
import SMTPCore

/// One fuzz case for what reads commands and replies off the wire: the command
/// line framer, the command parser (paths, parameters) and the reply parser. None
/// may crash, and what the framer and the reply parser find must not depend on how
/// the bytes arrive.
enum CommandCheck {
    static func run(_ input: [UInt8]) {
        let policy: BareNewlinePolicy = input.first.map { $0 & 1 == 0 } ?? true ? .reject : .normalize
        let lines = frame(input, splits: [], policy: policy)
        precondition(frame(input, splits: Fuzzing.splits(of: input), policy: policy) == lines,
                     "command lines depend on the split points")
        for case .line(let line) in lines {
            _ = SMTPCommandParser.parse(line.readableBytesView)
        }
        _ = SMTPCommandParser.parse(input[...])

        let replies = parseReplies(input, splits: [])
        precondition(parseReplies(input, splits: Fuzzing.splits(of: input)) == replies, "replies depend on the split points")
        for case .reply(let reply) in replies {
            precondition((200..<600).contains(reply.code), "reply code \(reply.code)")
        }
    }

    static func frame(_ input: [UInt8], splits: [Int], policy: BareNewlinePolicy) -> [CommandLineFramer.Result] {
        var framer = CommandLineFramer(policy: policy)
        var buffer = ByteBuffer()
        var results: [CommandLineFramer.Result] = []
        var start = 0
        for end in splits + [input.count] where end > start {
            buffer.writeBytes(input[start..<end])
            start = end
            while true {
                let result = framer.nextLine(from: &buffer, maximumLength: 510)
                if result == .needMoreData { break }
                results.append(result)
                if result == .bareNewline { return results }
            }
        }
        return results
    }

    static func parseReplies(_ input: [UInt8], splits: [Int]) -> [SMTPReplyParser.Result] {
        var parser = SMTPReplyParser()
        var buffer = ByteBuffer()
        var results: [SMTPReplyParser.Result] = []
        var start = 0
        for end in splits + [input.count] where end > start {
            buffer.writeBytes(input[start..<end])
            start = end
            while true {
                let result = parser.next(from: &buffer)
                if result == .needMoreData { break }
                results.append(result)
                if result == .invalid { return results }
            }
        }
        return results
    }
}

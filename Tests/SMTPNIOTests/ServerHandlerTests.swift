import Foundation
import Logging
import NIOCore
import NIOEmbedded
import SMTPCore
import Testing
@testable import SMTPNIO

/// A delegate that keeps messages in memory.
final class MemoryDelegate: SMTPServerDelegate, @unchecked Sendable {
    final class Sink: MessageSink {
        let delegate: MemoryDelegate
        var bytes: [UInt8] = []
        init(delegate: MemoryDelegate) { self.delegate = delegate }
        func write(_ text: ByteBuffer) -> SMTPReply? {
            bytes += text.readableBytesView
            return nil
        }
        func finish() -> SMTPReply? { nil }
        func commit(_ envelope: Envelope, eventLoop: any EventLoop) -> EventLoopFuture<String> {
            delegate.stored.append(bytes)
            return eventLoop.makeSucceededFuture("Q\(delegate.stored.count)")
        }
        func abort() {}
    }

    var stored: [[UInt8]] = []

    func authenticate(_ credentials: Credentials, mechanism: SASLMechanism, client: ClientInfo,
                      eventLoop: any EventLoop) -> EventLoopFuture<SMTPServerStateMachine.AuthenticationResult> {
        eventLoop.makeSucceededFuture(credentials.password == "demo" ? .success(AuthenticatedUser(name: credentials.username, allowedDomains: nil)) : .invalidCredentials)
    }

    func startMessage(client: ClientInfo, envelope: Envelope, user: AuthenticatedUser?) throws(SMTPReply) -> any MessageSink {
        Sink(delegate: self)
    }
}

/// The session handler on an EmbeddedChannel, fed whole, byte by byte and at random
/// split points: the replies and the stored messages must not depend on the split.
@Suite struct ServerHandlerTests {
    struct Outcome: Equatable {
        var replies: String
        var messages: [[UInt8]]
    }

    func run(_ input: [UInt8], splits: [Int], maximumMessageSize: Int = 1 << 20) throws -> Outcome {
        let delegate = MemoryDelegate()
        let configuration = SMTPServerHandler.Configuration(
            session: SMTPServerConfiguration(hostname: "relay.test", tlsMode: .none, authMode: .optional,
                                             maximumMessageSize: maximumMessageSize, maximumRecipients: 10, maximumErrors: 20),
            bareNewline: .reject, commandTimeout: .minutes(5), dataTimeout: .minutes(10), tlsContext: nil)
        let handler = SMTPServerHandler(configuration: configuration,
                                        client: ClientInfo(address: "127.0.0.1", port: 1, listener: "test"),
                                        isRelayClient: true, delegate: delegate, logger: Logger(label: "test"))
        let channel = EmbeddedChannel(handler: handler)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 25)).wait()
        var start = 0
        for end in splits + [input.count] where end > start {
            try channel.writeInbound(ByteBuffer(bytes: input[start..<end]))
            start = end
        }
        var replies = ""
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) {
            replies += String(buffer: buffer)
        }
        _ = try? channel.finish()
        return Outcome(replies: replies, messages: delegate.stored)
    }

    func everySplit(_ text: [UInt8], maximumMessageSize: Int = 1 << 20) throws -> Outcome {
        let whole = try run(text, splits: [], maximumMessageSize: maximumMessageSize)
        #expect(try run(text, splits: Array(1..<text.count), maximumMessageSize: maximumMessageSize) == whole)
        for _ in 0..<20 {
            let splits = (0..<4).map { _ in Int.random(in: 1..<text.count) }.sorted()
            #expect(try run(text, splits: splits, maximumMessageSize: maximumMessageSize) == whole, "\(splits)")
        }
        return whole
    }

    func codes(_ replies: String) -> [String] {
        replies.components(separatedBy: "\r\n").filter { $0.count > 3 && Array($0.utf8)[3] == UInt8(ascii: " ") }
            .map { String($0.prefix(3)) }
    }

    @Test func pipelinedDataSession() throws {
        let session = Array("EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\nSubject: t\r\n\r\n..dot\r\n.\r\nQUIT\r\n".utf8)
        let outcome = try everySplit(session)
        #expect(codes(outcome.replies) == ["220", "250", "250", "250", "354", "250", "221"])
        #expect(outcome.replies.contains("250 2.0.0 Ok: queued as Q1\r\n"))
        #expect(outcome.messages == [Array("Subject: t\r\n\r\n.dot\r\n".utf8)])
    }

    @Test func bdatIsLengthFramedAndBinarySafe() throws {
        let chunk1: [UInt8] = Array("Subject: b\r\n\r\n\r\n.\r\n".utf8) + [0, 0xFF, 0x0D]
        let chunk2: [UInt8] = Array("\ntail\r\n".utf8)
        var session = Array("EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nBDAT \(chunk1.count)\r\n".utf8)
        session += chunk1 + Array("BDAT \(chunk2.count) LAST\r\n".utf8) + chunk2 + Array("NOOP\r\n".utf8)
        let outcome = try everySplit(session)
        #expect(codes(outcome.replies) == ["220", "250", "250", "250", "250", "250", "250"])
        #expect(outcome.messages == [chunk1 + chunk2])
    }

    @Test func bareLineEndsInBDATAreRefusedAfterTheLastChunk() throws {
        let chunk: [UInt8] = Array("Subject: b\r\n\r\nbare\nlf\r\n".utf8)
        var session = Array("EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nBDAT \(chunk.count) LAST\r\n".utf8)
        session += chunk + Array("NOOP\r\n".utf8)
        let outcome = try everySplit(session)
        #expect(codes(outcome.replies) == ["220", "250", "250", "250", "554", "250"])
        #expect(outcome.messages.isEmpty)
    }

    @Test func bdatRSETDropsTheChunksReceived() throws {
        var session = Array("EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nBDAT 14\r\nSubject: old\r\n".utf8)
        session += Array("RSET\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\nSubject: new\r\n\r\nx\r\n.\r\n".utf8)
        let outcome = try everySplit(session)
        #expect(codes(outcome.replies) == ["220", "250", "250", "250", "250", "250", "250", "250", "354", "250"])
        #expect(outcome.messages == [Array("Subject: new\r\n\r\nx\r\n".utf8)])
    }

    @Test func hugeBDATChunkIsRefusedAndTheSessionClosed() throws {
        let session = Array("EHLO c\r\nBDAT 999999999999999999\r\nzzzz".utf8)
        let outcome = try run(session, splits: [])
        #expect(codes(outcome.replies) == ["220", "250", "552"])
    }

    @Test func oversizeDataIsReadToTheEndThenRefused() throws {
        let body = String(repeating: "x", count: 200)
        let session = Array("EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n\(body)\r\n.\r\nNOOP\r\n".utf8)
        let outcome = try everySplit(session, maximumMessageSize: 100)
        #expect(codes(outcome.replies) == ["220", "250", "250", "250", "354", "552", "250"])
        #expect(outcome.messages.isEmpty)
    }

    @Test func bareLineFeedInDataClosesTheSession() throws {
        let session = Array("EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\nx\n.\nMAIL FROM:<e@f.example>\r\n".utf8)
        let outcome = try everySplit(session)
        #expect(codes(outcome.replies) == ["220", "250", "250", "250", "354", "554"])
        #expect(outcome.messages.isEmpty)
    }

    @Test func longAuthLinesAreAllowedOthersAreNot() throws {
        let long = String(repeating: "A", count: 600)
        let session = Array("EHLO c\r\nNOOP \(long)\r\nAUTH PLAIN \(long)\r\nNOOP\r\n".utf8)
        let outcome = try run(session, splits: [])
        #expect(codes(outcome.replies) == ["220", "250", "500", "501", "250"])
    }
}

@Suite struct GreetingDelayTests {
    func channel() throws -> EmbeddedChannel {
        let configuration = SMTPServerHandler.Configuration(
            session: SMTPServerConfiguration(hostname: "relay.test", tlsMode: .none, authMode: .off,
                                             maximumMessageSize: 1000, maximumRecipients: 10, maximumErrors: 20),
            bareNewline: .reject, commandTimeout: .minutes(5), dataTimeout: .minutes(10),
            greetingDelay: .seconds(2), tlsContext: nil)
        let handler = SMTPServerHandler(configuration: configuration,
                                        client: ClientInfo(address: "127.0.0.1", port: 1, listener: "test"),
                                        isRelayClient: false, delegate: MemoryDelegate(), logger: Logger(label: "test"))
        let channel = EmbeddedChannel(handler: handler)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 25)).wait()
        return channel
    }

    @Test func clientThatWaitsIsGreeted() throws {
        let channel = try channel()
        #expect(try channel.readOutbound(as: ByteBuffer.self) == nil)
        channel.embeddedEventLoop.advanceTime(by: .seconds(2))
        #expect(try channel.readOutbound(as: ByteBuffer.self).map { String(buffer: $0) } == "220 relay.test ESMTP\r\n")
        _ = try? channel.finish()
    }

    @Test func clientThatTalksFirstIsRefused() throws {
        let channel = try channel()
        try channel.writeInbound(ByteBuffer(string: "EHLO early\r\n"))
        let reply = try channel.readOutbound(as: ByteBuffer.self).map { String(buffer: $0) }
        #expect(reply?.hasPrefix("554 5.5.0") == true)
        channel.embeddedEventLoop.advanceTime(by: .seconds(2))
        #expect(!channel.isActive)
    }
}

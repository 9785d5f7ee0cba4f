import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// `veil-bench load`: sends `--count` messages over `--clients` concurrent
/// connections, exactly `--per-connection` messages per connection (the last
/// connection of a client gets fewer when the count runs out), as an Exchange send
/// connector does (LoadSession), and prints one JSON line: messages accepted,
/// seconds, msg/s and the accept latency (end of the text to its 250) p50/p90/p99/max
/// in milliseconds. Used by Benchmarks/relay_bench.py; runs on one event loop thread
/// by default, to leave the other core to the server under test.
struct LoadOptions {
    var host = "127.0.0.1"
    var port = 25
    var clients = 20
    var perConnection = 1
    var count = 20_000
    var size = 10_240
    var sender = "a@corp.example"
    var recipient = "b@example.org"
    var heloName = "exch01.corp.example"
    var chunking = true
    var threads = 1

    static let usage = """
        usage: veil-bench load --port P [--host H] [--clients 20] [--per-connection 1] [--count 20000]
                               [--size 10240] [--from a@corp.example] [--to b@example.org] [--helo NAME]
                               [--data] [--threads 1]
          --data: DATA even when the server offers CHUNKING (BDAT is the default, as Exchange does)
        """

    init(_ arguments: [String]) throws {
        var rest = arguments[...]
        while let name = rest.popFirst() {
            if name == "--data" { chunking = false; continue }
            guard let value = rest.popFirst() else { throw LoadError("\(name) needs a value") }
            func number() throws -> Int {
                guard let number = Int(value), number > 0 else { throw LoadError("\(name) \(value): not a positive number") }
                return number
            }
            switch name {
            case "--host": host = value
            case "--port": port = try number()
            case "--clients": clients = try number()
            case "--per-connection": perConnection = try number()
            case "--count": count = try number()
            case "--size": size = try number()
            case "--from": sender = value
            case "--to": recipient = value
            case "--helo": heloName = value
            case "--threads": threads = try number()
            default: throw LoadError("unknown option \(name)")
            }
        }
    }
}

struct LoadError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The 10 KB message: `exchangeHeader` (about 3 KB, 40 fields, From and To set to
/// the envelope's addresses so that DKIM keys for the sender's domain apply), then
/// plain text lines up to `size` bytes. Each message gets its own Message-ID: the
/// 10 digits at `idOffset` are the message's index.
struct ExchangeMessage: Sendable {
    private let template: ByteBuffer
    private let idOffset: Int

    init(size: Int, sender: String, recipient: String) {
        let header = exchangeHeader(1_000_000_000)
            .replacingOccurrences(of: "alice@contoso.com", with: sender)
            .replacingOccurrences(of: "bob@partner.example", with: recipient)
        let line = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod.\r\n"
        var text = header
        while text.utf8.count + line.utf8.count <= size { text += line }
        let room = size - text.utf8.count
        if room >= 3 { text += String(repeating: "x", count: room - 2) + "\r\n" }
        template = ByteBuffer(string: text)
        idOffset = header.utf8.distance(from: header.startIndex, to: header.range(of: "1000000000@")!.lowerBound)
    }

    func text(index: Int) -> ByteBuffer {
        var text = template
        let digits = String(index)
        text.setString(String(repeating: "0", count: max(0, 10 - digits.utf8.count)) + digits, at: idOffset)
        return text
    }
}

/// Hands out the messages to the clients, `perConnection` at a time.
final class LoadWork: Sendable {
    private let next = NIOLockedValueBox(0)
    let count, perConnection: Int

    init(count: Int, perConnection: Int) {
        self.count = count
        self.perConnection = perConnection
    }

    /// The first index and the number of messages for the next connection, or nil when all are handed out.
    func take() -> (first: Int, count: Int)? {
        next.withLockedValue { next in
            guard next < count else { return nil }
            let taken = min(perConnection, count - next)
            defer { next += taken }
            return (next, taken)
        }
    }
}

/// One client: connection after connection to `address`, each with the next
/// messages, until none are left.
func runClient(_ options: LoadOptions, address: SocketAddress, work: LoadWork, message: ExchangeMessage,
               on eventLoop: any EventLoop, sofar: ConnectionResult = ConnectionResult()) -> EventLoopFuture<ConnectionResult> {
    guard let (first, count) = work.take() else { return eventLoop.makeSucceededFuture(sofar) }
    let done = eventLoop.makePromise(of: ConnectionResult.self)
    let session = LoadSession(messages: count, heloName: options.heloName, sender: options.sender,
                              recipient: options.recipient, allowChunking: options.chunking)
    ClientBootstrap(group: eventLoop)
        .channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(
                    LoadClientHandler(session: session, message: message, first: first, count: count, done: done))
            }
        }
        .connect(to: address)  // not (host:port:), which resolves the name on another thread every time
        .whenFailure { error in done.succeed(ConnectionResult(failed: count, error: "connect: \(error)")) }
    return done.futureResult.flatMap { result in
        var total = sofar
        total.add(result)
        return runClient(options, address: address, work: work, message: message, on: eventLoop, sofar: total)
    }
}

/// The JSON line `veil-bench load` prints.
struct LoadReport: Codable {
    var messages, failed, clients, perConnection: Int
    var transfer: String
    var seconds, messagesPerSecond: Double
    var p50Milliseconds, p90Milliseconds, p99Milliseconds, maxMilliseconds: Double
    var error: String?
}

func runLoad(_ arguments: [String]) -> Int32 {
    let options: LoadOptions
    let address: SocketAddress
    do {
        options = try LoadOptions(arguments)
        address = try SocketAddress.makeAddressResolvingHost(options.host, port: options.port)
    } catch {
        FileHandle.standardError.write("veil-bench load: \(error)\n\(LoadOptions.usage)\n".data(using: .utf8)!)
        return 2
    }
    let group = MultiThreadedEventLoopGroup(numberOfThreads: options.threads)
    defer { try? group.syncShutdownGracefully() }
    let work = LoadWork(count: options.count, perConnection: options.perConnection)
    let message = ExchangeMessage(size: options.size, sender: options.sender, recipient: options.recipient)
    let start = NIODeadline.now()
    let clients = (0..<options.clients).map { _ in
        let eventLoop = group.next()
        return eventLoop.flatSubmit { runClient(options, address: address, work: work, message: message, on: eventLoop) }
    }
    var total = ConnectionResult()
    for client in clients { total.add(try! client.wait()) }
    let seconds = Double((NIODeadline.now() - start).nanoseconds) / 1e9
    let sorted = total.latencies.sorted()
    func percentile(_ p: Double) -> Double {
        sorted.isEmpty ? 0 : Double(sorted[Int((Double(sorted.count - 1) * p).rounded())]) / 1e6
    }
    let report = LoadReport(
        messages: sorted.count, failed: total.failed, clients: options.clients, perConnection: options.perConnection,
        transfer: total.transfer ?? "-", seconds: seconds,
        messagesPerSecond: Double(sorted.count) / seconds, p50Milliseconds: percentile(0.5),
        p90Milliseconds: percentile(0.9), p99Milliseconds: percentile(0.99), maxMilliseconds: percentile(1), error: total.error)
    let encoder = JSONEncoder()
    encoder.outputFormatting = .sortedKeys
    encoder.keyEncodingStrategy = .convertToSnakeCase
    print(String(decoding: try! encoder.encode(report), as: UTF8.self))
    return total.failed == 0 ? 0 : 1
}

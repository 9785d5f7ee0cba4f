import Foundation
import Dispatch
import DKIM
import MessageRewriter
import NIOCore
import SMTPCore

/// Rewriter throughput: body bytes per second on large messages, and whole
/// Exchange-style 10 KB messages per second. Run in release mode (`make bench`).
/// `veil-bench load` is the SMTP load generator of the relay benchmark instead.

let configuration = ScrubConfiguration(
    rules: .allowlist(keep: [], remove: []), rewriteMessageIDs: true,
    key: [UInt8](repeating: 42, count: 32), hostname: "relay.example.com", maximumHeaderSize: 256 * 1024, maximumHops: 50)
let context = MessageContext(traceField: "Received: by relay.example.com (Veil) with ESMTPSA id 01M8N2JN2CQWDJ; Mon, 30 Nov 2026 02:20:00 +0000",
                             date: "Mon, 30 Nov 2026 02:20:00 +0000", generatedMessageID: "<generated@relay.example.com>")

/// A header block as Exchange 2019 sends it to a smart host: about 3 KB, 40 fields.
func exchangeHeader(_ index: Int) -> String {
    var lines = [
        "Received: from MBX02.ad.contoso.local (192.168.20.12) by EXCH01.corp.internal",
        " (10.1.2.3) with Microsoft SMTP Server (version=TLS1_2,",
        " cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) id 15.2.1118.7; Mon, 30 Nov 2026",
        " 02:19:58 +0000",
        "Received: from MBX02.ad.contoso.local ([fe80::5d2a:1c4b:9e7f:3a21]) by",
        " MBX02.ad.contoso.local ([fe80::5d2a:1c4b:9e7f:3a21%12]) with mapi id",
        " 15.02.1118.007; Mon, 30 Nov 2026 02:19:58 +0000",
        "From: Alice Example <alice@contoso.com>",
        "To: Bob Partner <bob@partner.example>",
        "Subject: =?utf-8?B?UXVhcnRlcmx5IHJlcG9ydCDigJMgZHJhZnQ=?=",
        "Thread-Topic: Quarterly report",
        "Thread-Index: AdnK3ZP0x1y2z3a4b5c6d7e8f9g0hA==",
        "Date: Mon, 30 Nov 2026 02:19:57 +0000",
        "Message-ID: <0a1b2c3d4e5f\(index)@MBX02.ad.contoso.local>",
        "References: <aa11bb22cc33@MBX02.ad.contoso.local>",
        " <dd44ee55ff66@MBX02.ad.contoso.local>",
        "In-Reply-To: <dd44ee55ff66@MBX02.ad.contoso.local>",
        "Accept-Language: en-US, de-DE",
        "Content-Language: en-US",
        "X-MS-Has-Attach: ",
        "X-MS-TNEF-Correlator: ",
        "x-ms-exchange-messagesentrepresentingtype: 1",
        "x-ms-exchange-transport-fromentityheader: Hosted",
        "x-originating-ip: [10.20.30.40]",
        "x-ms-exchange-organization-authas: Internal",
        "x-ms-exchange-organization-authsource: EXCH01.corp.internal",
        "x-ms-exchange-organization-authmechanism: 04",
        "x-ms-exchange-organization-network-message-id: 6f1c2d3e-4a5b-6c7d-8e9f-0a1b2c3d4e5f",
        "x-ms-exchange-organization-scl: -1",
        "x-mailer: Microsoft Outlook 16.0",
        "msip_labels: MSIP_Label_3b9f4c2a-1d2e-4f5a-8b6c-7d8e9f0a1b2c_Enabled=true;",
        " MSIP_Label_3b9f4c2a-1d2e-4f5a-8b6c-7d8e9f0a1b2c_SiteId=9a8b7c6d-5e4f-3a2b-1c0d-9e8f7a6b5c4d",
        "Content-Type: text/plain; charset=\"utf-8\"",
        "Content-Transfer-Encoding: quoted-printable",
        "MIME-Version: 1.0",
    ]
    while lines.joined(separator: "\r\n").utf8.count < 3000 {
        lines.append("x-ms-exchange-transport-endtoendlatency: 00:00:01.\(lines.count)123456")
    }
    return lines.joined(separator: "\r\n") + "\r\n\r\n"
}

func seconds(_ start: DispatchTime) -> Double {
    Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
}

/// Streams a message of `size` bytes in 64 KB chunks, `repeats` times; MB/s.
func bodyThroughput(size: Int, repeats: Int) -> Double {
    let header = ByteBuffer(string: exchangeHeader(0))
    let chunk = ByteBuffer(repeating: UInt8(ascii: "x"), count: 64 * 1024)
    var output: [ByteBuffer] = []
    let start = DispatchTime.now()
    var total = 0
    for _ in 0..<repeats {
        var rewriter = MessageRewriter(configuration: configuration, context: context)
        try! rewriter.process(header, into: &output)
        var sent = header.readableBytes
        while sent < size {
            try! rewriter.process(chunk, into: &output)
            sent += chunk.readableBytes
            output.removeAll(keepingCapacity: true)
        }
        try! rewriter.finish(into: &output)
        output.removeAll(keepingCapacity: true)
        total += sent
    }
    return Double(total) / 1_048_576 / seconds(start)
}

/// The whole inbound DATA path for one large message: DataReader (dot-unstuffing,
/// CRLF checks) then the rewriter, in 64 KB reads as they come off a socket; MB/s.
func dataPathThroughput(size: Int) -> Double {
    var wire = ByteBuffer(string: exchangeHeader(0))
    let line = ".Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod.\r\n"
    while wire.readableBytes < size { wire.writeString(line) }
    wire.writeString(".\r\n")
    let start = DispatchTime.now()
    var reader = DataReader(policy: .reject)
    var rewriter = MessageRewriter(configuration: configuration, context: context)
    var text = ByteBuffer()
    var output: [ByteBuffer] = []
    while wire.readableBytes > 0 {
        var read = wire.readSlice(length: min(65536, wire.readableBytes))!
        text.clear()
        _ = reader.read(&read, into: &text)
        try! rewriter.process(text, into: &output)
        output.removeAll(keepingCapacity: true)
    }
    return Double(size) / 1_048_576 / seconds(start)
}

/// Whole 10 KB messages (3 KB header, 7 KB body) in one read; messages/s.
func messageRate(count: Int, configuration: ScrubConfiguration = configuration, multipart: Bool = false) -> Double {
    let messages = (0..<64).map {
        ByteBuffer(string: multipart ? exchangeMultipart($0, attachment: 5500)
                                     : exchangeHeader($0) + String(repeating: "Lorem ipsum dolor sit amet.\r\n", count: 245))
    }
    var output: [ByteBuffer] = []
    let start = DispatchTime.now()
    for index in 0..<count {
        var rewriter = MessageRewriter(configuration: configuration, context: context)
        try! rewriter.process(messages[index % messages.count], into: &output)
        try! rewriter.finish(into: &output)
        output.removeAll(keepingCapacity: true)
    }
    return Double(count) / seconds(start)
}

/// The multipart Exchange sends (boundaries made of the message id and the server
/// name): a text/plain and text/html alternative, then a base64 attachment whose
/// encoded size is about `attachment` bytes.
func exchangeMultipart(_ index: Int, attachment: Int) -> String {
    let outer = "_004_0a1b2c3d4e5f\(index)MBX02adcontosolocal_"
    let inner = "_000_0a1b2c3d4e5f\(index)MBX02adcontosolocal_"
    let header = exchangeHeader(index).replacingOccurrences(
        of: "Content-Type: text/plain; charset=\"utf-8\"\r\nContent-Transfer-Encoding: quoted-printable\r\n",
        with: "Content-Type: multipart/mixed;\r\n\tboundary=\"\(outer)\"\r\n")
    let base64Line = "JVBERi0xLjQKJcfsj6IKNSAwIG9iago8PC9MZW5ndGggNiAwIFI+PgpzdHJlYW0KeJwrVAhUKFQw\r\n"
    return header + """
        --\(outer)\r
        Content-Type: multipart/alternative;\r
        \tboundary="\(inner)"\r
        \r
        --\(inner)\r
        Content-Type: text/plain; charset="utf-8"\r
        Content-Transfer-Encoding: quoted-printable\r
        \r
        \(String(repeating: "Please find the quarterly figures attached.\r\n", count: 20))\r
        --\(inner)\r
        Content-Type: text/html; charset="utf-8"\r
        Content-Transfer-Encoding: quoted-printable\r
        \r
        <html><body><p>Please find the quarterly figures attached.</p></body></html>\r
        \r
        --\(inner)--\r
        \r
        --\(outer)\r
        Content-Type: application/pdf; name="report.pdf"\r
        Content-Disposition: attachment; filename="report.pdf"\r
        Content-Transfer-Encoding: base64\r
        \r
        \(String(repeating: base64Line, count: max(1, attachment / 78)))\r
        --\(outer)--\r

        """
}

/// A 50 MB multipart message with one attachment, in 64 KB reads: body MB/s with the
/// MIME walker following the boundaries (every line start is looked at).
func multipartBodyThroughput(size: Int, repeats: Int) -> Double {
    let message = ByteBuffer(string: exchangeMultipart(0, attachment: size))
    var reads: [ByteBuffer] = []
    var rest = message
    while rest.readableBytes > 0 { reads.append(rest.readSlice(length: min(65536, rest.readableBytes))!) }
    var output: [ByteBuffer] = []
    let start = DispatchTime.now()
    for _ in 0..<repeats {
        var rewriter = MessageRewriter(configuration: configuration, context: context)
        for read in reads {
            try! rewriter.process(read, into: &output)
            output.removeAll(keepingCapacity: true)
        }
        try! rewriter.finish(into: &output)
        precondition(rewriter.mimeRewrites == 8, "the walker did not follow the structure")
        output.removeAll(keepingCapacity: true)
    }
    return Double(message.readableBytes * repeats) / 1_048_576 / seconds(start)
}

/// `veil-bench load ...`: the load generator of Benchmarks/relay_bench.py (LoadGenerator.swift).
if CommandLine.arguments.dropFirst().first == "load" {
    exit(runLoad(Array(CommandLine.arguments.dropFirst(2))))
}

/// `veil-bench [SCALE]`: SCALE (default 1.0) multiplies the work, e.g. 0.01 under valgrind.
let scale = CommandLine.arguments.dropFirst().first.flatMap(Double.init) ?? 1
print("veil-bench: MessageRewriter (allowlist, Message-ID rewrite, MIME walker)")
print(String(format: "  body of 1 MB messages:  %10.0f MB/s  (rewriter alone: body chunks pass as slices)", bodyThroughput(size: 1 << 20, repeats: max(1, Int(200 * scale)))))
print(String(format: "  body of a 50 MB message: %9.0f MB/s", bodyThroughput(size: 50 << 20, repeats: max(1, Int(4 * scale)))))
print(String(format: "  DATA reader + rewriter, 50 MB message: %6.0f MB/s", dataPathThroughput(size: 50 << 20)))
let multipartRate = multipartBodyThroughput(size: 50 << 20, repeats: max(1, Int(4 * scale)))
print(String(format: "  50 MB multipart message, one attachment: %5.0f MB/s  (target >= 1024 MB/s: %@)", multipartRate,
             multipartRate >= 1024 ? "met" : "NOT met"))
print(String(format: "  10 KB Exchange messages: %9.0f messages/s", messageRate(count: max(1, Int(100_000 * scale)))))
print(String(format: "    multipart with boundaries: %5.0f messages/s", messageRate(count: max(1, Int(100_000 * scale)), multipart: true)))
var withoutIDs = configuration
withoutIDs.rewriteMessageIDs = false
print(String(format: "    without id mapping:    %9.0f messages/s", messageRate(count: max(1, Int(100_000 * scale)), configuration: withoutIDs)))
print("veil-bench: DKIM signing (10 KB Exchange messages: header block, body hash, signature)")
let rsaCost = signingCost(try! SigningKey.generate(rsaBits: 2048), count: max(1, Int(2000 * scale)))
let ed25519Cost = signingCost(try! SigningKey.generate(rsaBits: nil), count: max(1, Int(2000 * scale)))
print(String(format: "  RSA-2048:  %7.0f µs per message", rsaCost))
print(String(format: "  Ed25519:   %7.0f µs per message", ed25519Cost))
print(String(format: "  body hash of a 50 MB message: %6.0f MB/s", bodyHashThroughput(size: 50 << 20)))

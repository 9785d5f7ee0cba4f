import Foundation
import Crypto
@testable import MessageRewriter

/// Messages and parts as Exchange 2016/2019 and Outlook 16 write them, for the part
/// content tests: the same shapes as the builders of Tests/e2e/test_mime_content.py,
/// which sends its own through the daemon.
enum ExchangeParts {
    /// A text of Tests/e2e/corpus/mime/parts (shared with the end-to-end suite's
    /// builders) with each @KEY@ replaced by its value, CRLF line ends.
    static func template(_ name: String, _ values: [String: String] = [:]) -> [UInt8] {
        var text = Corpus.bytes("mime/parts/\(name)").text
        for (key, value) in values {
            text = text.replacingOccurrences(of: "@\(key.uppercased())@", with: value)
        }
        return [UInt8](crlf: text)
    }

    /// A message as Exchange 2016 hands it to its smart host: internal Received chain,
    /// Outlook and Exchange stamps; `tag` makes the Message-ID's left part.
    static func message(_ subject: String, tag: String, contentType: [UInt8], body: [UInt8],
                        build: String = "15.1.2507.6") -> [UInt8] {
        template("exchange-header.txt", ["subject": subject, "tag": tag, "build": build]) + contentType
            + [UInt8]("\r\nMIME-Version: 1.0\r\n\r\n") + body
    }

    /// What must not leave from such a message.
    static let secrets = [
        "EXCH01", "EXCH02", "corp.internal", "corpinternal", "10.20.30.40", "10.20.30.5", "10.20.30.6",
        "15.2.1118.7", "15.02.1118.007", "15.1.2507.6", "fe80::1c2d:3eff:fe4f:5a6b", "Microsoft SMTP Server",
        "with mapi", "X-MS-Exchange", "X-Originating-IP", "Thread-Index", "Thread-Topic", "Accept-Language",
        "X-MS-Has-Attach", "X-MS-TNEF-Correlator", "X-Mailer", "Microsoft Outlook 16.0", "AdobQk2f1b0P9mQ3",
    ]

    /// Parts (header, empty line, content, each ending in CRLF) between delimiter lines.
    static func multipartBody(_ boundary: String, _ parts: [[UInt8]]) -> [UInt8] {
        parts.flatMap { [UInt8]("--\(boundary)\r\n") + $0 } + [UInt8]("--\(boundary)--\r\n")
    }

    static func multipartType(_ subtype: String, _ boundary: String) -> [UInt8] {
        [UInt8]("Content-Type: multipart/\(subtype);\r\n\tboundary=\"\(boundary)\"")
    }

    /// Exchange's boundaries: the Message-ID's left part and the server name.
    static func boundary(_ tag: String, kind: String = "004") -> String { "_\(kind)_\(tag)EXCH01corpinternal_" }

    /// A tag made from a case's name, as Exchange's are hex.
    static func tag(_ name: String) -> String {
        String(SHA256.hash(data: Array(name.utf8)).map { String(format: "%02x", $0) }.joined().prefix(32))
    }

    /// A multipart/mixed message of `parts` from Alice, its tag made from `name`.
    static func mixed(_ name: String, _ parts: [[UInt8]]) -> (message: [UInt8], boundary: String) {
        let tag = tag(name)
        let boundary = boundary(tag)
        return (message(name, tag: tag, contentType: multipartType("mixed", boundary), body: multipartBody(boundary, parts)), boundary)
    }

    static func textPart(_ text: String, charset: String = "us-ascii") -> [UInt8] {
        [UInt8]("Content-Type: text/plain; charset=\"\(charset)\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")
            + quotedPrintable([UInt8](crlf: text)) + [13, 10]
    }

    static func htmlPart(_ html: String) -> [UInt8] {
        [UInt8]("Content-Type: text/html; charset=\"us-ascii\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")
            + quotedPrintable([UInt8](crlf: html)) + [13, 10]
    }

    static func encoded(_ data: [UInt8], _ encoding: String) -> [UInt8] {
        switch encoding {
        case "base64": base64Lines(data)
        case "quoted-printable": quotedPrintable(data) + [13, 10]
        default: data + [13, 10]
        }
    }

    static func attachmentPart(_ contentType: String, name: String, data: [UInt8], encoding: String = "base64") -> [UInt8] {
        [UInt8](crlf: """
            Content-Type: \(contentType); name="\(name)"
            Content-Description: \(name)
            Content-Disposition: attachment; filename="\(name)"; size=\(data.count);
            \tcreation-date="Mon, 20 Nov 2023 09:00:00 GMT";
            \tmodification-date="Mon, 20 Nov 2023 09:00:00 GMT"
            Content-Transfer-Encoding: \(encoding)


            """) + encoded(data, encoding)
    }

    /// Exchange writes its TNEF part without Content-Description and size.
    static func tnefPart(_ contentType: String = "application/ms-tnef", name: String = "winmail.dat",
                         encoding: String = "base64", data: [UInt8] = winmail) -> [UInt8] {
        [UInt8]("Content-Type: \(contentType); name=\"\(name)\"\r\nContent-Disposition: attachment; filename=\"\(name)\"\r\n"
                + "Content-Transfer-Encoding: \(encoding)\r\n\r\n") + encoded(data, encoding)
    }

    static let plainText = Corpus.bytes("mime/parts/price-list.txt").text

    // MARK: TNEF

    static let legacyDN = "/O=CONTOSO/OU=EXCHANGE ADMINISTRATIVE GROUP (FYDIBOHF23SPDLT)/CN=RECIPIENTS/CN=ALICE"
    static let tnefServer = "EXMBX02.corp.example"
    static let tnefSignature: [UInt8] = [0x78, 0x9F, 0x3E, 0x22]
    /// What a winmail.dat carries.
    static let tnefSecrets = ["FYDIBOHF23SPDLT", "EXCHANGE ADMINISTRATIVE GROUP", "/O=CONTOSO/OU=", "CN=RECIPIENTS",
                              "EXMBX02", "IPM.Microsoft Mail.Note", "winmail.dat", "ms-tnef"]

    static func littleEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] { withUnsafeBytes(of: value.littleEndian, Array.init) }

    /// [MS-OXTNEF] 2.1.3.3: level, attribute id (type << 16 | id), length, data, checksum.
    static func tnefAttribute(_ level: UInt8, _ attribute: UInt32, _ data: [UInt8]) -> [UInt8] {
        [level] + littleEndian(attribute) + littleEndian(UInt32(data.count)) + data
            + littleEndian(UInt16(truncatingIfNeeded: data.reduce(0) { $0 + Int($1) }))
    }

    /// A PT_STRING8 property of an attMsgProps stream: tag, one value, its length, the
    /// bytes NUL-terminated and padded to 4.
    static func mapiString(_ tag: UInt32, _ value: String) -> [UInt8] {
        let bytes = Array(value.utf8) + [0]
        return littleEndian(tag) + littleEndian(UInt32(1)) + littleEndian(UInt32(bytes.count)) + bytes
            + Array(repeating: 0, count: (4 - bytes.count % 4) % 4)
    }

    /// An Outlook rich-text message as Exchange 2016 wraps it for a remote domain with
    /// TNEFEnabled: signature, legacy key, message attributes naming the sender's
    /// legacy Exchange DN and mailbox server, and one attached file.
    static let winmail: [UInt8] = {
        let properties = [mapiString(0x0C1E_001E, "EX"), mapiString(0x0C1F_001E, legacyDN), mapiString(0x0065_001E, legacyDN),
                          mapiString(0x1035_001E, "<3c2d1e0f9a8b47c6@\(tnefServer)>"), mapiString(0x5D01_001E, tnefServer)]
        let messageProperties = littleEndian(UInt32(properties.count)) + properties.joined()
        let rendering = littleEndian(UInt16(1)) + littleEndian(UInt32.max) + littleEndian(UInt32(0)) + littleEndian(UInt32(0))
            + littleEndian(UInt16(0))
        let attached = Array("%PDF-1.4 % internal price list ".utf8) + Array(repeating: Array(0x20..<0x7F), count: 3).joined()
        return littleEndian(UInt32(0x223E_9F78)) + littleEndian(UInt16(0x1F3C))
            + tnefAttribute(1, 0x0008_9006, littleEndian(UInt32(0x0001_0000)))
            + tnefAttribute(1, 0x0006_9007, littleEndian(UInt32(1252)) + littleEndian(UInt32(0)))
            + tnefAttribute(1, 0x0007_8008, Array("IPM.Microsoft Mail.Note\0".utf8))
            + tnefAttribute(1, 0x0006_9003, messageProperties)
            + tnefAttribute(2, 0x0006_9002, rendering)
            + tnefAttribute(2, 0x0001_8010, Array("pricelist.pdf\0".utf8))
            + tnefAttribute(2, 0x0006_800F, attached)
    }()

    /// A PDF-ish attachment that is not TNEF: it has the signature, not at the start.
    static let pdf: [UInt8] = [UInt8]("%PDF-1.7\n%") + [0xE2, 0xE3, 0xCF, 0xD3]
        + [UInt8]("\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n") + tnefSignature + [UInt8](" not at the start\n")
        + Array(repeating: Array(0...255), count: 8).joined() + [UInt8]("\n%%EOF\n")
    /// The signature at offset 1: not TNEF.
    static let notTNEF: [UInt8] = [0] + winmail

    // MARK: Transfer encodings (RFC 2045 6.7 / 6.8), CRLF kept

    /// base64 in lines of 76 characters, each ending in CRLF, as Exchange writes attachments.
    static func base64Lines(_ data: [UInt8]) -> [UInt8] {
        guard !data.isEmpty else { return [] }
        return [UInt8](Data(data).base64EncodedString(options: [.lineLength76Characters, .endLineWithCarriageReturn,
                                                                 .endLineWithLineFeed]).utf8) + [13, 10]
    }

    /// Quoted-printable of a text with CRLF line breaks: hard breaks stay CRLF, soft
    /// breaks are `=` CRLF, lines of at most 76 characters.
    static func quotedPrintable(_ data: [UInt8]) -> [UInt8] {
        var lines: [[UInt8]] = []
        for line in data.split(separator: [13, 10], omittingEmptySubsequences: false) {
            var current: [UInt8] = []
            for (index, byte) in line.enumerated() {
                let last = index == line.count - 1
                let token: [UInt8] = ((33...126).contains(byte) && byte != 61) || ((byte == 9 || byte == 32) && !last)
                    ? [byte] : [UInt8](String(format: "=%02X", byte))
                if current.count + token.count > 75 {
                    lines.append(current + [61])
                    current = []
                }
                current += token
            }
            lines.append(current)
        }
        return Array(lines.joined(separator: [13, 10]))
    }
}

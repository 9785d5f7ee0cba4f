import Foundation
import Testing

/// Meeting requests and forwarded internal messages, as Outlook 16 and Exchange
/// write them.
extension ExchangeParts {
    // MARK: Calendars

    static let outlookProductID = "PRODID:-//Microsoft Corporation//Outlook 16.0 MIMEDIR//EN"
    static let exchangeProductID = "PRODID:Microsoft Exchange Server 2010"
    /// Folded inside the name (RFC 5545 3.1: a space or a tab continues a line), the value too.
    static let nameFoldedProductIDs = ["PRO\n DID:-//Microsoft Corporation//Outlook 16.0 MIMEDIR//EN",
                                       "PROD\n\tID:-//Microsoft Corporation//Outlook 1\n 6.0 MIMEDIR//EN"]
    static let veilProductID = "PRODID:-//Veil//Veil//EN"
    static let calendarSecrets = ["Microsoft Corporation", "Outlook 16.0", "Exchange Server 2010", "MIMEDIR"]

    /// An Outlook 16 / Exchange meeting request (RFC 5545, CRLF); `productID` is the
    /// PRODID line or lines.
    static func calendar(_ productID: String, method: String = "REQUEST") -> [UInt8] {
        template("meeting-request.ics", ["prodid": productID, "location": "Room 4.12", "method": method])
    }

    /// The calendar as Veil should leave it: the PRODID content line (with its
    /// continuation lines) is exactly `PRODID:-//Veil//Veil//EN`, nothing else changes.
    static func replacingProductID(_ calendar: [UInt8]) -> [UInt8] {
        let lines = calendar.lines
        var out: [UInt8] = []
        var index = 0
        while index < lines.count {
            var end = index + 1
            while end < lines.count, let first = lines[end].first, first == 32 || first == 9 { end += 1 }
            let unfolded = lines[index..<end].enumerated().map { offset, line in
                String(decoding: line.dropFirst(offset == 0 ? 0 : 1), as: UTF8.self).trimmingCharacters(in: .newlines)
            }.joined()
            if unfolded.prefixMatch(of: /(?i)PRODID[:;]/) != nil {
                let first = lines[index]
                out += [UInt8](veilProductID) + first.suffix(first.last == 10 ? (first.dropLast().last == 13 ? 2 : 1) : 0)
            } else {
                out += lines[index..<end].joined()
            }
            index = end
        }
        return out
    }

    static func calendarPart(_ calendar: [UInt8], encoding: String,
                             contentType: String = "text/calendar; charset=\"utf-8\"; method=REQUEST") -> [UInt8] {
        [UInt8]("Content-Type: \(contentType)\r\nContent-Transfer-Encoding: \(encoding)\r\n\r\n") + encoded(calendar, encoding)
    }

    // MARK: Attached messages

    static let innerID = "a1b2c3d4e5f64a7b8c9d0e1f2a3b4c5d@EXCH01.corp.internal"
    static let innerParentID = "0f1e2d3c4b5a46978877665544332211@EXCH01.corp.internal"
    static let fabrikamID = "CAK7xQ2p9vJ4mZr8Lw3nTy6bH1dFs5Ge0uXc+nw7@mail.fabrikam.example"
    static let innerSecrets = ["a1b2c3d4e5f64a7b8c9d0e1f2a3b4c5d", "0f1e2d3c4b5a46978877665544332211", "_000_a1b2c3d4",
                               "_004_a1b2c3d4", "10.20.30.40", "15.2.1118.7", "EXCH01.corp.internal", "X-MS-Exchange"]
    /// The fields of innerHeader's block that the allowlist (and the exchange
    /// profile's denylist) keep.
    static let innerKept = ["from", "to", "cc", "subject", "date", "message-id", "references", "in-reply-to",
                            "content-language", "content-type", "mime-version"]
    static let innerAlternative = boundary("a1b2c3d4e5f64a7b8c9d0e1f2a3b4c5d", kind: "000")
    static let innerMixed = boundary("a1b2c3d4e5f64a7b8c9d0e1f2a3b4c5d")

    /// The header block of an internal message forwarded as an attachment.
    static func innerHeader(_ contentType: [UInt8], subject: String = "Northwind figures") -> [UInt8] {
        template("inner-header.txt", ["subject": subject]) + contentType + [UInt8]("\r\nMIME-Version: 1.0\r\n\r\n")
    }

    /// An internal message with an alternative body.
    static func innerMessage(subject: String = "Northwind figures") -> [UInt8] {
        innerHeader(multipartType("alternative", innerAlternative), subject: subject) + multipartBody(innerAlternative, [
            textPart("Carol,\n\nthe Northwind figures for Q3 are below; the file server path is\n\\\\fs01\\finance\\northwind = the usual place.\n\nDave\n"),
            htmlPart("<html><body><p>Carol,</p><p>the Northwind figures for Q3 are below.</p></body></html>\n"),
        ])
    }

    /// A message/rfc822 (or message/global) part sent base64 or quoted-printable.
    static func encodedMessagePart(_ inner: [UInt8], encoding: String, contentType: String = "message/rfc822") -> [UInt8] {
        [UInt8]("Content-Type: \(contentType)\r\nContent-Disposition: attachment;\r\n\tfilename=\"Northwind figures.eml\"\r\n"
                + "Content-Transfer-Encoding: \(encoding)\r\n\r\n") + encoded(inner, encoding)
    }

    /// The header block of a message made by innerHeader, as the rules leave it: the
    /// kept fields in order, its Message-ID mapped, nothing internal left.
    static func expectScrubbed(attached: [UInt8], _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let header = [UInt8](crlf: MIMEReading.entity(attached).header.text.replacingOccurrences(of: "\r\n", with: "\n"))
        #expect(MIMEReading.fieldNames(header) == innerKept, "\(what)", sourceLocation: sourceLocation)
        #expect(MIMEReading.field("message-id", in: header) == Keyed.messageID(innerID), "\(what)", sourceLocation: sourceLocation)
        #expect(attached.leaked(innerSecrets + secrets) == [], "\(what)", sourceLocation: sourceLocation)
    }
}

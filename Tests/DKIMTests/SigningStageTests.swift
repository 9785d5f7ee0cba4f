import Crypto
import CryptoExtras
import Foundation
import NIOCore
import Testing
@testable import DKIM

/// The signing stage on whole messages: where the fields go, which keys sign, and
/// that the signatures check out against the public keys (dkimpy checks them too,
/// in Tests/e2e/test_dkim.py).
@Suite struct SigningStageTests {
    static let rsa = try! SigningKey.generate(rsaBits: 2048)
    static let ed25519 = try! SigningKey.generate(rsaBits: nil)
    static let now = Date(timeIntervalSince1970: 1_796_000_000)

    static func keyring(subdomains: Bool = true) -> Keyring {
        Keyring(entries: [
            .init(domain: "contoso.example", selector: "rsa", key: rsa, subdomains: subdomains),
            .init(domain: "contoso.example", selector: "ed", key: ed25519, subdomains: subdomains),
        ], asciiDomain: { $0.lowercased() })
    }

    static let message = Array("""
        Received: from veil\r
        From: Alice <alice@contoso.example>\r
        To: bob@example.org\r
        Subject: a long subject\r
         folded onto a second line\r
        \r
        Body line  one \r
        \r
        \r

        """.utf8)

    /// Runs `text` through a stage in pieces cut at `splits`, as the spool file
    /// would end up with the signatures filled in; and the stage's signers.
    static func signed(_ text: [UInt8], splits: [Int] = [], keyring: Keyring = keyring()) throws -> (text: [UInt8], signers: [String]) {
        var stage = SigningStage(keyring: keyring, now: now)
        var file: [UInt8] = []
        var start = 0
        for end in splits + [text.count] {
            var buffers = [ByteBuffer(bytes: text[start..<end])]
            stage.process(&buffers)
            for buffer in buffers { file += buffer.readableBytesView }
            start = end
        }
        var buffers: [ByteBuffer] = []
        let pending = stage.finish(&buffers)
        for buffer in buffers { file += buffer.readableBytesView }
        if let pending {
            let fields = try pending.fields()
            file.replaceSubrange(0..<fields.count, with: fields)
        }
        return (file, stage.signers)
    }

    /// The tags of the DKIM-Signature fields at the top of `text`.
    static func signatures(in text: [UInt8]) -> [[String: String]] {
        let header = String(decoding: text, as: UTF8.self).components(separatedBy: "\r\n\r\n")[0]
        let unfolded = header.replacingOccurrences(of: "\r\n\t", with: " ").replacingOccurrences(of: "\r\n ", with: " ")
        return unfolded.components(separatedBy: "\r\n").filter { $0.hasPrefix("DKIM-Signature:") }.map { line in
            var tags: [String: String] = [:]
            for tag in line.dropFirst("DKIM-Signature:".count).split(separator: ";") {
                let parts = tag.split(separator: "=", maxSplits: 1)
                tags[parts[0].trimmingCharacters(in: .whitespaces)] = parts.count > 1
                    ? parts[1].filter { !$0.isWhitespace } : ""
            }
            return tags
        }
    }

    @Test func bothKeysSignAtTheTop() throws {
        let (text, signers) = try Self.signed(Self.message)
        #expect(signers == ["contoso.example/rsa", "contoso.example/ed"])
        let tags = Self.signatures(in: text)
        #expect(tags.map { $0["a"] } == ["rsa-sha256", "ed25519-sha256"])
        #expect(tags.allSatisfy { $0["c"] == "relaxed/relaxed" && $0["d"] == "contoso.example" && $0["t"] == "1796000000" })
        // Every name of the list once more than the message has it.
        let present = ["from", "to", "subject"]
        #expect(tags[0]["h"] == Keyring.Entry.defaultHeaders.flatMap { Array(repeating: $0, count: present.contains($0) ? 2 : 1) }
            .joined(separator: ":"))
        // The body hash of the canonical body " Body line one\r\n".
        #expect(tags[0]["bh"] == Data(SHA256.hash(data: Array("Body line one\r\n".utf8))).base64EncodedString())
        // The fields come first, then the text as it was.
        let original = String(decoding: Self.message, as: UTF8.self)
        #expect(String(decoding: text, as: UTF8.self).hasPrefix("DKIM-Signature: v=1; a=rsa-sha256;"))
        #expect(String(decoding: text, as: UTF8.self).hasSuffix(original))
        #expect(String(decoding: text, as: UTF8.self).split(separator: "\r\n").allSatisfy { $0.utf8.count <= 78 + 8 })
    }

    /// The signatures verify with the public keys over the data RFC 6376 §3.7 says
    /// a verifier hashes: the signed fields, then the signature field with b= empty.
    @Test func signaturesVerify() throws {
        let (text, _) = try Self.signed(Self.message)
        let header = String(decoding: text, as: UTF8.self).components(separatedBy: "\r\n\r\n")[0] + "\r\n"
        // The fields, each with its folded lines.
        let fields = header.components(separatedBy: "\r\n").reduce(into: [String]()) { fields, line in
            if line.hasPrefix("\t") || line.hasPrefix(" ") { fields[fields.count - 1] += "\r\n" + line } else if !line.isEmpty { fields.append(line) }
        }
        for (index, tags) in Self.signatures(in: text).enumerated() {
            let signatureField = fields[index] + "\r\n"
            let withoutB = signatureField.replacingOccurrences(of: #"b=[A-Za-z0-9+/=\s]*$"#, with: "b=", options: String.CompareOptions.regularExpression)
            let headerData = HeaderBlock(Array(header.utf8)[...]).canonicalized(tags["h"]!.components(separatedBy: ":"))
                + RelaxedHeader.canonicalize(Array(withoutB.utf8)).dropLast(2)
            let digest = SHA256.hash(data: headerData)
            let signature = Data(base64Encoded: tags["b"]!)!
            switch index == 0 ? Self.rsa : Self.ed25519 {
            case .rsa(let key):
                #expect(key.publicKey.isValidSignature(_RSA.Signing.RSASignature(rawRepresentation: signature), for: digest,
                                                       padding: .insecurePKCS1v1_5))
            case .ed25519(let key):
                #expect(key.publicKey.isValidSignature(signature, for: Array(digest)))
            }
        }
    }

    /// However the text is cut, the file is the same (RSA PKCS#1 v1.5 and Ed25519
    /// signatures are deterministic).
    @Test func everySplitGivesTheSameFile() throws {
        let whole = try Self.signed(Self.message).text
        for split in 0...Self.message.count {
            #expect(try Self.signed(Self.message, splits: [split]).text == whole, "split at \(split)")
        }
    }

    @Test func whichMessagesAreSigned() throws {
        func signers(from: String, keyring: Keyring = Self.keyring()) throws -> [String] {
            try Self.signed(Array("From: \(from)\r\n\r\nx\r\n".utf8), keyring: keyring).signers
        }
        #expect(try signers(from: "a@CONTOSO.example") == ["contoso.example/rsa", "contoso.example/ed"])
        #expect(try signers(from: "\"Ops, Team\" <a@mail.contoso.example>") == ["contoso.example/rsa", "contoso.example/ed"])
        #expect(try signers(from: "a@mail.contoso.example", keyring: Self.keyring(subdomains: false)).isEmpty)
        #expect(try signers(from: "a@othercontoso.example").isEmpty)
        #expect(try signers(from: "a@fabrikam.example").isEmpty)
        // No From at all: nothing to align with, not signed.
        #expect(try Self.signed(Array("Subject: x\r\n\r\nx\r\n".utf8)).signers.isEmpty)
    }

    /// Unsigned mail passes byte for byte; a message without body is signed too.
    @Test func unsignedAndBodilessMessages() throws {
        let foreign = Array("From: a@fabrikam.example\r\nSubject: x\r\n\r\nbody\r\n".utf8)
        #expect(try Self.signed(foreign, splits: [5, 30]).text == foreign)
        let bodiless = Array("From: a@contoso.example\r\nSubject: x\r\n".utf8)
        let (text, signers) = try Self.signed(bodiless)
        #expect(signers.count == 2)
        #expect(String(decoding: text, as: UTF8.self).hasSuffix("From: a@contoso.example\r\nSubject: x\r\n"))
        #expect(Self.signatures(in: text)[0]["bh"] == "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=")
    }
}

// Longer than 300 lines: most of it is the table of BoringSSL's TLS 1.2 cipher suites and
// their attributes.

/// `[tls] ciphers`: an OpenSSL-style cipher string, read the way BoringSSL (the TLS
/// library inside swift-nio-ssl) reads it, so that a bad string is a configuration
/// error. NIOSSL hands the string to `SSL_CTX_set_cipher_list` and treats a failure
/// as a `precondition`: the process would stop, so nothing may reach it unchecked.
///
/// The grammar and the tables follow BoringSSL's `ssl/ssl_cipher.cc`
/// (`ssl_cipher_process_rulestr`, `kCiphers`, `kCipherAliases`) in the version
/// swift-nio-ssl 2.37 vendors:
///
///     cipher-string = ["DEFAULT" [":"]] *( separator / rule / group )
///     separator     = ":" / " " / ";" / ","
///     rule          = ["!" / "-" / "+"] name *("+" name) / "@STRENGTH"
///     group         = "[" name *("|" name) "]"      ; equal preference, names only
///     name          = 1*(ALPHA / DIGIT / "-" / "." / "_")
///
/// `name` is a suite (OpenSSL or IANA name) or an alias (`ECDHE`, `AESGCM`, ...);
/// names joined by `+` select the suites that match all of them. A name alone adds
/// the suites it selects, `-` disables them (a later rule may add them again), `!`
/// removes them for good, `+` moves them to the end.
///
/// Veil is stricter than BoringSSL where BoringSSL says nothing: BoringSSL skips a
/// name it does not know, which turns a typo in `!ECDHE-RSA-AES128-SHA` into a CBC
/// suite left on. Veil refuses unknown names, except the aliases of things OpenSSL
/// has and BoringSSL lacks altogether (`DH+AESGCM`, `!aNULL:!MD5:!RC4`, common in
/// OpenSSL strings), which select nothing, as in BoringSSL. TLS 1.3 suites are
/// refused too: BoringSSL fixes them (all three are AEAD with ECDHE) and ignores them
/// in this string.
struct TLSCipherString {
    /// One TLS 1.2 cipher suite of BoringSSL, with the properties the aliases match.
    struct Suite: Sendable, Equatable {
        var id: UInt16
        /// OpenSSL name, as in `openssl ciphers` and NIOSSL's logs of Veil.
        var name: String
        /// IANA name (RFC 8447 registry).
        var standardName: String
        var keyExchange: UInt32
        var authentication: UInt32
        var encryption: UInt32
        var mac: UInt32
        /// `SSL_CIPHER_get_min_version`: 0x0303 for suites of TLS 1.2, 0x0300 for older ones.
        var minimumVersion: UInt16
        /// Left out by aliases unless one of them includes deprecated suites (3DES).
        var deprecated: Bool
    }

    struct Problem: Error, Equatable {
        var message: String
    }

    // Bit values as in BoringSSL's ssl/internal.h.
    static let kRSA: UInt32 = 0x1, kECDHE: UInt32 = 0x2, kPSK: UInt32 = 0x4
    static let aRSASign: UInt32 = 0x1, aRSADecrypt: UInt32 = 0x2, aECDSA: UInt32 = 0x4, aPSK: UInt32 = 0x8
    static let des3: UInt32 = 0x1, aes128: UInt32 = 0x2, aes256: UInt32 = 0x4, aes128GCM: UInt32 = 0x8,
               aes256GCM: UInt32 = 0x10, chacha20: UInt32 = 0x20
    static let sha1: UInt32 = 0x1, sha256: UInt32 = 0x2, aead: UInt32 = 0x4
    static let ssl3: UInt16 = 0x0300, tls12: UInt16 = 0x0303

    /// BoringSSL's TLS 1.2 suites (`kCiphers` without the TLS 1.3 ones), in its order.
    static let suites: [Suite] = [
        Suite(id: 0x000A, name: "DES-CBC3-SHA", standardName: "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
              keyExchange: kRSA, authentication: aRSADecrypt, encryption: des3, mac: sha1, minimumVersion: ssl3, deprecated: true),
        Suite(id: 0x002F, name: "AES128-SHA", standardName: "TLS_RSA_WITH_AES_128_CBC_SHA",
              keyExchange: kRSA, authentication: aRSADecrypt, encryption: aes128, mac: sha1, minimumVersion: ssl3, deprecated: false),
        Suite(id: 0x0035, name: "AES256-SHA", standardName: "TLS_RSA_WITH_AES_256_CBC_SHA",
              keyExchange: kRSA, authentication: aRSADecrypt, encryption: aes256, mac: sha1, minimumVersion: ssl3, deprecated: false),
        Suite(id: 0x008C, name: "PSK-AES128-CBC-SHA", standardName: "TLS_PSK_WITH_AES_128_CBC_SHA",
              keyExchange: kPSK, authentication: aPSK, encryption: aes128, mac: sha1, minimumVersion: ssl3, deprecated: false),
        Suite(id: 0x008D, name: "PSK-AES256-CBC-SHA", standardName: "TLS_PSK_WITH_AES_256_CBC_SHA",
              keyExchange: kPSK, authentication: aPSK, encryption: aes256, mac: sha1, minimumVersion: ssl3, deprecated: false),
        Suite(id: 0x009C, name: "AES128-GCM-SHA256", standardName: "TLS_RSA_WITH_AES_128_GCM_SHA256",
              keyExchange: kRSA, authentication: aRSADecrypt, encryption: aes128GCM, mac: aead, minimumVersion: tls12, deprecated: false),
        Suite(id: 0x009D, name: "AES256-GCM-SHA384", standardName: "TLS_RSA_WITH_AES_256_GCM_SHA384",
              keyExchange: kRSA, authentication: aRSADecrypt, encryption: aes256GCM, mac: aead, minimumVersion: tls12, deprecated: false),
        Suite(id: 0xC009, name: "ECDHE-ECDSA-AES128-SHA", standardName: "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
              keyExchange: kECDHE, authentication: aECDSA, encryption: aes128, mac: sha1, minimumVersion: ssl3, deprecated: false),
        Suite(id: 0xC00A, name: "ECDHE-ECDSA-AES256-SHA", standardName: "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
              keyExchange: kECDHE, authentication: aECDSA, encryption: aes256, mac: sha1, minimumVersion: ssl3, deprecated: false),
        Suite(id: 0xC013, name: "ECDHE-RSA-AES128-SHA", standardName: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
              keyExchange: kECDHE, authentication: aRSASign, encryption: aes128, mac: sha1, minimumVersion: ssl3, deprecated: false),
        Suite(id: 0xC014, name: "ECDHE-RSA-AES256-SHA", standardName: "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
              keyExchange: kECDHE, authentication: aRSASign, encryption: aes256, mac: sha1, minimumVersion: ssl3, deprecated: false),
        Suite(id: 0xC023, name: "ECDHE-ECDSA-AES128-SHA256", standardName: "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
              keyExchange: kECDHE, authentication: aECDSA, encryption: aes128, mac: sha256, minimumVersion: tls12, deprecated: true),
        Suite(id: 0xC027, name: "ECDHE-RSA-AES128-SHA256", standardName: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
              keyExchange: kECDHE, authentication: aRSASign, encryption: aes128, mac: sha256, minimumVersion: tls12, deprecated: true),
        Suite(id: 0xC02B, name: "ECDHE-ECDSA-AES128-GCM-SHA256", standardName: "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
              keyExchange: kECDHE, authentication: aECDSA, encryption: aes128GCM, mac: aead, minimumVersion: tls12, deprecated: false),
        Suite(id: 0xC02C, name: "ECDHE-ECDSA-AES256-GCM-SHA384", standardName: "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
              keyExchange: kECDHE, authentication: aECDSA, encryption: aes256GCM, mac: aead, minimumVersion: tls12, deprecated: false),
        Suite(id: 0xC02F, name: "ECDHE-RSA-AES128-GCM-SHA256", standardName: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
              keyExchange: kECDHE, authentication: aRSASign, encryption: aes128GCM, mac: aead, minimumVersion: tls12, deprecated: false),
        Suite(id: 0xC030, name: "ECDHE-RSA-AES256-GCM-SHA384", standardName: "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
              keyExchange: kECDHE, authentication: aRSASign, encryption: aes256GCM, mac: aead, minimumVersion: tls12, deprecated: false),
        Suite(id: 0xC035, name: "ECDHE-PSK-AES128-CBC-SHA", standardName: "TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA",
              keyExchange: kECDHE, authentication: aPSK, encryption: aes128, mac: sha1, minimumVersion: ssl3, deprecated: false),
        Suite(id: 0xC036, name: "ECDHE-PSK-AES256-CBC-SHA", standardName: "TLS_ECDHE_PSK_WITH_AES_256_CBC_SHA",
              keyExchange: kECDHE, authentication: aPSK, encryption: aes256, mac: sha1, minimumVersion: ssl3, deprecated: false),
        Suite(id: 0xCCA8, name: "ECDHE-RSA-CHACHA20-POLY1305", standardName: "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
              keyExchange: kECDHE, authentication: aRSASign, encryption: chacha20, mac: aead, minimumVersion: tls12, deprecated: false),
        Suite(id: 0xCCA9, name: "ECDHE-ECDSA-CHACHA20-POLY1305", standardName: "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
              keyExchange: kECDHE, authentication: aECDSA, encryption: chacha20, mac: aead, minimumVersion: tls12, deprecated: false),
        Suite(id: 0xCCAC, name: "ECDHE-PSK-CHACHA20-POLY1305", standardName: "TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256",
              keyExchange: kECDHE, authentication: aPSK, encryption: chacha20, mac: aead, minimumVersion: tls12, deprecated: false),
    ]

    /// BoringSSL's TLS 1.3 suites: always on, not chosen by this string.
    static let tls13Names: Set<String> = ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"]

    /// An alias matches a suite when every mask shares a bit with the suite's value.
    struct Alias {
        var keyExchange: UInt32 = ~0
        var authentication: UInt32 = ~0
        var encryption: UInt32 = ~0
        var mac: UInt32 = ~0
        var minimumVersion: UInt16 = 0
        var includesDeprecated = false
    }

    /// BoringSSL's `kCipherAliases`.
    static let aliases: [String: Alias] = [
        "ALL": Alias(),
        "kRSA": Alias(keyExchange: kRSA),
        "kECDHE": Alias(keyExchange: kECDHE), "kEECDH": Alias(keyExchange: kECDHE), "ECDH": Alias(keyExchange: kECDHE),
        "kPSK": Alias(keyExchange: kPSK),
        "aRSA": Alias(authentication: aRSASign | aRSADecrypt),
        "aECDSA": Alias(authentication: aECDSA), "ECDSA": Alias(authentication: aECDSA),
        "aPSK": Alias(authentication: aPSK),
        "ECDHE": Alias(keyExchange: kECDHE), "EECDH": Alias(keyExchange: kECDHE),
        "RSA": Alias(keyExchange: kRSA, authentication: aRSASign | aRSADecrypt),
        "PSK": Alias(keyExchange: kPSK, authentication: aPSK),
        "3DES": Alias(encryption: des3, includesDeprecated: true),
        "AES128": Alias(encryption: aes128 | aes128GCM),
        "AES256": Alias(encryption: aes256 | aes256GCM),
        "AES": Alias(encryption: aes128 | aes256 | aes128GCM | aes256GCM),
        "AESGCM": Alias(encryption: aes128GCM | aes256GCM),
        "CHACHA20": Alias(encryption: chacha20),
        "SHA1": Alias(mac: sha1), "SHA": Alias(mac: sha1),
        "SSLv3": Alias(minimumVersion: ssl3), "TLSv1": Alias(minimumVersion: ssl3), "TLSv1.2": Alias(minimumVersion: tls12),
        "HIGH": Alias(), "FIPS": Alias(),
    ]

    /// Aliases OpenSSL knows and BoringSSL has nothing of: they select nothing, so
    /// strings written for OpenSSL (`HIGH:!aNULL:!MD5`, NIOSSL's own default) work.
    static let absentInBoringSSL: Set<String> = [
        // Only names whose suites BoringSSL has none of: a name that OpenSSL gives
        // suites BoringSSL does have (MEDIUM with 3DES, SHA256, SUITEB128, ECDHEPSK)
        // is refused instead, so that `!NAME` never seems to remove what it leaves on.
        "aNULL", "eNULL", "NULL", "COMPLEMENTOFDEFAULT", "COMPLEMENTOFALL", "EXPORT", "EXP", "LOW",
        "MD5", "RC4", "DES", "IDEA", "SEED", "CAMELLIA", "CAMELLIA128", "CAMELLIA256", "ARIA", "ARIA128", "ARIA256",
        "AESCCM", "AESCCM8", "DSS", "aDSS", "DH", "DHE", "EDH", "kDHE", "kEDH", "ADH", "AECDH",
        "aDH", "aECDH", "kECDH", "kDH", "SRP", "kSRP", "aSRP", "DHEPSK", "RSAPSK", "kDHEPSK", "kRSAPSK",
        "GOST", "kGOST", "aGOST", "aGOST01", "GOST89MAC", "GOST94",
    ]

    private enum Rule { case add, delete, kill, order, special }

    /// The TLS 1.2 suites `string` enables, in the order of `suites`; BoringSSL uses
    /// the client's order among them. A problem is what the admin has to change.
    static func enabledSuites(_ string: String) throws(Problem) -> [Suite] {
        let bytes = Array(string.utf8)
        guard !bytes.isEmpty else { throw Problem(message: "is empty: it would enable no TLS 1.2 cipher suite") }
        if let bad = bytes.first(where: { !(0x20...0x7E).contains($0) }) {
            throw Problem(message: "contains the byte 0x\(String(bad, radix: 16)); only printable ASCII is allowed")
        }
        var state = SelectionState()
        var start = 0
        // "DEFAULT" at the very start stands for BoringSSL's default list, "ALL".
        if bytes.starts(with: Array("DEFAULT".utf8)) {
            try state.process(Array("ALL".utf8))
            start = 7
            if start < bytes.count, bytes[start] == UInt8(ascii: ":") { start += 1 }
        }
        try state.process(Array(bytes[start...]))
        let enabled = suites.indices.filter { state.active.contains($0) }
        guard !enabled.isEmpty else { throw Problem(message: "\"\(string)\" enables no TLS 1.2 cipher suite") }
        guard enabled.contains(where: { suites[$0].authentication != aPSK }) else {
            throw Problem(message: "\"\(string)\" enables only PSK suites, which Veil cannot use (it has a certificate, no pre-shared keys)")
        }
        return enabled.map { suites[$0] }
    }

    /// The suites switched on and those removed for good (`!`), as indices into `suites`.
    private struct SelectionState {
        var active: Set<Int> = []
        var killed: Set<Int> = []

        mutating func process(_ bytes: [UInt8]) throws(Problem) {
            var index = 0
            var inGroup = false
            var hasGroup = false
            while index < bytes.count {
                let character = bytes[index]
                let rule: Rule
                if inGroup {
                    if character == UInt8(ascii: "]") || character == UInt8(ascii: "|") {
                        if character == UInt8(ascii: "]") { inGroup = false }
                        index += 1
                        continue
                    }
                    guard isAlphanumeric(character) else {
                        throw Problem(message: "\"\(Character(Unicode.Scalar(character)))\" is not allowed inside [ ]: only names separated by |")
                    }
                    rule = .add
                } else {
                    switch character {
                    case UInt8(ascii: "-"): rule = .delete; index += 1
                    case UInt8(ascii: "+"): rule = .order; index += 1
                    case UInt8(ascii: "!"): rule = .kill; index += 1
                    case UInt8(ascii: "@"): rule = .special; index += 1
                    case UInt8(ascii: "["):
                        inGroup = true
                        hasGroup = true
                        index += 1
                        continue
                    default: rule = .add
                    }
                }
                if hasGroup && rule != .add {
                    throw Problem(message: "\"!\", \"-\", \"+\" and \"@\" cannot be combined with [ ] groups")
                }
                if rule == .add && isSeparator(character) {
                    index += 1
                    continue
                }
                try applyRule(rule, bytes, &index)
            }
            if inGroup { throw Problem(message: "a [ group is not closed with ]") }
        }

        /// Reads `name *("+" name)` (or the word after `@`) from `index` and applies it.
        private mutating func applyRule(_ rule: Rule, _ bytes: [UInt8], _ index: inout Int) throws(Problem) {
            var alias = Alias()
            alias.includesDeprecated = rule != .add
            var exact: Int?
            var multi = false
            var selectsNothing = false
            while true {
                let start = index
                while index < bytes.count, isNameCharacter(bytes[index]) { index += 1 }
                guard index > start else {
                    guard index < bytes.count else { throw Problem(message: "ends where a cipher name is expected") }
                    throw Problem(message: "\"\(Character(Unicode.Scalar(bytes[index])))\" where a cipher name is expected")
                }
                let name = String(decoding: bytes[start..<index], as: UTF8.self)
                if rule == .special {
                    guard name == "STRENGTH" else { throw Problem(message: "\"@\(name)\" is not supported; the only @ command is @STRENGTH") }
                    // Reorders only; the rest of the element is ignored, as BoringSSL does.
                    while index < bytes.count, !isSeparator(bytes[index]) { index += 1 }
                    return
                }
                let joined = index < bytes.count && bytes[index] == UInt8(ascii: "+")
                if TLSCipherString.tls13Names.contains(name) {
                    throw Problem(message: "\(name) is a TLS 1.3 suite; TLS 1.3 suites are fixed (AES-GCM and ChaCha20-Poly1305, always with ECDHE) and cannot be chosen here")
                }
                if !multi && !joined, let suite = TLSCipherString.suites.firstIndex(where: { $0.name == name || $0.standardName == name }) {
                    exact = suite
                } else if let known = TLSCipherString.aliases[name] {
                    alias.keyExchange &= known.keyExchange
                    alias.authentication &= known.authentication
                    alias.encryption &= known.encryption
                    alias.mac &= known.mac
                    alias.includesDeprecated = alias.includesDeprecated || known.includesDeprecated
                    if alias.minimumVersion != 0 && alias.minimumVersion != known.minimumVersion {
                        selectsNothing = true
                    } else {
                        alias.minimumVersion = known.minimumVersion
                    }
                } else if TLSCipherString.absentInBoringSSL.contains(name) {
                    selectsNothing = true
                } else if TLSCipherString.suites.contains(where: { $0.name == name || $0.standardName == name }) {
                    throw Problem(message: "\(name) is a cipher suite and cannot be joined with + to other names")
                } else {
                    throw Problem(message: "\"\(name)\" is not a cipher suite or alias that Veil's TLS library (BoringSSL) knows; it has no DHE, CCM or CAMELLIA suites, for example")
                }
                guard joined else { break }
                index += 1
                multi = true
            }
            guard !selectsNothing else { return }
            let matching = TLSCipherString.suites.indices.filter { position in
                if let exact { return position == exact }
                let suite = TLSCipherString.suites[position]
                return alias.keyExchange & suite.keyExchange != 0 && alias.authentication & suite.authentication != 0
                    && alias.encryption & suite.encryption != 0 && alias.mac & suite.mac != 0
                    && (alias.minimumVersion == 0 || suite.minimumVersion == alias.minimumVersion)
                    && (alias.includesDeprecated || !suite.deprecated)
            }
            switch rule {
            case .add:
                active.formUnion(matching.filter { !killed.contains($0) })
            case .delete:
                active.subtract(matching)
            case .kill:
                active.subtract(matching)
                killed.formUnion(matching)
            case .order, .special:
                break
            }
        }

        private func isAlphanumeric(_ byte: UInt8) -> Bool {
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
        }

        private func isNameCharacter(_ byte: UInt8) -> Bool {
            isAlphanumeric(byte) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_")
        }

        private func isSeparator(_ byte: UInt8) -> Bool {
            byte == UInt8(ascii: ":") || byte == UInt8(ascii: " ") || byte == UInt8(ascii: ";") || byte == UInt8(ascii: ",")
        }
    }
}

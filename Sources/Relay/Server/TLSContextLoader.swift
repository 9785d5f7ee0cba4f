import NIOSSL

extension Configuration.TLS {
    /// Builds the server TLS context (TLS 1.2 minimum, RFC 8314 §4.1; TLS 1.3 only
    /// with `max_version = "1.3"`; the TLS 1.2 suites of `ciphers`). A certificate or
    /// key that cannot be read is a configuration error naming its line.
    func makeServerContext(configFile: String) throws(ConfigError) -> NIOSSLContext {
        // NIOSSL stops the process (a precondition) on a cipher string BoringSSL
        // refuses: the loader has checked it already; this keeps any other caller safe.
        do {
            _ = try TLSCipherString.enabledSuites(ciphers)
        } catch {
            throw ConfigError(file: configFile, line: ciphersLine, key: "tls.ciphers", problem: error.message)
        }
        guard let certificate, let privateKey else {
            throw ConfigError(file: configFile, line: nil, key: "tls.certificate", problem: "missing")
        }
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificate)
        } catch {
            throw ConfigError(file: configFile, line: certificateLine, key: "tls.certificate", problem: "\(certificate) cannot be read as PEM: \(error)")
        }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: privateKey, format: .pem)
        } catch {
            throw ConfigError(file: configFile, line: privateKeyLine, key: "tls.private_key", problem: "\(privateKey) cannot be read as a PEM key: \(error)")
        }
        var tlsConfiguration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        tlsConfiguration.minimumTLSVersion = minimumVersion == .v1_3 ? .tlsv13 : .tlsv12
        // BoringSSL sends two TLS 1.3 session tickets after every handshake and
        // swift-nio-ssl has no switch for them (SSL_CTX_set_num_tickets); Microsoft's
        // SMTP client aborts STARTTLS when they arrive ("451 4.4.0 Security status
        // Renegotiate"), so TLS 1.3 is off unless max_version asks for it.
        tlsConfiguration.maximumTLSVersion = maximumVersion == .v1_3 ? .tlsv13 : .tlsv12
        tlsConfiguration.cipherSuites = ciphers
        do {
            return try NIOSSLContext(configuration: tlsConfiguration)
        } catch {
            throw ConfigError(file: configFile, line: privateKeyLine, key: "tls.private_key", problem: "does not match the certificate: \(error)")
        }
    }
}

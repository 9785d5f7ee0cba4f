import NIOSSL

extension Configuration.TLS {
    /// Builds the server TLS context (TLS 1.2 minimum, RFC 8314 §4.1); a certificate
    /// or key that cannot be read is a configuration error naming its line.
    func makeServerContext(configFile: String) throws(ConfigError) -> NIOSSLContext {
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
        tlsConfiguration.minimumTLSVersion = minimumVersion == "1.3" ? .tlsv13 : .tlsv12
        do {
            return try NIOSSLContext(configuration: tlsConfiguration)
        } catch {
            throw ConfigError(file: configFile, line: privateKeyLine, key: "tls.private_key", problem: "does not match the certificate: \(error)")
        }
    }
}

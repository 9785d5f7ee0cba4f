import Foundation
import Outbound
import SMTPCore

extension RoutingTable {
    /// The routing part of the configuration; reads the smarthost's password file.
    init(configuration: Configuration) throws(ConfigError) {
        let delivery = configuration.delivery
        var credentials: Credentials?
        if let user = delivery.smarthostUser, let path = delivery.smarthostPasswordFile {
            guard let data = FileManager.default.contents(atPath: path),
                  let password = String(data: data, encoding: .utf8)?.trimmingCharacters(in: .newlines), !password.isEmpty
            else {
                throw ConfigError(file: configuration.file, line: delivery.smarthostPasswordFileLine,
                                  key: "delivery.smarthost_password_file", problem: "\(path) cannot be read or is empty")
            }
            credentials = Credentials(username: user, password: password)
        }
        self.init(smarthost: delivery.mode == .smarthost ? delivery.smarthost : nil, smarthostCredentials: credentials,
                  tls: delivery.tls, domains: delivery.domains.map { .init(domain: $0.domain, route: $0.route, tls: $0.tls) },
                  heloName: delivery.heloName ?? configuration.hostname, hostname: configuration.hostname)
    }
}

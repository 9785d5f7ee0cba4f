import Foundation
import NIOCore
import Testing
@testable import Relay

@Suite struct UsersFileTests {
    func load(_ text: String) throws(ConfigError) -> UsersFile {
        let path = NSTemporaryDirectory() + "veil-users-\(UUID().uuidString)"
        FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try UsersFile.load(path: path, configFile: "veil.toml", configLine: 3)
    }

    @Test func readsUsersAndDomains() throws {
        let users = try load("""
            # comment
            demo:\(PasswordHash.dummyHash)
            exchange:$6$salt$hash:corp.example, *.corp.example

            """)
        #expect(users.users["demo"]?.allowedDomains == nil)
        #expect(users.users["exchange"]?.allowedDomains == ["corp.example", "*.corp.example"])
    }

    @Test func weakHashesAreRefusedWithTheirLine() {
        #expect(throws: ConfigError.self) { try load("a:$1$md5$hash\n") }
        do {
            _ = try load("\nold:abcdefghijklm\n")
        } catch {
            #expect(error.line == 2)
        }
    }

    @Test func unreadableFileNamesTheConfigLine() {
        do {
            _ = try UsersFile.load(path: "/nonexistent/users", configFile: "veil.toml", configLine: 3)
            Issue.record("loaded a missing file")
        } catch {
            #expect(error.description.hasPrefix("veil.toml:3: auth.users_file:"))
        }
    }

    @Test func passwordVerification() {
        #expect(PasswordHash.verify("veil-dummy-password", against: PasswordHash.dummyHash))
        #expect(!PasswordHash.verify("wrong", against: PasswordHash.dummyHash))
        #expect(!PasswordHash.verify("x", against: "$6$bad"))
    }
}

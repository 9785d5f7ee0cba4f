import Foundation
import Testing
import TOML

/// Veil's reader against Python's tomllib on the same bytes: the shipped and the
/// end-to-end configurations, a few hundred random documents in every TOML style,
/// one-edit mutations of them and hand-written edge cases (tomllib_cases.py writes
/// them and what tomllib read). Where tomllib accepts, Veil must read the same
/// tree (structure, types and values); where tomllib refuses, Veil must refuse;
/// dates and integers beyond 64 bits Veil refuses on purpose.
@Suite struct TOMLDifferentialTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()

    @Test func sameTreesAsTomllib() throws {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("veil-toml-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: output) }
        let python = Process()
        python.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        python.arguments = ["python3", Self.directory.appendingPathComponent("tomllib_cases.py").path, output.path, "400"]
        try python.run()
        python.waitUntilExit()
        try #require(python.terminationStatus == 0, "tomllib_cases.py failed (python3 >= 3.11 with tomllib is needed)")

        let cases = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: output.appendingPathComponent("cases.json"))) as? [[String: Any]])
        var accepted = 0
        var refused = 0
        for testCase in cases {
            let name = testCase["name"] as! String
            let bytes = try [UInt8](Data(contentsOf: output.appendingPathComponent(testCase["file"] as! String)))
            let expected = testCase["expected"].flatMap { $0 is NSNull ? nil : $0 }
            let text = String(decoding: bytes, as: UTF8.self)
            do {
                let table = try TOMLParser.parse(bytes)
                guard let expected else {
                    let reason = testCase["veil_refuses"] ?? testCase["tomllib_error"] ?? ""
                    Issue.record("\(name): accepted, but tomllib or Veil's rules refuse it (\(reason)):\n\(text)")
                    continue
                }
                if let problem = TaggedJSON.mismatch(TOMLValue(.table(table), line: 0), expected) {
                    Issue.record("\(name): \(problem)\n\(text)")
                }
                accepted += 1
            } catch {
                if expected != nil { Issue.record("\(name): refused (\(error)) but tomllib reads it:\n\(text)") }
                refused += 1
            }
        }
        // The generator must keep producing both kinds in numbers.
        #expect(cases.count > 900)
        #expect(accepted > 500 && refused > 300, "accepted \(accepted), refused \(refused)")
    }
}

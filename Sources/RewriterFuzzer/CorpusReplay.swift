#if !FUZZING
import Foundation

/// Without libFuzzer: runs the check on every file given (the seed corpus), so a
/// crash found by the fuzzer stays a regression test.
@main
struct CorpusReplay {
    static func main() {
        var checked = 0
        for path in CommandLine.arguments.dropFirst() {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: path))?.sorted()
            for file in names.map({ $0.map { path + "/" + $0 } }) ?? [path] {
                guard let data = FileManager.default.contents(atPath: file) else { continue }
                RewriterCheck.run(Array(data))
                checked += 1
            }
        }
        print("RewriterFuzzer: \(checked) inputs checked")
    }
}
#endif

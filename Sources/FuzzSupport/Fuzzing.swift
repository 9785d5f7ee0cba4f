import Foundation

/// What the fuzz targets share. Built with `-DFUZZING` (`make fuzz`) a target is a
/// libFuzzer executable; built normally it replays the files it is given (its
/// seed corpus under Tests/Fuzz), so that every input that once found a bug stays
/// a regression test in `make test`.
public enum Fuzzing {
    /// libFuzzer's bytes as an array, for a check.
    public static func entry(_ data: UnsafePointer<UInt8>, _ size: Int, _ check: ([UInt8]) -> Void) -> CInt {
        check(Array(UnsafeBufferPointer(start: data, count: size)))
        return 0
    }

    /// Runs `check` on every file in the folders (or files) named on the command line.
    public static func replay(_ name: String, _ check: ([UInt8]) -> Void) {
        var checked = 0
        for path in CommandLine.arguments.dropFirst() {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: path))?.sorted()
            for file in names.map({ $0.map { path + "/" + $0 } }) ?? [path] {
                guard let data = FileManager.default.contents(atPath: file) else { continue }
                check(Array(data))
                checked += 1
            }
        }
        print("\(name): \(checked) inputs checked")
    }

    /// Split points derived from the input itself (so every run is reproducible):
    /// the output of a streaming parser must not depend on them.
    public static func splits(of input: [UInt8]) -> [Int] {
        var splits: [Int] = []
        var position = 0
        for byte in input.prefix(64) {
            position += Int(byte % 17) + 1
            if position < input.count { splits.append(position) }
        }
        return splits
    }
}

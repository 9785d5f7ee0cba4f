/// Parses `"30s"`, `"5m"`, `"2h"`, `"5d"` into seconds; at most 366 days.
func parseDuration(_ text: String) -> Int? {
    let units: [Character: Int] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
    guard let unit = text.last, let factor = units[unit], let value = Int(text.dropLast()), value >= 0,
          value <= 366 * 86400 / factor else { return nil }
    return value * factor
}

/// Parses `"512B"`, `"256KB"`, `"50MB"`, `"1GB"` (1024-based) or a plain number of bytes.
func parseSize(_ text: String) -> Int? {
    let units: [(String, Int)] = [("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10), ("B", 1)]
    let upper = text.uppercased()
    for (suffix, factor) in units where upper.hasSuffix(suffix) {
        guard let value = Int(upper.dropLast(suffix.count).trimmingCharacters(in: " ")), value >= 0 else { return nil }
        let (bytes, overflow) = value.multipliedReportingOverflow(by: factor)
        return overflow ? nil : bytes
    }
    return Int(text).flatMap { $0 >= 0 ? $0 : nil }
}

extension StringProtocol {
    func trimmingCharacters(in set: Character) -> String {
        String(drop(while: { $0 == set }).reversed().drop(while: { $0 == set }).reversed())
    }
}

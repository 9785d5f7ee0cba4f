import CCrypt

/// Checks passwords against crypt(3) hashes through libxcrypt.
enum PasswordHash {
    /// A valid yescrypt hash of a random password, checked for unknown users so that
    /// they take as long as a wrong password.
    static let dummyHash = "$y$j9T$F5Jx5fExrKuPp53xLKQ..1$4.JGJz.XkTg62qKrm9EtqIEDyKRBwm3c87W2Px70C50"

    /// Blocking (yescrypt takes tens of milliseconds): call from a thread pool.
    static func verify(_ password: String, against hash: String) -> Bool {
        var data = crypt_data()
        let result = password.withCString { passwordPointer in
            hash.withCString { hashPointer in
                crypt_r(passwordPointer, hashPointer, &data).map { String(cString: $0) }
            }
        }
        guard let result, result.utf8.count == hash.utf8.count, !result.hasPrefix("*") else { return false }
        // Constant-time comparison of the two hashes.
        var difference: UInt8 = 0
        for (left, right) in zip(result.utf8, hash.utf8) { difference |= left ^ right }
        return difference == 0
    }
}

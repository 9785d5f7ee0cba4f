import CCrypt

/// Checks passwords against crypt(3) hashes through libxcrypt.
enum PasswordHash {
    /// A valid yescrypt hash of a password nobody knows.
    static let dummyHash = "$y$j9T$F5Jx5fExrKuPp53xLKQ..1$4.JGJz.XkTg62qKrm9EtqIEDyKRBwm3c87W2Px70C50"

    /// A hash of a random password with the scheme and cost of `model`, checked for
    /// unknown users so that they take as long as a wrong password.
    static func dummyHash(like model: String?) -> String {
        guard let model, let hash = crypt(String(UInt64.random(in: .min ... .max), radix: 36), setting: model),
              !hash.hasPrefix("*") else { return dummyHash }
        return hash
    }

    /// Blocking (yescrypt takes tens of milliseconds): call from a thread pool.
    static func verify(_ password: String, against hash: String) -> Bool {
        guard let result = crypt(password, setting: hash), result.utf8.count == hash.utf8.count, !result.hasPrefix("*") else {
            return false
        }
        // Constant-time comparison of the two hashes.
        var difference: UInt8 = 0
        for (left, right) in zip(result.utf8, hash.utf8) { difference |= left ^ right }
        return difference == 0
    }

    /// crypt(3): the hash of `password` with the scheme, cost and salt of `setting`.
    private static func crypt(_ password: String, setting: String) -> String? {
        var data = crypt_data()
        return password.withCString { passwordPointer in
            setting.withCString { settingPointer in
                crypt_r(passwordPointer, settingPointer, &data).map { String(cString: $0) }
            }
        }
    }
}

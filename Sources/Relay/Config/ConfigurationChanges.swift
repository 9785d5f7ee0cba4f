extension Configuration {
    /// The keys whose values differ in `new`, named as the file writes them
    /// (`limits.max_connections`, `listener.address`), in declaration order (Config/Keys);
    /// with `restartOnly`, only those declared `reload: .needsRestart`.
    func changedKeys(to new: Configuration, restartOnly: Bool) -> [String] {
        changedKeys(to: new, path: "", restartOnly: restartOnly)
    }

    /// The keys a reload to `new` cannot apply: they take effect at the next restart
    /// (ReloadService logs them as `reload_incomplete`).
    func keysNeedingRestart(for new: Configuration) -> [String] {
        changedKeys(to: new, restartOnly: true)
    }
}

extension Configuration {
    /// The configuration as `veil check-config` prints it: TOML with every value in
    /// force, defaults included, in the order of the keys' declarations (Config/Keys).
    /// `load(path:)` reads it back to the same configuration.
    public var effectiveDescription: String {
        (["# effective configuration of \(file)"] + printed(path: "")).joined(separator: "\n")
    }
}

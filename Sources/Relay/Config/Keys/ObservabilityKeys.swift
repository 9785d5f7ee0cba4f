/// `[log]`: what the daemon writes to stderr (journald).
extension Configuration.Log: ConfigSection {
    static let levels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]

    static let keys: [ConfigKey<Configuration.Log>] = [
        .string("level", \.level, reload: .needsRestart, doc: "trace | debug | info | notice | warning | error | critical.",
                check: { levels.contains($0) ? nil : "must be one of \(levels.joined(separator: ", "))" }),
        .choice("format", \.format, reload: .needsRestart, doc: "text (logfmt) | json, one line per event."),
    ]
}

/// `[metrics]`: the Prometheus endpoint; left out of `veil check-config`'s output
/// when there is none.
extension Configuration.Metrics: ConfigSection {
    static let keys: [ConfigKey<Configuration.Metrics>] = [
        .address("address", \.address, reload: .needsRestart, doc: "Where http://ADDRESS/metrics listens; default none.")
            .recordingLine(in: \.addressLine),
    ]
}

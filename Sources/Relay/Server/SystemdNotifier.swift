import CSystemd

/// sd_notify(3): tells systemd (Type=notify) about readiness and status. Does
/// nothing when NOTIFY_SOCKET is not set.
enum SystemdNotifier {
    static func notify(_ state: String) {
        _ = sd_notify(0, state)
    }
}

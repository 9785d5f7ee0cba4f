import Foundation

/// Every line Veil logs: one case per event, with its fields. The event's name is
/// the log message (`event=` in the line), its fields the metadata, and its level is
/// the event's too (`VeilEvent+Line.swift` says how each is written), so a call site
/// states only what happened: `logger.log(.authLockout(client: c, listener: l, network: nil))`.
/// (Not `LogEvent`: swift-log has a type of that name, what a handler receives.)
///
/// Inside a session the logger already carries `listener` and `client`; the session
/// events below do not repeat them. Addresses are bare (`a@b.example`, "" for the
/// null reverse-path) and written in angle brackets. docs/admin-guide.md §7 shows
/// the lines.
public enum VeilEvent: Sendable, Equatable {
    // MARK: Start, reload and stop

    /// `veil serve` runs as root because VEIL_ALLOW_ROOT=1 allowed it; `note` says why
    /// that is unwise. Once, at start-up.
    case runningAsRoot(note: String)
    /// The queue was opened at start-up: `queued` messages in it, `removedIncomplete`
    /// leftovers of interrupted transactions (and orphaned files) removed.
    case queueLoaded(spool: String, queued: Int, removedIncomplete: Int)
    /// A listener is bound (or taken over from systemd, `fromSystemd`), one line each
    /// at start-up. `tls` and `auth` are the listener's settings as configured.
    case listening(listener: String, address: String, tls: String, auth: String, fromSystemd: Bool)
    /// Every listener is bound: mail is taken.
    case ready
    /// `[metrics] address` is set and the Prometheus endpoint listens there.
    case metricsListening(host: String, port: Int)
    /// SIGHUP: the configuration at `config` was read again and is in force.
    case reloaded(config: String)
    /// After `reloaded`: these keys changed but take effect only at the next restart.
    case reloadIncomplete(keys: [String])
    /// SIGHUP: the new configuration has an error; the previous one stays in force.
    case reloadFailed(error: String)
    /// At start-up and each reload: something in force that works but should change
    /// (`file:line: key: warning: ...`, as check-config prints it), such as a weak DKIM key.
    case configWarning(warning: String)
    /// SIGTERM or SIGINT: no new connections; `sessions` open ones may finish.
    case stopping(sessions: Int)
    /// Everything is shut down; the process exits with status 0.
    case stopped

    // MARK: Inbound sessions (the logger carries `listener` and `client`)

    /// A client connected from `port` (its source port).
    case connect(port: Int)
    /// The TLS handshake of a session ended (implicit TLS or STARTTLS). `cipher` is
    /// nil (written `unknown`) when it could not be read.
    case tls(protocol: String, cipher: String?)
    /// Veil answered 4xx or 5xx: `code`, and the reply's text after the enhanced
    /// status code. No `code` when the connection is closed without a reply (a PROXY
    /// header from a peer outside proxy_networks).
    case rejected(code: Int?, reason: String)
    /// The connection failed (reset, TLS alert, ...). At `debug` for a client that
    /// simply hung up (`hangUp`), at `notice` otherwise.
    case connectionError(error: String, hangUp: Bool)
    /// The TLS handler could not be added after STARTTLS; the session is closed.
    case starttlsFailed(error: String)

    // MARK: AUTH (logged by the authenticator: `client` and `listener` are fields)

    /// AUTH succeeded. `user` is the name as the client sent it.
    case authOK(client: String, listener: String, user: String, mechanism: String)
    /// AUTH refused, for `reason`. fail2ban matches on these lines.
    case authFailed(client: String, listener: String, user: String, mechanism: String, reason: AuthFailure)
    /// A lockout starts: the client failed `[auth] max_failures` times. An IPv6
    /// client is locked out with its whole `ipv6_prefix` network, named in `network`
    /// (nil for IPv4 clients and with `ipv6_prefix = 128`).
    case authLockout(client: String, listener: String, network: String?)

    // MARK: Accepting mail

    /// A message is in the queue (fsynced) and the client gets its 250; one line per
    /// message. `user` is nil without AUTH (written `user=""`). `scrubbed`: header
    /// fields removed or rewritten; `mimeRewritten`: MIME boundaries and attached
    /// header fields rewritten; `mimeSkipped`: why part of the body was passed unread
    /// (only then); `tnefRemoved`: TNEF parts removed (only when some were); `dkim`:
    /// the signatures added, `domain/selector` each (written `dkim=none` when empty).
    case accepted(queueID: String, client: String, listener: String, from: String, recipients: Int, size: Int,
                  user: String?, helo: String, scrubbed: Int, mimeRewritten: Int, mimeSkipped: String?, tnefRemoved: Int,
                  dkim: [String])
    /// A message could not be written to the spool (`queueID` nil when its file could
    /// not even be created); the client gets 451 or 452 and keeps it.
    case spoolError(queueID: String?, error: String)
    /// The spool's file system has less than `[limits] min_free_space` free: MAIL is
    /// refused with 452 until `diskSpaceOK`. Logged when it happens, not per MAIL.
    case diskSpaceLow(spool: String, free: Int, minimum: Int)
    /// There is room in the spool again (after `diskSpaceLow`).
    case diskSpaceOK(spool: String, free: Int, minimum: Int)

    // MARK: Delivery (one line per recipient and attempt)

    /// The next hop took the recipient.
    case delivered(DeliveryAttempt)
    /// The recipient is tried again at `nextAttempt` (written RFC 3339, as `ts`).
    case deferred(DeliveryAttempt, nextAttempt: Date)
    /// The next hop refused the recipient for good (or the administrator bounced it).
    case bounced(DeliveryAttempt)
    /// Deferred past `[delivery] max_lifetime`: given up like a bounce.
    case expired(DeliveryAttempt)
    /// A failure report to the sender `to` was queued as `queueID`, about
    /// `recipients` recipients of `originalQueueID`.
    case bounceQueued(queueID: String, originalQueueID: String, to: String, recipients: Int)
    /// A success report (`NOTIFY=SUCCESS`, or relayed to a next hop without DSN) was
    /// queued, as for `bounceQueued`.
    case reportQueued(queueID: String, originalQueueID: String, to: String, recipients: Int)
    /// A queued message is broken (its file missing or not the size the queue
    /// recorded) and was moved to `folder`, out of delivery.
    case quarantined(queueID: String, reason: String, folder: String)
    /// The queue index could not be read or updated, a report could not be queued,
    /// or an administrative command failed. `queueID` when it concerns one message.
    case queueError(queueID: String?, error: String)
    /// A recipient domain publishes an MTA-STS policy (RFC 8461) that could not be
    /// fetched or read; `kept` when a cached one still applies.
    case mtaSTSFailed(domain: String, reason: String, kept: Bool)

    // MARK: TLS reports (RFC 8460)

    /// The report about the sessions of `day` (UTC, `2026-12-07`) under `domain`'s
    /// policy went to `to`, a `mailto:` or `https:` URI of the domain's `_smtp._tls`
    /// record: queued as mail `queueID`, or POSTed (`queueID` nil, written
    /// `queue_id=""`). `sessions`: successful and failed sessions it counts.
    case tlsReportSent(domain: String, day: String, to: String, queueID: String?, sessions: Int, reportID: String)
    /// A report about `domain`'s sessions of `day` was not sent to `to` (nil,
    /// written `to=""`: to none of its addresses, such as when the `_smtp._tls`
    /// lookup failed), for `reason`.
    case tlsReportFailed(domain: String, day: String, to: String?, reason: String)

    // MARK: Administration (`veil queue ...`)

    /// `veil queue flush`: `recipients` deferred recipients of the messages `ids`
    /// (empty: all, written `all`) are due now.
    case queueFlushed(ids: [String], recipients: Int)
    /// `veil queue hold`: the message is out of delivery until released.
    case queueHeld(queueID: String)
    /// `veil queue release`: the held message is back in delivery.
    case queueReleased(queueID: String)
    /// `veil queue delete`: the message is gone, without a report to the sender.
    case queueDeleted(queueID: String)
}

import Foundation
import Logging

/// What each event writes: its name, level and fields. The handler adds `ts`,
/// `level` and `event`, puts `listener`, `client` and `queue_id` first and sorts the
/// rest, so the order here does not matter.
extension VeilEvent {
    /// The `event=` value, also the log message.
    public var name: String {
        switch self {
        case .runningAsRoot: return "running_as_root"
        case .queueLoaded: return "queue_loaded"
        case .listening: return "listening"
        case .ready: return "ready"
        case .metricsListening: return "metrics_listening"
        case .reloaded: return "reloaded"
        case .reloadIncomplete: return "reload_incomplete"
        case .reloadFailed: return "reload_failed"
        case .configWarning: return "config_warning"
        case .stopping: return "stopping"
        case .stopped: return "stopped"
        case .connect: return "connect"
        case .tls: return "tls"
        case .rejected: return "rejected"
        case .connectionError: return "connection_error"
        case .starttlsFailed: return "starttls_failed"
        case .authOK: return "auth_ok"
        case .authFailed: return "auth_failed"
        case .authLockout: return "auth_lockout"
        case .accepted: return "accepted"
        case .spoolError: return "spool_error"
        case .diskSpaceLow: return "disk_space_low"
        case .diskSpaceOK: return "disk_space_ok"
        case .delivered: return "delivered"
        case .deferred: return "deferred"
        case .bounced: return "bounced"
        case .expired: return "expired"
        case .bounceQueued: return "bounce_queued"
        case .reportQueued: return "report_queued"
        case .quarantined: return "quarantined"
        case .mtaSTSFailed: return "mta_sts_failed"
        case .tlsReportSent: return "tls_report_sent"
        case .tlsReportFailed: return "tls_report_failed"
        case .queueError: return "queue_error"
        case .queueFlushed: return "queue_flushed"
        case .queueHeld: return "queue_held"
        case .queueReleased: return "queue_released"
        case .queueDeleted: return "queue_deleted"
        }
    }

    public var level: Logger.Level {
        switch self {
        case .queueLoaded, .listening, .ready, .metricsListening, .stopping, .stopped, .connect, .tls, .authOK, .accepted,
             .delivered, .tlsReportSent:
            return .info
        case .connectionError(_, let hangUp):
            return hangUp ? .debug : .notice
        case .reloaded, .rejected, .diskSpaceOK, .deferred, .bounced, .expired, .bounceQueued, .reportQueued,
             .queueFlushed, .queueHeld, .queueReleased, .queueDeleted:
            return .notice
        case .runningAsRoot, .reloadIncomplete, .configWarning, .authFailed, .authLockout, .mtaSTSFailed, .tlsReportFailed:
            return .warning
        case .reloadFailed, .starttlsFailed, .spoolError, .diskSpaceLow, .quarantined, .queueError:
            return .error
        }
    }

    /// The fields. A `Date` stays a `Date`: the handler writes it as it writes `ts`.
    public var metadata: Logger.Metadata {
        switch self {
        case .runningAsRoot(let note):
            return ["note": "\(note)"]
        case .mtaSTSFailed(let domain, let reason, let kept):
            return ["domain": "\(domain)", "reason": "\(reason)", "cached_policy": "\(kept ? "kept" : "none")"]
        case .tlsReportSent(let domain, let day, let to, let queueID, let sessions, let reportID):
            return ["domain": "\(domain)", "day": "\(day)", "to": "\(to)", "queue_id": "\(queueID ?? "")",
                    "sessions": "\(sessions)", "report_id": "\(reportID)"]
        case .tlsReportFailed(let domain, let day, let to, let reason):
            return ["domain": "\(domain)", "day": "\(day)", "to": "\(to ?? "")", "reason": "\(reason)"]
        case .queueLoaded(let spool, let queued, let removedIncomplete):
            return ["spool": "\(spool)", "queued": "\(queued)", "removed_incomplete": "\(removedIncomplete)"]
        case .listening(let listener, let address, let tls, let auth, let fromSystemd):
            return ["listener": "\(listener)", "address": "\(address)", "tls": "\(tls)", "auth": "\(auth)",
                    "socket": "\(fromSystemd ? "systemd" : "bound")"]
        case .ready, .stopped:
            return [:]
        case .metricsListening(let host, let port):
            return ["address": "\(host):\(port)"]
        case .reloaded(let config):
            return ["config": "\(config)"]
        case .reloadIncomplete(let keys):
            return ["keys": "\(keys.joined(separator: ","))", "reason": "these take effect at the next restart"]
        case .reloadFailed(let error):
            return ["error": "\(error)", "reason": "the previous configuration stays in force"]
        case .configWarning(let warning):
            return ["warning": "\(warning)"]
        case .stopping(let sessions):
            return ["sessions": "\(sessions)"]
        case .connect(let port):
            return ["port": "\(port)"]
        case .tls(let version, let cipher):
            return ["protocol": "\(version)", "cipher": "\(cipher ?? "unknown")"]
        case .rejected(let code, let reason):
            var fields: Logger.Metadata = ["reason": "\(reason)"]
            if let code { fields["code"] = "\(code)" }
            return fields
        case .connectionError(let error, _), .starttlsFailed(let error):
            return ["error": "\(error)"]
        case .authOK(let client, let listener, let user, let mechanism):
            return ["client": "\(client)", "listener": "\(listener)", "user": "\(user)", "mechanism": "\(mechanism)"]
        case .authFailed(let client, let listener, let user, let mechanism, let reason):
            return ["client": "\(client)", "listener": "\(listener)", "user": "\(user)", "mechanism": "\(mechanism)",
                    "reason": "\(reason.rawValue)"]
        case .authLockout(let client, let listener, let network):
            var fields: Logger.Metadata = ["client": "\(client)", "listener": "\(listener)"]
            if let network { fields["network"] = "\(network)" }
            return fields
        case .accepted(let queueID, let client, let listener, let from, let recipients, let size, let user, let helo,
                       let scrubbed, let mimeRewritten, let mimeSkipped, let tnefRemoved, let dkim):
            var fields: Logger.Metadata = [
                "queue_id": "\(queueID)", "client": "\(client)", "listener": "\(listener)",
                "from": "<\(from)>", "rcpt_count": "\(recipients)", "size": "\(size)",
                "user": "\(user ?? "")", "helo": "\(helo)",
                "scrubbed": "\(scrubbed)", "mime_rewritten": "\(mimeRewritten)",
                "dkim": "\(dkim.isEmpty ? "none" : dkim.joined(separator: ","))",
            ]
            if let mimeSkipped { fields["mime_skipped"] = "\(mimeSkipped)" }
            if tnefRemoved > 0 { fields["tnef_removed"] = "\(tnefRemoved)" }
            return fields
        case .spoolError(let queueID, let error), .queueError(let queueID, let error):
            var fields: Logger.Metadata = ["error": "\(error)"]
            if let queueID { fields["queue_id"] = "\(queueID)" }
            return fields
        case .diskSpaceLow(let spool, let free, let minimum), .diskSpaceOK(let spool, let free, let minimum):
            return ["spool": "\(spool)", "free": "\(free)", "min_free_space": "\(minimum)"]
        case .delivered(let attempt), .bounced(let attempt), .expired(let attempt):
            return attempt.metadata
        case .deferred(let attempt, let nextAttempt):
            var fields = attempt.metadata
            fields["next_attempt"] = .stringConvertible(nextAttempt)
            return fields
        case .bounceQueued(let queueID, let originalQueueID, let to, let recipients),
             .reportQueued(let queueID, let originalQueueID, let to, let recipients):
            return ["queue_id": "\(queueID)", "original_queue_id": "\(originalQueueID)", "to": "<\(to)>",
                    "recipients": "\(recipients)"]
        case .quarantined(let queueID, let reason, let folder):
            return ["queue_id": "\(queueID)", "reason": "\(reason)", "folder": "\(folder)"]
        case .queueFlushed(let ids, let recipients):
            return ["ids": "\(ids.isEmpty ? "all" : ids.joined(separator: ","))", "recipients": "\(recipients)"]
        case .queueHeld(let queueID), .queueReleased(let queueID), .queueDeleted(let queueID):
            return ["queue_id": "\(queueID)"]
        }
    }
}

extension VeilEvent.DeliveryAttempt {
    var metadata: Logger.Metadata {
        var fields: Logger.Metadata = [
            "queue_id": "\(queueID)", "to": "<\(recipient)>", "relay": "\(relay)", "tls": "\(tls ?? "none")",
            "attempt": "\(attempt)", "delay": "\(String(format: "%.1f", delay))s", "reply": "\(reply)"]
        if let tlsPolicy { fields["tls_policy"] = "\(tlsPolicy)" }
        return fields
    }
}

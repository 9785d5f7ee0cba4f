import Foundation
import GRDB

/// The queue index's tables for outbound TLS (migration v3): MTA-STS policies as
/// fetched, and the day's TLS session results for the reports.
extension QueueIndex {
    func mtaSTSPolicy(domain: String) throws -> CachedMTASTSPolicy? {
        try database.read { db in
            try Row.fetchOne(db, sql: "SELECT record_id, policy, fetched_at, expires_at FROM mta_sts_policies WHERE domain = ?",
                             arguments: [domain]).flatMap { row in
                guard let fetched = Timestamp.parse(row[2]), let expires = Timestamp.parse(row[3]) else { return nil }
                return CachedMTASTSPolicy(recordID: row[0], policy: row[1], fetchedAt: fetched, expiresAt: expires)
            }
        }
    }

    /// Saves a policy fetched, and forgets those expired (domains no longer mailed).
    func save(_ policy: CachedMTASTSPolicy, domain: String) throws {
        try database.write { db in
            try db.execute(sql: "DELETE FROM mta_sts_policies WHERE expires_at < ?",
                           arguments: [Timestamp.format(policy.fetchedAt)])
            try db.execute(sql: """
                INSERT INTO mta_sts_policies (domain, record_id, policy, fetched_at, expires_at) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (domain) DO UPDATE SET record_id = excluded.record_id, policy = excluded.policy,
                    fetched_at = excluded.fetched_at, expires_at = excluded.expires_at
                """, arguments: [domain, policy.recordID, policy.policy, Timestamp.format(policy.fetchedAt),
                                 Timestamp.format(policy.expiresAt)])
        }
    }

    /// Adds one to each session's count for its day.
    func countTLSSessions(_ sessions: [(day: String, session: String)]) throws {
        try database.write { db in
            for (day, session) in sessions {
                try db.cachedStatement(sql: """
                    INSERT INTO tls_results (day, session, count) VALUES (?, ?, 1)
                    ON CONFLICT (day, session) DO UPDATE SET count = count + 1
                    """).execute(arguments: [day, session])
            }
        }
    }

    func tlsSessions(before day: String) throws -> [TLSSessionCount] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT day, session, count FROM tls_results WHERE day < ? ORDER BY day",
                             arguments: [day]).map { TLSSessionCount(day: $0[0], session: $0[1], count: $0[2]) }
        }
    }

    func uncountTLSSessions(_ counts: [TLSSessionCount]) throws {
        try database.write { db in
            for count in counts {
                try db.cachedStatement(sql: "UPDATE tls_results SET count = count - ? WHERE day = ? AND session = ?")
                    .execute(arguments: [count.count, count.day, count.session])
            }
            try db.execute(sql: "DELETE FROM tls_results WHERE count <= 0")
        }
    }

    func deleteTLSSessions(day: String) throws {
        try database.write { db in
            try db.execute(sql: "DELETE FROM tls_results WHERE day = ?", arguments: [day])
        }
    }
}

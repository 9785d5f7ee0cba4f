import Foundation
import SMTPCore

/// What the queue keeps about one accepted message besides its text.
public struct QueuedMessage: Sendable, Equatable {
    public var id: String
    public var envelope: Envelope
    public var size: Int
    /// When the 250 went out.
    public var receivedAt: Date
    /// The client's IP address (after PROXY protocol, when used).
    public var clientAddress: String
    public var listener: String

    public init(id: String, envelope: Envelope, size: Int, receivedAt: Date, clientAddress: String, listener: String) {
        self.id = id
        self.envelope = envelope
        self.size = size
        self.receivedAt = receivedAt
        self.clientAddress = clientAddress
        self.listener = listener
    }
}

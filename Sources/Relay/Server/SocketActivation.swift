import CSystemd
import Foundation
import NIOCore

/// Listening sockets handed over by systemd (veil.socket; sd_listen_fds(3)): each
/// is matched to the `[[listener]]` with the same address.
struct SocketActivation {
    struct Socket {
        var descriptor: CInt
        var address: SocketAddress
    }

    private(set) var sockets: [Socket]

    /// Takes the sockets passed with LISTEN_FDS/LISTEN_PID (none when started
    /// otherwise) and clears those variables, so no child process inherits them.
    static func inherited() -> SocketActivation {
        let count = sd_listen_fds(1)
        guard count > 0 else { return SocketActivation(sockets: []) }
        var sockets: [Socket] = []
        for descriptor in SD_LISTEN_FDS_START..<(SD_LISTEN_FDS_START + count) {
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let named = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
            }
            guard named == 0, let address = Self.address(storage) else { continue }
            _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
            sockets.append(Socket(descriptor: descriptor, address: address))
        }
        return SocketActivation(sockets: sockets)
    }

    /// Removes and returns the socket bound to `host:port`, if systemd passed one.
    mutating func take(host: String, port: Int) -> CInt? {
        guard let wanted = try? SocketAddress(ipAddress: host, port: port),
              let index = sockets.firstIndex(where: { $0.address.ipAddress == wanted.ipAddress && $0.address.port == port })
        else { return nil }
        return sockets.remove(at: index).descriptor
    }

    private static func address(_ storage: sockaddr_storage) -> SocketAddress? {
        var storage = storage
        switch Int32(storage.ss_family) {
        case AF_INET:
            return withUnsafeBytes(of: &storage) { SocketAddress($0.load(as: sockaddr_in.self), host: "") }
        case AF_INET6:
            return withUnsafeBytes(of: &storage) { SocketAddress($0.load(as: sockaddr_in6.self), host: "") }
        default:
            return nil
        }
    }
}

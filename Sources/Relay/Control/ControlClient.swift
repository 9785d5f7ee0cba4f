import Foundation

/// `veil queue`'s side of the control socket: sends one request, waits for the
/// answer. Blocking; for the command line.
public enum ControlClient {
    public enum Failure: Error, CustomStringConvertible {
        /// Nothing listens on the socket: the daemon is not running.
        case notRunning(String)
        case failed(String)

        public var description: String {
            switch self {
            case .notRunning(let path):
                return "veil is not running (nothing listens on \(path)); start it to change the queue (list and show work without it)"
            case .failed(let reason): return reason
            }
        }
    }

    public static func send(_ request: ControlRequest, to path: String) throws(Failure) -> ControlResponse {
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw .failed("socket: \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(path.utf8)
        guard pathBytes.count < MemoryLayout.size(ofValue: address.sun_path) else { throw .failed("\(path): path too long") }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: pathBytes)
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard connected == 0 else {
            if errno == ENOENT || errno == ECONNREFUSED { throw .notRunning(path) }
            throw .failed("\(path): \(String(cString: strerror(errno)))")
        }
        guard var data = try? JSONEncoder().encode(request) else { throw .failed("cannot encode the request") }
        data.append(UInt8(ascii: "\n"))
        let written = data.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        guard written == data.count else { throw .failed("\(path): \(String(cString: strerror(errno)))") }
        var answer = Data()
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            answer.append(contentsOf: chunk[..<count])
        }
        guard let response = try? JSONDecoder().decode(ControlResponse.self, from: answer) else {
            throw .failed("the daemon gave no answer on \(path)")
        }
        return response
    }
}

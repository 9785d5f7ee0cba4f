import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL

/// HTTPS requests (AsyncHTTPClient) to a host at an address Veil found itself:
/// through its own resolver and past its internal-network rule, never
/// getaddrinfo. The certificate must chain to a trusted root (the system's, plus
/// `tls_ca_file`) and name the host (RFC 6125); redirects are never followed;
/// responses are bounded in size and time. For MTA-STS policies (RFC 8461 §3.3)
/// and TLS reports sent over HTTPS (RFC 8460 §5.4).
public struct HTTPSFetcher: Sendable {
    public struct Response: Sendable {
        public var status: Int
        /// The media type without parameters, lower case (`text/plain`).
        public var mediaType: String?
        public var body: [UInt8]
    }

    /// Why a request got no response, as people read it.
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
        /// The TLS handshake failed (the certificate, above all).
        public var tls = false
    }

    private let group: any EventLoopGroup
    private let tls: TLSConfiguration
    /// Time to connect, and the longest pause while reading.
    public var connectTimeout = TimeAmount.seconds(10)
    public var readTimeout = TimeAmount.seconds(20)

    public init(group: any EventLoopGroup, caFile: String?) {
        self.group = group
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        tls.certificateVerification = .fullVerification
        tls.trustRoots = .default
        tls.additionalTrustRoots = caFile.map { [.file($0)] } ?? []
        self.tls = tls
    }

    /// One request to `https://host/path`, connecting to `address`. At most `limit`
    /// bytes of body are read, and the whole exchange takes at most `timeout`.
    public func request(_ method: HTTPMethod = .GET, host: String, path: String, address: String,
                        body: [UInt8]? = nil, contentType: String? = nil,
                        limit: Int, timeout: TimeAmount) async throws(Failure) -> Response {
        var configuration = HTTPClient.Configuration(
            tlsConfiguration: tls, redirectConfiguration: .disallow,
            timeout: .init(connect: connectTimeout, read: readTimeout), decompression: .disabled)
        // The name stays the URL's (SNI, Host, the certificate check); only the
        // address connected to is Veil's.
        configuration.dnsOverride = [host: address]
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 1
        let client = HTTPClient(eventLoopGroup: group, configuration: configuration)
        defer { client.shutdown { _ in } }

        var request = HTTPClientRequest(url: "https://\(host)\(path)")
        request.method = method
        if let body {
            request.body = .bytes(body)
            if let contentType { request.headers.add(name: "Content-Type", value: contentType) }
        }
        let deadline = NIODeadline.now() + timeout
        let exchange = { @Sendable [request] () async throws -> Response in
            let response = try await client.execute(request, deadline: deadline)
            let mediaType = response.headers.first(name: "Content-Type").map { Self.mediaType(of: $0) }
            let collected = try await response.body.collect(upTo: limit)
            return Response(status: Int(response.status.code), mediaType: mediaType, body: Array(buffer: collected))
        }
        do {
            // The deadline covers the response head only: the body, trickled, must
            // not take longer than the whole.
            return try await withThrowingTaskGroup(of: Response?.self) { group in
                group.addTask { try await exchange() }
                group.addTask {
                    try await Task.sleep(nanoseconds: UInt64(max(0, timeout.nanoseconds)))
                    return nil
                }
                defer { group.cancelAll() }
                guard let first = try await group.next(), let response = first else { throw HTTPClientError.deadlineExceeded }
                return response
            }
        } catch is NIOTooManyBytesError {
            throw Failure(description: "the response is larger than \(limit / 1024) KB")
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout {
            throw Failure(description: "no complete response within the time allowed")
        } catch let error as HTTPClientError where error == .connectTimeout {
            throw Failure(description: "connecting to \(address) timed out")
        } catch let error as NIOSSLError {
            throw Failure(description: "TLS: \(error)", tls: true)
        } catch {
            throw Failure(description: "\(error)")
        }
    }

    /// `text/plain` of `Text/Plain; charset=utf-8` (RFC 9110 §8.3.1); empty for an
    /// empty or odd header.
    static func mediaType(of contentType: String) -> String {
        let type = contentType.firstIndex(of: ";").map { contentType[..<$0] } ?? Substring(contentType)
        return type.trimmingCharacters(in: .whitespaces).lowercased()
    }
}

import Testing
@testable import Delivery

/// The media type of a policy host's answer (RFC 8461 §3.3 wants text/plain), from
/// whatever Content-Type it sends.
@Suite struct HTTPSFetcherTests {
    @Test func theMediaTypeIsReadFromAnyContentType() {
        #expect(HTTPSFetcher.mediaType(of: "Text/Plain; charset=utf-8") == "text/plain")
        #expect(HTTPSFetcher.mediaType(of: " text/plain ") == "text/plain")
        #expect(HTTPSFetcher.mediaType(of: "") == "")
        #expect(HTTPSFetcher.mediaType(of: ";") == "")
        #expect(HTTPSFetcher.mediaType(of: ";;text/plain") == "")
    }
}

import Testing
@testable import SMTPCore

@Suite struct SASLTests {
    func base64(_ text: String) -> String { Base64.encode(Array(text.utf8)) }

    @Test func plainVectors() {
        #expect(SASL.decodePlain(base64("\0u\0p")) == Credentials(username: "u", password: "p"))
        #expect(SASL.decodePlain(base64("u\0u\0p")) == Credentials(username: "u", password: "p"))
        #expect(SASL.decodePlain(base64("a\0b\0p")) == nil)
        #expect(SASL.decodePlain(base64("\0\0p")) == nil)
        #expect(SASL.decodePlain(base64("\0u\0")) == nil)
        #expect(SASL.decodePlain(base64("u\0p")) == nil)
        #expect(SASL.decodePlain("not base64!") == nil)
        #expect(SASL.decodePlain("AHUAcA=") == nil)
    }

    @Test func loginFields() {
        #expect(SASL.decodeLoginField("ZGVtbw==") == "demo")
        #expect(SASL.decodeLoginField("ZGVtbw") == "demo")
        #expect(SASL.decodeLoginField("") == nil)
        #expect(SASL.decodeLoginField("ZG*tbw==") == nil)
        #expect(SASL.loginUsernamePrompt == "VXNlcm5hbWU6")
        #expect(SASL.loginPasswordPrompt == "UGFzc3dvcmQ6")
    }

    @Test func base64RoundTrip() {
        for length in 0..<20 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            #expect(Base64.decode(Base64.encode(bytes)) == bytes)
        }
    }
}

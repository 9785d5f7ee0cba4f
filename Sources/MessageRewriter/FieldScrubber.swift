import NIOCore

/// Writes the fields of one header block scrubbed: the message's own block, an
/// embedded message's block, or a MIME part's block (RFC 2045 §3).
///
/// Fields matched by the rules are dropped, message ids are mapped, every
/// `boundary` parameter of a Content-Type field is replaced; everything else keeps
/// its bytes. Remembers the first Content-Type and Content-Transfer-Encoding, which
/// say what the body holds.
struct FieldScrubber {
    enum Scope {
        /// A message's header block (the message itself or an embedded one): the
        /// removal rules and the id mapping apply.
        case message(MessageIDMapping?)
        /// A MIME part's own header block: only boundaries change.
        case part
    }

    let configuration: ScrubConfiguration
    let scope: Scope
    /// Fields removed or with ids mapped.
    private(set) var changedFields = 0
    /// `boundary` parameters replaced.
    private(set) var replacedBoundaries = 0
    private(set) var contentType: ContentTypeField?
    private(set) var transferEncoding: ArraySlice<UInt8>?

    init(configuration: ScrubConfiguration, scope: Scope) {
        self.configuration = configuration
        self.scope = scope
    }

    mutating func write(_ field: HeaderField, into output: inout ByteBuffer) {
        let name = field.lowercasedName
        if case .message(let mapping) = scope {
            if configuration.rules.shouldRemove(name) && !isOwnTrace(field) {
                changedFields += 1
                return
            }
            if let mapping, let kind = MessageIDMapping.kind(ofLowercasedName: name) {
                if let rewritten = mapping.rewrite(field.bytes, kind: kind) {
                    changedFields += 1
                    output.writeBytes(rewritten)
                } else {
                    output.writeBytes(field.bytes)
                }
                return
            }
        }
        if name.elementsEqual(Self.contentTypeName) {
            let parsed = ContentTypeField(field: field.bytes)
            if contentType == nil { contentType = parsed }
            if !parsed.boundaryRanges.isEmpty {
                replacedBoundaries += parsed.boundaryRanges.count
                let key = configuration.hmacKey
                output.writeBytes(ContentTypeField.replacingBoundaries(in: field.bytes, ranges: parsed.boundaryRanges) {
                    Boundary.replacement(for: $0, key: key)
                })
                return
            }
        } else if transferEncoding == nil && name.elementsEqual(Self.transferEncodingName) {
            transferEncoding = field.bytes
        }
        output.writeBytes(field.bytes)
    }

    /// A trace field Veil itself added on an earlier pass. It is kept, so that a
    /// message looping through Veil gains a hop each time and the hop limit stops
    /// the loop; it names nothing but Veil's own host.
    private func isOwnTrace(_ field: HeaderField) -> Bool {
        let prefix = configuration.ownTracePrefix
        return field.bytes.count > prefix.count
            && zip(field.bytes, prefix).allSatisfy { ($0 >= 65 && $0 <= 90 ? $0 | 0x20 : $0) == $1 }
    }

    private static let contentTypeName = Array("content-type".utf8)
    private static let transferEncodingName = Array("content-transfer-encoding".utf8)
}

import NIOCore

/// Writes the fields of one header block scrubbed: the message's own block, an
/// embedded message's block, or a MIME part's block (RFC 2045 §3).
///
/// Fields the rules do not let out are dropped (in every kind of block), message
/// ids are mapped (in a message's block), every `boundary` parameter of a
/// Content-Type field is replaced; everything else keeps its bytes. Remembers what
/// the kept fields say about the body (``EntityHeader``).
struct FieldScrubber {
    enum Scope {
        /// A message's header block (the message itself or an embedded one): the
        /// removal rules and the id mapping apply.
        case message(MessageIDMapping?)
        /// A MIME part's own header block: no id mapping.
        case part

        /// The scope of a message's header block: its own Message-ID (if any)
        /// decides which ids are the organization's; no mapping when the
        /// configuration keeps ids.
        static func message(of fields: [HeaderField], configuration: ScrubConfiguration) -> Scope {
            let ownID = fields.first { $0.lowercasedName.elementsEqual(messageIDName) }
            return message(ownMessageID: ownID?.bytes, configuration: configuration)
        }

        /// The same, with the block's Message-ID field already found.
        static func message(ownMessageID: ArraySlice<UInt8>?, configuration: ScrubConfiguration) -> Scope {
            guard configuration.rewriteMessageIDs else { return .message(nil) }
            return .message(MessageIDMapping(key: configuration.hmacKey, hostname: configuration.hostname,
                                             ownMessageID: ownMessageID))
        }

        static let messageIDName = Array("message-id".utf8)
    }

    let configuration: ScrubConfiguration
    let scope: Scope
    /// Fields removed or with ids mapped.
    private(set) var changedFields = 0
    /// `boundary` parameters replaced.
    private(set) var replacedBoundaries = 0
    private(set) var entity = EntityHeader()

    init(configuration: ScrubConfiguration, scope: Scope) {
        self.configuration = configuration
        self.scope = scope
    }

    mutating func write(_ field: HeaderField, into output: inout ByteBuffer) {
        let name = field.lowercasedName
        if configuration.rules.shouldRemove(name) && !isOwnTrace(field) {
            changedFields += 1
            return
        }
        let field = field.withoutSpaceBeforeColon()
        if case .message(let mapping?) = scope, let kind = MessageIDMapping.kind(ofLowercasedName: name) {
            if let rewritten = mapping.rewrite(field.bytes, kind: kind) {
                changedFields += 1
                output.writeBytes(rewritten)
            } else {
                output.writeBytes(field.bytes)
            }
            return
        }
        if name.elementsEqual(Self.contentTypeName) {
            let parsed = ContentTypeField(field: field.bytes)
            if entity.contentType == nil {
                entity.contentType = parsed
                if let name = parsed.name { entity.fileNames.append(name) }
            }
            if !parsed.boundaryParameters.isEmpty {
                replacedBoundaries += parsed.boundaryParameters.count
                output.writeBytes(parsed.replacingBoundaries(in: field.bytes, key: configuration.hmacKey))
                return
            }
        } else if name.elementsEqual(Self.transferEncodingName) {
            if entity.transferEncoding == nil { entity.transferEncoding = field.bytes }
        } else if name.elementsEqual(Self.dispositionName) {
            if let fileName = ContentTypeField.parameter(Self.fileNameName, in: field.bytes) { entity.fileNames.append(fileName) }
        }
        output.writeBytes(field.bytes)
    }

    /// A trace field Veil itself added on an earlier pass. It is kept, so that a
    /// message looping through Veil gains a hop each time and the hop limit stops
    /// the loop; it names nothing but Veil's own host.
    private func isOwnTrace(_ field: HeaderField) -> Bool {
        field.lowercasedName.elementsEqual(Self.receivedName) && OwnTraceField.matches(field.bytes, prefix: configuration.ownTracePrefix)
    }

    private static let receivedName = Array("received".utf8)
    private static let contentTypeName = Array("content-type".utf8)
    private static let transferEncodingName = Array("content-transfer-encoding".utf8)
    private static let dispositionName = Array("content-disposition".utf8)
    private static let fileNameName = Array("filename".utf8)
}

/// What a header block says about the body that follows it (RFC 2045, RFC 2183):
/// its media type, its transfer encoding, its file names.
struct EntityHeader {
    /// The first Content-Type field; nil: none (text/plain, RFC 2045 §5.2).
    var contentType: ContentTypeField?
    /// The first Content-Transfer-Encoding field, as it stood.
    var transferEncoding: ArraySlice<UInt8>?
    /// The Content-Type `name` and Content-Disposition `filename` parameters.
    var fileNames: [[UInt8]] = []
    /// The block ended with its empty line (not at a line that was no field line).
    var endsWithEmptyLine = true

    var encoding: TransferEncoding { TransferEncoding(field: transferEncoding) }
}
